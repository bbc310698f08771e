/* The announcement's progress bar: polls its counts every two seconds while sends are going out or
   their delivery reports are still coming in, then every half minute (a member's morning may be hours away). */
(function () {
  "use strict";
  var box = document.getElementById("announcement-progress");
  if (!box) { return; }
  var url = box.getAttribute("data-url");
  var fields = ["total", "waiting", "sent", "delivered", "failed", "cancelled"];

  function show(p) {
    var bar = document.getElementById("announce-bar");
    bar.max = p.total || 1;
    bar.value = p.total ? p.done : 1;
    bar.textContent = p.percent + "%";
    document.getElementById("announce-percent").textContent = p.percent + "%";
    fields.forEach(function (name) { document.getElementById("announce-" + name).textContent = p[name]; });
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (p) { show(p); }
        var reporting = p && p.delivered + p.failed < p.sent + p.failed;  // sent, not yet reported
        window.setTimeout(poll, !p || p.percent < 100 ? 2000 : reporting ? 5000 : 30000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
