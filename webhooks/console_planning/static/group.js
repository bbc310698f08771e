/* Group page: the week-of-the-month choice only matters for "once a month"; forms that tell members
   something (cancel a meeting) ask first. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var repeat = document.getElementById("repeat"), nth = document.getElementById("nth-field");
    if (repeat && nth) {
      var update = function () { nth.hidden = repeat.value !== "monthly"; };
      repeat.addEventListener("change", update);
      update();
    }
    var forms = document.querySelectorAll("form[data-confirm]");
    for (var i = 0; i < forms.length; i++) {
      forms[i].addEventListener("submit", function (event) {
        if (!window.confirm(this.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    }
  });
})();
