/* Live console pages by short polling (works behind any WSGI server, waitress included): every few
   seconds ask /console/live for the unread count and the cases nobody has taken (navigation badges,
   page title) and a digest of what
   the page shows; when the digest changes, fetch this page again and swap in its [data-live] parts
   (by id), leaving forms being typed in alone. */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="checkin-live"]');
  if (!meta || !window.fetch) { return; }
  var url = meta.getAttribute("content");
  var stamp = meta.getAttribute("data-stamp");
  var INTERVAL = 3000;
  var title = meta.getAttribute("data-title") || document.title;

  function showCount(id, n) {
    var badge = document.getElementById(id);
    if (badge) {
      badge.querySelector(".n").textContent = String(n);
      badge.hidden = !n;
    }
  }

  function show(data) {
    // Cases nobody has taken come first in the tab title ("1 crisis waiting · ..."), then unread texts.
    document.title = (data.alarm ? data.alarm + " · " : "") + (data.unread ? "(" + data.unread + ") " : "") + title;
    showCount("inbox-unread", data.unread);
    showCount("escalations-waiting", data.waiting || 0);
  }

  function refresh() {
    return fetch(window.location.href, { credentials: "same-origin", headers: { "X-Live": "1" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var parts = document.querySelectorAll("[data-live]");
        for (var i = 0; i < parts.length; i++) {
          var next = fresh.getElementById(parts[i].id);
          if (next) { parts[i].replaceWith(document.importNode(next, true)); }
        }
      });
  }

  function tick() {
    if (document.hidden) {  // a tab in the background asks nothing; it catches up when shown
      window.setTimeout(tick, INTERVAL);
      return;
    }
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        show(data);
        if (data.stamp !== stamp) {
          stamp = data.stamp;
          return refresh();
        }
      })
      .catch(function () { /* offline a moment: the next tick tries again */ })
      .then(function () { window.setTimeout(tick, INTERVAL); });
  }
  window.setTimeout(tick, INTERVAL);
})();
