"""An immunization registry in a thread, for tests: it listens on 127.0.0.1 only and answers
VXUs the way real registries do, including the ways they fail.

Modes, one per message received:

* ``"AA"`` — accept, store, acknowledge AA;
* ``"AE"`` — store, acknowledge AE with an ERR naming ``error_location`` (default RXA-5) and
  ``error_text``, like the IG's example ACK 05;
* ``"AR"`` — reject without storing, acknowledge AR;
* ``"timeout"`` — store the message but never answer (the registry processed it; its ACK got
  lost), so the sender's ``MllpTimeout`` is followed by a retry;
* ``"close"`` — close the connection without storing or answering.

``script`` gives the modes of the first messages in turn (e.g. ``["timeout", "AA"]``); then
``mode`` applies. A message whose MSH-10 was stored already is a duplicate: it is counted in
``duplicates``, not stored again, and — unless its mode is ``timeout`` or ``close`` — answered
AA, as a registry that recognises a retry does.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Final, Literal

from medassist.hl7.ack import REGISTRY_ACK_PROFILE, AckError, build_ack, parse_message
from medassist.hl7.mllp import DropConnection, MllpServer

__all__ = ["MODES", "Mode", "RegistryDouble"]

Mode = Literal["AA", "AE", "AR", "timeout", "close"]
MODES: Final = ("AA", "AE", "AR", "timeout", "close")

_UNPARSEABLE_ACK: Final = "MSH|^~\\&|||||||ACK|||2.5.1"


class RegistryDouble(MllpServer):
    #: MSH-21 of its ACKs (the CDC IG's acknowledgement profile; a subclass may have none).
    ack_profile: tuple[str, str] | None = REGISTRY_ACK_PROFILE

    def __init__(
        self,
        mode: Mode = "AA",
        *,
        script: Sequence[Mode] = (),
        error_location: str = "RXA-5",
        error_text: str = "Vaccine code not recognized - field rejected",
    ) -> None:
        for each in (mode, *script):
            if each not in MODES:
                raise ValueError(f"mode {each!r} is not one of {', '.join(MODES)}")
        # Loopback only: a test double must never be reachable from the network.
        super().__init__(self._answer, host="127.0.0.1", port=0)
        self.mode: Mode = mode
        self._script = list(script)
        self._error = AckError(
            severity="E",
            code="103",  # HL70357 table value not found (IG example 05)
            location=error_location,
            text=error_text,
            application_code="5",  # HL70533 table value not found
        )
        self._state = threading.Lock()
        self._received: list[str] = []
        self._stored_ids: set[str] = set()
        self._duplicates = 0
        self._modes_used: list[Mode] = []

    @property
    def received(self) -> list[str]:
        """The distinct messages stored, in arrival order."""
        with self._state:
            return list(self._received)

    @property
    def duplicates(self) -> int:
        """How many messages arrived again with an MSH-10 already stored."""
        with self._state:
            return self._duplicates

    @property
    def modes_used(self) -> list[Mode]:
        """The mode each message met, in arrival order (duplicates included)."""
        with self._state:
            return list(self._modes_used)

    def _next_mode(self) -> Mode:
        mode = self._script.pop(0) if self._script else self.mode
        self._modes_used.append(mode)
        return mode

    def _answer(self, message: str) -> str | None:
        with self._state:
            mode = self._next_mode()
            try:
                parsed = parse_message(message)
            except ValueError as exc:
                if mode in ("timeout", "close"):
                    raise DropConnection from exc
                error = AckError(severity="E", code="100", location="", text=str(exc))
                return self._reply(_UNPARSEABLE_ACK, "AR", [error])
            msh = parsed.segment("MSH")
            control_id = str(msh[10]) if len(msh) > 10 else ""
            duplicate = bool(control_id) and control_id in self._stored_ids
            if duplicate:
                self._duplicates += 1
            if mode == "close":
                raise DropConnection
            if mode != "AR" and not duplicate:
                self._received.append(message)
                if control_id:
                    self._stored_ids.add(control_id)
            if mode == "timeout":
                return None
            if duplicate:
                return self._reply(message, "AA")
            if mode == "AE":
                return self._reply(message, "AE", [self._error])
            if mode == "AR":
                rejected = AckError(
                    severity="E",
                    code="207",
                    location="",
                    text="Message rejected by the test double",
                )
                return self._reply(message, "AR", [rejected])
            return self._reply(message, "AA")

    def _reply(self, message: str, code: str, errors: Sequence[AckError] = ()) -> str:
        return build_ack(message, code, errors, profile=self.ack_profile)
