// The raters table sorts by the column whose heading is clicked (again: the other way).
// Cells carry their sort value in data-value; empty values sort last either way.
(function () {
  "use strict";
  var table = document.getElementById("raters");
  if (!table) return;
  var heads = table.querySelectorAll("thead th");
  var body = table.tBodies[0];

  function value(row, column, numeric) {
    var raw = row.cells[column] ? row.cells[column].dataset.value : "";
    if (raw === undefined || raw === "") return null;
    return numeric ? parseFloat(raw) : raw.toLowerCase();
  }

  function sortBy(column, numeric, descending) {
    var rows = Array.prototype.slice.call(body.rows);
    if (rows.length < 2) return;
    rows.sort(function (a, b) {
      var x = value(a, column, numeric);
      var y = value(b, column, numeric);
      if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
      var order = x < y ? -1 : x > y ? 1 : 0;
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  Array.prototype.forEach.call(heads, function (th, column) {
    var button = th.querySelector("button.sort");
    if (!button) return;
    var numeric = button.dataset.type !== "text";
    button.addEventListener("click", function () {
      var descending = th.getAttribute("aria-sort") === "ascending";
      Array.prototype.forEach.call(heads, function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      sortBy(column, numeric, descending);
    });
  });
})();
