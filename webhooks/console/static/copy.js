/* A button with data-copy="ID" copies the text of element ID (one line per list item) to the clipboard
   and says so beside it. The button stays hidden where the page has no script or no clipboard. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    if (!navigator.clipboard) { return; }
    var buttons = document.querySelectorAll("button[data-copy]");
    for (var i = 0; i < buttons.length; i++) {
      var button = buttons[i];
      button.hidden = false;
      button.addEventListener("click", function () {
        var source = document.getElementById(this.getAttribute("data-copy"));
        var said = document.getElementById(this.getAttribute("data-copy") + "-copied");
        var items = source.querySelectorAll("li");
        var lines = [];
        for (var j = 0; j < items.length; j++) { lines.push(items[j].textContent.trim()); }
        var text = items.length ? lines.join("\n") : source.textContent.trim();
        navigator.clipboard.writeText(text).then(function () {
          if (said) { said.textContent = "Copied. Paste them into your password manager or a note you keep safe."; }
        }, function () {
          if (said) { said.textContent = "Could not copy here: select the codes and copy them, or print this page."; }
        });
      });
    }
  });
})();
