// CSV import: show upload progress, then poll the check's progress until the result is ready.
(function () {
  "use strict";
  var form = document.getElementById("import-form");
  if (form && window.XMLHttpRequest && window.FormData) {
    var showError = function (text) {
      var p = document.getElementById("import-error");
      if (!p) { p = document.createElement("p"); p.id = "import-error"; p.className = "flash error"; p.setAttribute("role", "alert"); form.parentNode.insertBefore(p, form); }
      p.textContent = text;
    };
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var file = document.getElementById("file").files[0];
      if (file && file.size > Number(form.dataset.maxBytes)) {
        showError(file.name + ": this file is larger than " + Math.round(form.dataset.maxBytes / 1048576) + " MB: split it into smaller files.");
        return;
      }
      var box = document.getElementById("upload-progress"), bar = document.getElementById("upload-bar");
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action || window.location.href);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = function (e) { if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); } };
      xhr.onload = function () {
        var data = {};
        try { data = JSON.parse(xhr.responseText); } catch (err) {
          data = {error: xhr.status === 413
            ? "This file is larger than " + Math.round(form.dataset.maxBytes / 1048576) + " MB: split it into smaller files."
            : "The server answered " + xhr.status + "."};
        }
        if (xhr.status === 202 && data.page) { window.location.assign(data.page); return; }
        box.hidden = true;
        showError(data.error || data.reason || ("The server answered " + xhr.status + "."));
      };
      xhr.onerror = function () { box.hidden = true; showError("The upload did not reach the server. Check the connection and try again."); };
      box.hidden = false;
      xhr.send(new FormData(form));
    });
  }
  var job = document.getElementById("import-job");
  if (job && job.dataset.state === "checking") {
    var poll = function () {
      fetch(job.dataset.statusUrl, {headers: {Accept: "application/json"}, credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (s) {
          var bar = document.getElementById("check-bar");
          bar.max = s.total; bar.value = s.processed;
          document.getElementById("progress-text").textContent = s.processed + " of " + s.total;
          if (s.state === "checking") { window.setTimeout(poll, 500); } else { window.location.reload(); }
        })
        .catch(function () { window.setTimeout(poll, 2000); });
    };
    window.setTimeout(poll, 300);
  }
})();
