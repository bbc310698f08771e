// The call simulator's keypad from the keyboard: typing 0-9, * or # presses that key (outside text fields).
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    if (!/^[0-9*#]$/.test(event.key)) return;
    var button = document.querySelector('.keypad button[data-key="' + event.key + '"]');
    if (!button) return;
    event.preventDefault();
    button.focus();
    button.click();
  });
})();
