// Live results: ask every so often whether new judgments arrived; reload when the researcher
// has chosen automatic updates, otherwise say that newer results are available.
(function () {
  "use strict";
  var root = document.getElementById("results");
  if (!root) return;
  var version = root.dataset.version;
  var url = root.dataset.versionUrl;
  var seconds = parseInt(root.dataset.refreshSeconds, 10) || 30;
  var toggle = document.getElementById("auto-refresh");
  var notice = document.getElementById("results-stale");
  var KEY = "results-auto-refresh";
  if (toggle) {
    toggle.checked = window.localStorage.getItem(KEY) === "1";
    toggle.addEventListener("change", function () {
      window.localStorage.setItem(KEY, toggle.checked ? "1" : "0");
    });
  }
  function check() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || data.version === version) return;
        if (toggle && toggle.checked) {
          window.location.reload();
        } else if (notice) {
          notice.hidden = false;
        }
      })
      .catch(function () { /* offline for a moment: try again next time */ });
  }
  window.setInterval(check, seconds * 1000);
})();
