"""Acknowledgements: read a registry's ACK, and build one (for test doubles and, later, for
the messages we receive ourselves).

An ACK is MSH, MSA and zero or more ERR (HL7 v2.5.1 ch. 2.14.1; CDC IG r1.5, "Acknowledging a
message" and the ACK profile Z23). MSA-1 is the verdict, MSA-2 the control id (MSH-10) of the
message acknowledged; each ERR names what went wrong and where.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import hl7

from medassist.hl7 import mllp
from medassist.hl7.er7 import (
    SegmentBuilder,
    declare_charset,
    format_timestamp,
    new_message,
    normalize,
    parse_message,
    segments,
    value,
)

__all__ = [
    "ACK_CODES",
    "Ack",
    "AckError",
    "build_ack",
    "exchange",
    "normalize",
    "parse_ack",
    "parse_message",
]

#: HL70008 acknowledgment codes: original mode (AA/AE/AR) and enhanced mode (CA/CE/CR).
ACK_CODES: Final = {
    "AA": "Application accept",
    "AE": "Application error",
    "AR": "Application reject",
    "CA": "Commit accept",
    "CE": "Commit error",
    "CR": "Commit reject",
}
#: HL70516 error severity (ERR-4).
SEVERITY: Final = {"E": "Error", "W": "Warning", "I": "Information"}
#: HL70357 message error condition codes (ERR-3).
ERROR_CONDITION: Final = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}

#: MSH-21 of an acknowledgement to an immunization registry (CDC IG r1.5, profile Z23).
REGISTRY_ACK_PROFILE: Final = ("Z23", "CDCPHINVS")

# "RXA-5", "RXA[2]-5", "PID-13[2].4", "RXA-5.1.2", or a bare segment "PID".
_LOCATION = re.compile(
    r"(?P<segment>[A-Z][A-Z0-9]{2})(?:\[(?P<sequence>\d+)\])?"
    r"(?:-(?P<field>\d+)(?:\[(?P<rep>\d+)\])?(?:\.(?P<comp>\d+)(?:\.(?P<sub>\d+))?)?)?"
)


@dataclass(frozen=True)
class AckError:
    """One ERR segment.

    ``location`` is written ``SEG-field`` ("RXA-5"), with ``[n]`` after the segment or field
    when it is not the first occurrence or repetition and ``.component[.subcomponent]`` when
    the ERR is that precise ("RXA[2]-5.1"); a bare "PID" names a whole segment. It is read
    from ERR-2 (ERL: segment^sequence^field^repetition^component^subcomponent) as HL7 defines
    it: "NK1^3" is the third NK1 segment, not field NK1-3 (IG examples 06 and 07 write the
    field where the segment sequence belongs; their ERR-8 text says which field they mean).
    """

    severity: str  # E, W, I (HL70516)
    code: str  # HL70357, e.g. "101"
    location: str  # e.g. "RXA-5"
    text: str  # what a person can read: ERR-8, else ERR-7 (or ERR-9), else the code texts
    code_text: str = ""  # ERR-3.2
    application_code: str = ""  # ERR-5.1, e.g. HL70533 "5" (table value not found)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITY:
            raise ValueError(f"severity {self.severity!r} is not one of E, W, I (HL70516)")
        if self.location and not _LOCATION.fullmatch(self.location):
            raise ValueError(f"error location {self.location!r} is not like 'RXA-5'")


@dataclass(frozen=True)
class Ack:
    code: str  # MSA-1, one of ACK_CODES
    control_id: str  # MSA-2: MSH-10 of the message acknowledged
    text: str  # MSA-3 (deprecated in 2.5.1, still sent by some registries)
    errors: tuple[AckError, ...]
    raw: str  # the ACK as received, segments separated by \r

    @property
    def accepted(self) -> bool:
        """The registry took the message (AA/CA), possibly with warnings among ``errors``."""
        return self.code in ("AA", "CA")

    @property
    def rejected(self) -> bool:
        """The registry refused the whole message (AR/CR): resending it unchanged won't help."""
        return self.code in ("AR", "CR")


def _location(err: Any) -> str:
    seg = value(err, 2, 1)
    sequence, field = value(err, 2, 2), value(err, 2, 3)
    rep, comp, sub = (value(err, 2, n) for n in (4, 5, 6))
    if not seg:  # HL7 2.3.1-style registries put an ELD in ERR-1: segment^sequence^field
        seg = value(err, 1, 1)
        sequence, field = value(err, 1, 2), value(err, 1, 3)
        rep = comp = sub = ""
    if not seg:
        return ""
    location = seg + (f"[{sequence}]" if sequence not in ("", "1") else "")
    if field:
        location += f"-{field}" + (f"[{rep}]" if rep not in ("", "1") else "")
        if comp:
            location += f".{comp}" + (f".{sub}" if sub else "")
    if not _LOCATION.fullmatch(location):
        return ""  # not a location we can express; the ERR text still tells what happened
    return location


def _error(err: Any) -> AckError:
    severity = value(err, 4).upper() or "E"  # ERR-4 is required; absent reads as E
    if severity not in SEVERITY:
        severity = "E"
    code = value(err, 3, 1) or value(err, 1, 4, 1)  # ERR-3, else ELD-4
    code_text = value(err, 3, 2) or value(err, 1, 4, 2)
    application_code = value(err, 5, 1)
    text = (
        value(err, 8)  # user message
        or value(err, 7)  # diagnostic information
        # The IG's examples 04, 05 and 08 put the user message one field late, in ERR-9;
        # registries that copied them do the same.
        or value(err, 9)
        or code_text
        or value(err, 5, 2)
        or ERROR_CONDITION.get(code, "")
    )
    return AckError(
        severity=severity,
        code=code,
        location=_location(err),
        text=text,
        code_text=code_text,
        application_code=application_code,
    )


def parse_ack(text: str | bytes, *, types: Sequence[str] = ("ACK",)) -> Ack:
    """The acknowledgement in ``text``; ValueError if it is not an HL7 v2 ACK.

    ``types`` are the MSH-9 message codes taken as an answer: a lab may answer an order with an
    application response (ORR^O02, ORL^O22) that carries the same MSA and ERR segments."""
    message = parse_message(text)
    msh = message.segment("MSH")
    message_type = str(msh[9]) if len(msh) > 9 else ""
    if value(msh, 9, 1) not in types:
        expected = " or ".join(types)
        raise ValueError(
            f"not an acknowledgement: MSH-9 is {message_type or 'empty'}, not {expected}"
        )
    msas = segments(message, "MSA")
    if not msas:
        raise ValueError("malformed acknowledgement: it has no MSA segment")
    msa = msas[0]
    code = value(msa, 1).upper()
    if code not in ACK_CODES:
        raise ValueError(f"malformed acknowledgement: MSA-1 {code!r} is not one of AA/AE/AR/CA/...")
    return Ack(
        code=code,
        control_id=value(msa, 2),
        text=value(msa, 3),
        errors=tuple(_error(err) for err in segments(message, "ERR")),
        raw=normalize(text),
    )


def _erl(err: SegmentBuilder, location: str) -> None:
    match = _LOCATION.fullmatch(location)
    if match is None:  # AckError validated it; an empty location stays empty
        return
    err.put(2, match["segment"], comp=1)
    err.put(2, match["sequence"] or "1", comp=2)  # ERL-2 segment sequence is required
    if match["field"]:
        err.put(2, match["field"], comp=3)
        if match["rep"] or match["comp"]:
            err.put(2, match["rep"] or "1", comp=4)
        err.put(2, match["comp"] or "", comp=5)
        err.put(2, match["sub"] or "", comp=6)


def build_ack(
    incoming_text: str | bytes | hl7.Message,
    code: str,
    errors: Sequence[AckError] = (),
    control_id: str | None = None,
    sent_at: dt.datetime | None = None,
    profile: tuple[str, str] | None = REGISTRY_ACK_PROFILE,
) -> str:
    """An ACK of ``incoming_text``: sender and receiver swapped, MSA-2 its MSH-10, one ERR per
    error (IG ERR: ERR-2 location, ERR-3 HL70357 code, ERR-4 severity, ERR-5 application
    code, ERR-8 user message); ``incoming_text`` may be the message already parsed.
    ``control_id`` is the ACK's own MSH-10 (default: random).
    ``profile`` is MSH-21 (the CDC IG's Z23 by default; None for a lab, which has none)."""
    if code not in ACK_CODES:
        raise ValueError(f"ack code {code!r} is not one of {', '.join(ACK_CODES)}")
    incoming = (
        incoming_text if isinstance(incoming_text, hl7.Message) else parse_message(incoming_text)
    )
    source = incoming.segment("MSH")

    def raw(field: int) -> str:
        return str(source[field]) if len(source) > field else ""

    message = new_message()
    msh = SegmentBuilder(message.segment("MSH"))
    msh.put_raw(3, raw(5))  # we answer as the application the message was sent to
    msh.put_raw(4, raw(6))
    msh.put_raw(5, raw(3))
    msh.put_raw(6, raw(4))
    msh.put(7, format_timestamp(sent_at or dt.datetime.now(tz=dt.UTC)))
    msh.put(9, "ACK", comp=1)
    msh.put(9, value(source, 9, 2), comp=2)  # the trigger event acknowledged
    msh.put(9, "ACK", comp=3)
    msh.put(10, control_id or uuid.uuid4().hex[:20])
    msh.put(11, value(source, 11) or "P")
    msh.put(12, "2.5.1")
    if profile is not None:
        msh.put(21, profile[0], comp=1)
        msh.put(21, profile[1], comp=2)
    msa = SegmentBuilder.append_to(message, "MSA")
    msa.put(1, code)
    msa.put_raw(2, raw(10))
    for error in errors:
        err = SegmentBuilder.append_to(message, "ERR")
        _erl(err, error.location)
        code_text = error.code_text or ERROR_CONDITION.get(error.code, "")
        err.coded(3, error.code, code_text, "HL70357")
        err.put(4, error.severity)
        err.put(5, error.application_code, comp=1)
        if error.application_code:
            err.put(5, "HL70533", comp=3)
        err.put(8, error.text)
    return declare_charset(message)


def exchange(
    host: str,
    port: int,
    message: str,
    *,
    control_id: str,
    timeout: float,
    types: Sequence[str] = ("ACK",),
) -> Ack:
    """Send ``message`` over MLLP and read the acknowledgement of it.

    Raises ``mllp.MllpError`` (no answer, refused, broken: worth another try) or ValueError
    (an answer that is no ACK of ours: MSA-2 naming another message)."""
    reply = mllp.send(host, port, message, timeout=timeout)
    ack = parse_ack(reply, types=types)
    if ack.control_id and ack.control_id != control_id:
        raise ValueError(f"the peer acknowledged {ack.control_id}, not {control_id}")
    return ack


def error_list(ack: Ack) -> list[dict[str, str]]:
    """The ACK's ERR segments as stored beside a message (``ack_errors``)."""
    return [
        {"severity": e.severity, "code": e.code, "location": e.location, "text": e.text}
        for e in ack.errors
    ]
