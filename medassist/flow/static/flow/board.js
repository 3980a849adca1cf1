// Flow board: the poller asks every few seconds with the fingerprint of what is on screen; the
// server answers 204 (nothing changed) or the new board. A poll is skipped while the user is
// choosing in a form control on the board (a room picker), so an update never throws away a
// choice being made; the next poll catches up.
(function () {
  "use strict";
  document.addEventListener("htmx:confirm", function (e) {
    if (!e.detail.elt || e.detail.elt.id !== "board-poller") return;
    var active = document.activeElement;
    var board = document.getElementById("board");
    if (board && active && board.contains(active) && (active.tagName === "SELECT" || active.tagName === "INPUT")) {
      e.preventDefault();
    }
  });
})();
