/* Texts with placeholders: the named buttons under a text insert its placeholder at the cursor
   ("Member's first name" inserts {name}), and the example under it follows what is typed, filled
   with the same sample values the length counter uses (segments.js: checkinRender). */
(function () {
  "use strict";

  function samplesFor(field) {
    var holder = field.closest("[data-samples]");
    return holder ? JSON.parse(holder.getAttribute("data-samples")) : null;
  }

  function follow(field) {
    var out = document.getElementById(field.getAttribute("data-example"));
    if (!out || !window.checkinRender) { return; }
    var samples = samplesFor(field);
    var allowed = field.hasAttribute("data-allowed") ? field.getAttribute("data-allowed").split(" ") : null;
    function update() { out.textContent = window.checkinRender(field.value.trim(), samples, allowed); }
    field.addEventListener("input", update);
    update();
  }

  function insert(button) {
    var field = document.getElementById(button.getAttribute("data-target"));
    if (!field || field.disabled) { return; }
    var text = button.getAttribute("data-insert");
    var start = field.selectionStart, end = field.selectionEnd;
    if (typeof start !== "number") { start = end = field.value.length; }
    field.value = field.value.slice(0, start) + text + field.value.slice(end);
    field.focus();
    field.setSelectionRange(start + text.length, start + text.length);
    field.dispatchEvent(new Event("input", { bubbles: true }));  // the counter and the example follow
  }

  document.addEventListener("DOMContentLoaded", function () {
    var fields = document.querySelectorAll("textarea[data-example]");
    for (var i = 0; i < fields.length; i++) { follow(fields[i]); }
    document.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-insert]");
      if (button) { event.preventDefault(); insert(button); }
    });
  });
})();
