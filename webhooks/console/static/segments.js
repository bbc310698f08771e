/* Live character and SMS segment counter for template fields, measured as the text will be sent.
   Mirrors checkin.templates.segments() on the server: text made only of GSM-7 characters fits 160
   per message or 153 per part when split (extension characters such as { } [ ] ~ \ | ^ and the euro
   sign take two); anything else is sent as UCS-2: 70, or 67 per part, counted in UTF-16 units. */
(function () {
  "use strict";
  var BASIC = "@\u00a3$\u00a5\u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\n\u00d8\u00f8\r\u00c5\u00e5\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e" +
    "\u00c6\u00e6\u00df\u00c9 !\"#\u00a4%&'()*+,-./0123456789:;<=>?\u00a1ABCDEFGHIJKLMNOPQRSTUVWXYZ\u00c4\u00d6\u00d1\u00dc\u00a7" +
    "\u00bfabcdefghijklmnopqrstuvwxyz\u00e4\u00f6\u00f1\u00fc\u00e0";
  var EXTENDED = "\f^{}\\[~]|\u20ac";

  function segments(text) {
    var septets = 0, gsm = true, i, ch;
    for (i = 0; i < text.length; i++) {
      ch = text.charAt(i);
      if (BASIC.indexOf(ch) >= 0) { septets += 1; }
      else if (EXTENDED.indexOf(ch) >= 0) { septets += 2; }
      else { gsm = false; break; }
    }
    var units = gsm ? septets : text.length;  // JS strings are UTF-16: length counts code units
    var single = gsm ? 160 : 70, part = gsm ? 153 : 67;
    var count = units === 0 ? 0 : (units <= single ? 1 : Math.ceil(units / part));
    return { encoding: gsm ? "GSM-7" : "UCS-2", units: units, segments: count,
             limit: count <= 1 ? single : count * part };
  }

  /* The text as sent: placeholders filled with the sample values the server measures with (the
     nearest element with data-samples), {{ and }} as single braces. An unknown placeholder is left
     as typed: the server refuses it, naming it. */
  function render(text, samples, allowed) {
    if (!samples) { return text; }
    if (Array.isArray(samples)) { return longest(text, samples, allowed); }
    return text.replace(/\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}/g, function (whole, name) {
      if (whole === "{{") { return "{"; }
      if (whole === "}}") { return "}"; }
      // A placeholder this text cannot use stays as typed, as the server's example leaves it.
      if (allowed && allowed.indexOf(name) < 0) { return whole; }
      return Object.prototype.hasOwnProperty.call(samples, name) ? String(samples[name]) : whole;
    });
  }

  /* The server measures a text with every set of sample values (plain and accented Spanish, with and
     without "tomorrow", each place line) and refuses it if any is too long: the counter shows the
     longest, so that it and the save agree (checkin.schedules.plan.sample_values). */
  function longest(text, sets, allowed) {
    var best = null, bestInfo = null;
    for (var i = 0; i < sets.length; i++) {
      var out = render(text, sets[i], allowed), info = segments(out);
      if (!bestInfo || info.segments > bestInfo.segments ||
          (info.segments === bestInfo.segments && info.units > bestInfo.units)) { best = out; bestInfo = info; }
    }
    return best === null ? text : best;
  }

  /* In words a volunteer reads: "2 text messages long", and which character makes a text hold 70
     characters instead of 160 (the server says the same: console.words.text_length). */
  function describe(info, max, text) {
    var words = info.segments + " text message" + (info.segments === 1 ? "" : "s") + " long \u00b7 " +
      info.units + " characters";
    if (info.encoding === "UCS-2") {
      var odd = "";
      for (var i = 0; i < text.length && !odd; i++) {
        if (segments(text.charAt(i)).encoding === "UCS-2") { odd = text.charAt(i); }
      }
      if (odd >= "\ud800" && odd <= "\udbff") { odd = text.substr(text.indexOf(odd), 2); }
      words += " \u00b7 this text uses \u201c" + odd + "\u201d, which makes each text hold " +
        (info.segments > 1 ? 67 : 70) + " characters instead of 160";
    }
    if (max && info.segments > max) { words += " \u00b7 over the limit of " + max + " text messages"; }
    return words;
  }

  function attach(field) {
    var out = document.getElementById(field.getAttribute("data-segments"));
    var max = parseInt(field.getAttribute("data-max-segments") || "0", 10);
    var holder = field.closest("[data-samples]");
    var samples = holder ? JSON.parse(holder.getAttribute("data-samples")) : null;
    var allowed = field.hasAttribute("data-allowed") ? field.getAttribute("data-allowed").split(" ") : null;
    // Words the server adds around the typed text (an announcement's group name and stop wording).
    var prefix = field.getAttribute("data-prefix") || "", suffix = field.getAttribute("data-suffix") || "";
    function update() {
      var typed = field.value.trim();  // the server keeps no outer space either
      var unless = field.getAttribute("data-suffix-unless");  // the text says it already
      var tail = unless && new RegExp(unless).test(typed) ? "" : suffix;
      var text = typed ? prefix + render(typed, samples, allowed) + tail : "";
      var info = segments(text);
      out.textContent = describe(info, max, text);
      out.classList.toggle("over", !!max && info.segments > max);
    }
    field.addEventListener("input", update);
    update();
  }

  window.checkinSegments = segments;
  window.checkinRender = render;
  document.addEventListener("DOMContentLoaded", function () {
    var fields = document.querySelectorAll("[data-segments]");
    for (var i = 0; i < fields.length; i++) { attach(fields[i]); }
  });
})();
