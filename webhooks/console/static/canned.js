/* A canned reply chosen from the list fills the reply box (to be edited before sending). */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var pickers = document.querySelectorAll("[data-canned-for]");
    for (var i = 0; i < pickers.length; i++) {
      pickers[i].addEventListener("change", function (event) {
        var box = document.getElementById(event.target.getAttribute("data-canned-for"));
        if (!event.target.value) { return; }
        box.value = event.target.value;
        box.dispatchEvent(new Event("input"));
        box.focus();
      });
    }
  });
})();
