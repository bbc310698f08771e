/* Puts the cursor in the field a refused form names (data-focus), keeping the scroll where the page's
   #anchor put it, once the page has loaded: opening a page at an anchor skips autofocus and moves focus. */
(function () {
  "use strict";
  window.addEventListener("load", function () {
    var field = document.querySelector("[data-focus]");
    if (field) { field.focus({ preventScroll: true }); }
  });
})();
