// Sortable and paginated tables of the results page, in plain JavaScript.
//
// A table with class "sortable" sorts by the column whose heading button is pressed (a button:
// Tab reaches it, Enter or Space presses it); the heading carries aria-sort and a live region
// says what happened. Numbers sort from data-value (empty values last either way), text by
// its content; the first press sorts numbers high to low and text A to Z, the next reverses.
// A table with data-page-size shows that many rows at a time, with Previous and Next under
// it; sorting goes back to the first page. Without this script every row is shown.
(function () {
  "use strict";

  function cellKey(row, column, numeric) {
    var cell = row.cells[column];
    if (!cell) return null;
    var raw = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent.trim();
    if (raw === "") return null;
    if (!numeric) return raw.toLowerCase();
    var value = parseFloat(raw);
    return isNaN(value) ? null : value;
  }

  function announce(table, text) {
    var live = table.parentNode.querySelector(".sort-status[data-for='" + table.id + "']");
    if (!live) {
      live = document.createElement("p");
      live.className = "sort-status visually-hidden";
      live.setAttribute("aria-live", "polite");
      live.setAttribute("data-for", table.id || "");
      table.parentNode.insertBefore(live, table.nextSibling);
    }
    live.textContent = text;
  }

  function paginate(table, page) {
    var size = parseInt(table.getAttribute("data-page-size"), 10);
    if (!size) return;
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var pages = Math.max(1, Math.ceil(rows.length / size));
    page = Math.min(Math.max(page, 1), pages);
    table.setAttribute("data-page", String(page));
    rows.forEach(function (row, i) { row.hidden = i < (page - 1) * size || i >= page * size; });
    var pager = table.pager;
    if (!pager) return;
    var first = rows.length ? (page - 1) * size + 1 : 0;
    var last = Math.min(page * size, rows.length);
    pager.status.textContent = "Rows " + first + "–" + last + " of " + rows.length + " (page " + page + " of " + pages + ")";
    pager.previous.disabled = page <= 1;
    pager.next.disabled = page >= pages;
    pager.nav.hidden = pages <= 1;
  }

  function addPager(table) {
    var nav = document.createElement("nav");
    nav.className = "pager";
    nav.setAttribute("aria-label", (table.getAttribute("aria-label") || "Table") + " pages");
    var previous = document.createElement("button");
    previous.type = "button";
    previous.className = "pager-previous";
    previous.textContent = "← Previous";
    var status = document.createElement("span");
    status.className = "pager-status";
    status.setAttribute("aria-live", "polite");
    var next = document.createElement("button");
    next.type = "button";
    next.className = "pager-next";
    next.textContent = "Next →";
    nav.appendChild(previous);
    nav.appendChild(status);
    nav.appendChild(next);
    var holder = table.parentNode.classList.contains("table-scroll") ? table.parentNode : table;
    holder.parentNode.insertBefore(nav, holder.nextSibling);
    table.pager = { nav: nav, previous: previous, next: next, status: status };
    function current() { return parseInt(table.getAttribute("data-page"), 10) || 1; }
    previous.addEventListener("click", function () { paginate(table, current() - 1); });
    next.addEventListener("click", function () { paginate(table, current() + 1); });
  }

  function sortBy(table, column, numeric, descending) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    if (rows.length < 2) return;
    var keyed = rows.map(function (row, i) { return { row: row, key: cellKey(row, column, numeric), i: i }; });
    keyed.sort(function (a, b) {
      if (a.key === null || b.key === null) {
        if (a.key === b.key) return a.i - b.i;
        return a.key === null ? 1 : -1;
      }
      var order = a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
      if (descending) order = -order;
      return order || a.i - b.i;
    });
    keyed.forEach(function (k) { body.appendChild(k.row); });
  }

  function enhanceTable(table) {
    if (table.getAttribute("data-enhanced")) return;
    table.setAttribute("data-enhanced", "1");
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th, column) {
      var button = th.querySelector("button.sort");
      if (!button) return;
      var numeric = button.getAttribute("data-type") !== "text";
      button.addEventListener("click", function () {
        var state = th.getAttribute("aria-sort");
        var descending = state ? state === "ascending" : numeric;
        Array.prototype.forEach.call(heads, function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        sortBy(table, column, numeric, descending);
        paginate(table, 1);
        announce(table, "Sorted by " + button.textContent.trim() + ", " + (descending ? "descending" : "ascending") + ".");
      });
    });
    if (table.hasAttribute("data-page-size")) {
      addPager(table);
      paginate(table, 1);
    }
  }

  function enhance(root) {
    var tables = (root || document).querySelectorAll("table.sortable, table[data-page-size]");
    Array.prototype.forEach.call(tables, enhanceTable);
  }

  window.ResultsTables = { enhance: enhance };
  enhance(document);
})();
