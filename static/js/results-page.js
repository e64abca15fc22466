// The results page after first paint: fill in the heavy sections (each asks the server for its
// fragment, with the page's options), and mark in the table of contents the section in view.
(function () {
  "use strict";
  var root = document.getElementById("results");
  if (!root) return;
  var version = root.getAttribute("data-version");

  function fill(holder) {
    var url = holder.getAttribute("data-fragment-url");
    holder.setAttribute("aria-busy", "true");
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        // The server's own escaped markup: model names in it are text, and the page's
        // Content-Security-Policy runs no script that markup could carry.
        holder.innerHTML = html;
        holder.removeAttribute("aria-busy");
        holder.classList.add("filled");
        var body = holder.querySelector(".fragment-body");
        if (body && body.getAttribute("data-version") !== version) {
          var notice = document.getElementById("results-stale");
          if (notice) notice.hidden = false;
        }
        if (window.ResultsTables) window.ResultsTables.enhance(holder);
      })
      .catch(function () {
        holder.removeAttribute("aria-busy");
        holder.textContent = "";
        var message = document.createElement("p");
        message.className = "error";
        message.textContent = "This section could not be loaded. ";
        var retry = document.createElement("button");
        retry.type = "button";
        retry.textContent = "Try again";
        retry.addEventListener("click", function () { fill(holder); });
        message.appendChild(retry);
        holder.appendChild(message);
      });
  }

  Array.prototype.forEach.call(document.querySelectorAll(".fragment[data-fragment-url]"), fill);

  // Win-matrix cells carry only their counts; the tooltip names both models when pointed at
  // (written on demand: 3,000 cells of names would triple the section's size).
  root.addEventListener("mouseover", function (event) {
    var cell = event.target.closest ? event.target.closest("td[data-wtl]") : null;
    if (!cell || cell.title) return;
    var table = cell.closest("table");
    var row = cell.parentNode;
    var model = row.cells[0].textContent.trim();
    var opponent = table.tHead.rows[0].cells[cell.cellIndex].textContent.trim();
    var wtl = cell.getAttribute("data-wtl").split("-").map(Number);
    var games = wtl[0] + wtl[1] + wtl[2];
    var rate = games ? Math.round((1000 * (wtl[0] + wtl[1] / 2)) / games) / 10 : 0;
    cell.title = model + " against " + opponent + ": " + games + " games, " + wtl[0] + " won / " +
      wtl[1] + " tied / " + wtl[2] + " lost, win rate " + rate + "%";
  });

  // The table of contents: aria-current on the link of the topmost section in view.
  var links = {};
  Array.prototype.forEach.call(root.querySelectorAll(".results-toc a[href^='#']"), function (a) {
    links[a.getAttribute("href").slice(1)] = a;
  });
  var sections = Array.prototype.filter.call(root.querySelectorAll("section[id]"), function (s) {
    return links[s.id];
  });
  if (!("IntersectionObserver" in window) || !sections.length) return;
  var visible = {};
  function mark() {
    var current = null;
    sections.forEach(function (s) { if (!current && visible[s.id]) current = s.id; });
    if (!current) return;
    Object.keys(links).forEach(function (id) {
      if (id === current) links[id].setAttribute("aria-current", "true");
      else links[id].removeAttribute("aria-current");
    });
  }
  var observer = new IntersectionObserver(function (entries) {
    entries.forEach(function (e) { visible[e.target.id] = e.isIntersecting; });
    mark();
  }, { rootMargin: "0px 0px -55% 0px" });
  sections.forEach(function (s) { observer.observe(s); });
})();
