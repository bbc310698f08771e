/* Schedule builder: the week-of-the-month choice only matters for "once a month". */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var repeat = document.getElementById("repeat"), nth = document.getElementById("nth-field");
    if (!repeat || !nth) { return; }
    function update() { nth.hidden = repeat.value !== "monthly"; }
    repeat.addEventListener("change", update);
    update();
  });
})();
