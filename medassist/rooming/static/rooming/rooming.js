// Rooming worklist: show the server's answer when a step is refused (422 invalid input,
// 409 the visit changed meanwhile, 403 not allowed) instead of htmx's default of dropping
// error responses, so the MA reads why. After a swap the focus goes somewhere sensible for a
// keyboard user: the errors, the next step (forms marked data-advance), or the step itself.
(function () {
  "use strict";
  var advance = false;
  document.addEventListener("htmx:beforeRequest", function (e) {
    advance = !!(e.detail.elt && e.detail.elt.hasAttribute && e.detail.elt.hasAttribute("data-advance"));
  });
  document.addEventListener("htmx:beforeSwap", function (e) {
    var status = e.detail.xhr.status;
    if ((status === 422 || status === 409 || status === 403) && e.detail.target.closest(".rooming")) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterSettle", function (e) {
    var target = e.detail.target;
    if (!target || !target.id || target.id.indexOf("step-") !== 0) return;
    var section = document.getElementById(target.id);
    if (!section) return;
    var errors = section.querySelector(".errors");
    if (errors) { errors.focus(); return; }
    var next = advance && section.dataset.next && document.getElementById(section.dataset.next);
    var goal = next ? next.querySelector("input:not([type=hidden]), select, textarea, button") : null;
    (goal || section.querySelector("h2")).focus();
  });
})();
