/* A form with data-type-to-confirm="words" can be sent only once those words are typed in its text box
   (an erasure: typing the member's name is a deliberate act a stray click is not). The server checks too. */
(function () {
  "use strict";
  function same(a, b) { return a.trim().replace(/\s+/g, " ") === b.trim().replace(/\s+/g, " "); }
  document.addEventListener("DOMContentLoaded", function () {
    var forms = document.querySelectorAll("form[data-type-to-confirm]");
    for (var i = 0; i < forms.length; i++) {
      (function (form) {
        var expected = form.getAttribute("data-type-to-confirm");
        var box = form.querySelector("input[type=text], input:not([type])");
        var button = form.querySelector("button[type=submit]");
        function update() { button.disabled = !same(box.value, expected); }
        box.addEventListener("input", update);
        form.addEventListener("submit", function (event) {
          if (!same(box.value, expected)) { event.preventDefault(); }
        });
        update();
      })(forms[i]);
    }
  });
})();
