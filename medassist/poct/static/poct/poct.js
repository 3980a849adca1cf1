// Point-of-care pages: the QC log's Print button (no inline script: CSP script-src 'self').
// The button is hidden until this runs, so a page without script shows no dead button.
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
