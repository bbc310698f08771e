/* Group page: the week-of-the-month choice only matters for "once a month". (Cancelling a meeting asks
   first through the console's confirm.js.) */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var repeat = document.getElementById("repeat"), nth = document.getElementById("nth-field");
    if (repeat && nth) {
      var update = function () { nth.hidden = repeat.value !== "monthly"; };
      repeat.addEventListener("change", update);
      update();
    }
  });
})();
