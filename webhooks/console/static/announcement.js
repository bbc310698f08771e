/* The announcement's progress bar: polls its counts every two seconds until every send is done
   (sent, failed or not sent), then once more a minute later for delivery reports. */
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
        window.setTimeout(poll, p && p.percent >= 100 ? 60000 : 2000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
