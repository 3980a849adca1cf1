// Keyboard: "/" focuses the patient search box; arrow keys move through the results;
// Escape clears them. No inline script anywhere (Content-Security-Policy: script-src 'self').
(function () {
  "use strict";
  function box() { return document.getElementById("patient-search"); }
  function results() { return Array.from(document.querySelectorAll("#search-results a")); }

  document.addEventListener("keydown", function (e) {
    var input = box();
    if (!input) return;
    var active = document.activeElement;
    var typing = active && (active.tagName === "INPUT" || active.tagName === "TEXTAREA" || active.tagName === "SELECT");
    if (e.key === "/" && !typing) { e.preventDefault(); input.focus(); input.select(); return; }
    var links = results();
    if (!links.length) return;
    var i = links.indexOf(active);
    if (e.key === "ArrowDown" && (active === input || i >= 0)) {
      e.preventDefault(); links[Math.min(i + 1, links.length - 1)].focus();
    } else if (e.key === "ArrowUp" && i >= 0) {
      e.preventDefault(); (i === 0 ? input : links[i - 1]).focus();
    } else if (e.key === "Escape") {
      document.getElementById("search-results").innerHTML = ""; input.focus();
    }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && document.activeElement === box()) {
      var first = results()[0];
      if (first && results().length === 1) { e.preventDefault(); first.click(); }
    }
  });
})();
