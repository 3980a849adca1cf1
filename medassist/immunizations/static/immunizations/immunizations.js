// Immunization pages: show the server's answer when a scan or a dose is refused (422 invalid,
// 409 changed meanwhile, 403 not allowed) instead of htmx's default of dropping error
// responses, so the MA reads why; after such a swap the focus goes to the error summary (or to
// the field the page marks autofocus). The VAERS draft's print button. No inline script
// anywhere (Content-Security-Policy: script-src 'self').
(function () {
  "use strict";
  document.addEventListener("htmx:beforeSwap", function (e) {
    var status = e.detail.xhr.status;
    if ((status === 422 || status === 409 || status === 403) && e.detail.target.closest(".immunizations")) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterSettle", function (e) {
    var target = e.detail.target;
    if (!target || !target.closest || !target.closest(".immunizations")) return;
    var area = target.id ? document.getElementById(target.id) : target;
    if (!area) return;
    var errors = area.querySelector(".errors[tabindex]");
    if (errors) { errors.focus(); return; }
    var first = area.querySelector("[autofocus]");
    if (first) { first.focus(); if (first.select && first.id === "scan-input") first.select(); }
  });
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-print]");
    if (button) { e.preventDefault(); window.print(); }
  });
})();
