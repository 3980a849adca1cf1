"""Results in: every message a lab sends us is stored, answered, and — when it can be — filed.

``receive(raw, channel=...)`` is the one way in, for the MLLP listener (``ResultListener``,
``medassist hl7 listen``) and for files (``medassist hl7 receive FILE``). It returns the ACK to
send back, always after the transaction that stored the message has committed: a lab that got
our AA may forget its message, so nothing is acknowledged that could still be lost. When the
commit fails the exception goes up and no ACK is sent; the lab sends again.

How it answers (HL7 v2.5.1 ch. 2.9.2, original acknowledgement mode):

* AR, the message is refused as a whole and stored in the error queue (status "rejected"):
  not HL7 at all, no MSH-10, not an ORU^R01, a training or debugging message (MSH-11 T or D),
  an HL7 version that is not 2.x, or a sender we do not know (MSH-4 / MSH-6 match no
  PerformingLab; the row has no clinic then);
* AE, the content is wrong and the message waits in the error queue (status "error") with one
  ERR per problem, naming the place (ERR-2, e.g. ``OBX^3^5``) and saying what is wrong (ERR-8):
  a missing PID or OBR, a value that is not a number where OBX-2 says NM, an impossible time,
  or anything ``labs.services.results.file_results`` could not match (an unknown patient,
  PID-3, or placer order number, OBR-2);
* AA, the results are filed (status "filed").

A message is the same message when it comes again from the same sender (MSH-3^MSH-4) with the
same MSH-10: the answer is the one given the first time, the row's ``repeats`` goes up, and
nothing is stored or filed twice — also when two connections deliver it at the same moment
(a unique constraint decides; the loser answers like a repeat).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any, Final

from django.contrib.auth.models import AnonymousUser
from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    close_old_connections,
    connection,
    transaction,
)
from django.db.models import F, Q
from django.utils import timezone

from medassist.access.actor import Actor
from medassist.audit.models import Action, Outcome
from medassist.audit.services import record
from medassist.core import clock
from medassist.hl7.ack import AckError, build_ack
from medassist.hl7.er7 import normalize, parse_message
from medassist.hl7.mllp import MllpServer
from medassist.hl7.oru import Header, Malformed, parse_oru, read_header
from medassist.labs.intake import IncomingResults, NotFiled, Problem
from medassist.labs.models import InboundMessage, LabReport, PerformingLab
from medassist.labs.services.results import file_results

__all__ = ["ResultListener", "receive", "refile"]

log = logging.getLogger("medassist.hl7")

#: The MSH a reply is built on when what came in had none.
_NO_HEADER: Final = "MSH|^~\\&|||||||ACK|||2.5.1"
# HL70357 codes for what the intake itself finds wrong.
_SEGMENT_SEQUENCE: Final = "100"
_REQUIRED_MISSING: Final = "101"
_UNSUPPORTED_TYPE: Final = "200"
_UNSUPPORTED_EVENT: Final = "201"
_UNSUPPORTED_PROCESSING: Final = "202"
_UNSUPPORTED_VERSION: Final = "203"
_UNKNOWN_KEY: Final = "204"
_DUPLICATE_KEY: Final = "205"
_APPLICATION_ERROR: Final = "207"
_SYSTEM = "system:lab-interface"


def _actor() -> Actor:
    return Actor(user=AnonymousUser(), channel="hl7")


def _ack(text: str | Any, code: str, problems: Sequence[Problem]) -> str:
    """Our ACK of ``text`` (or of the message parsed): MSA-1 ``code``, one ERR per problem (no
    profile in MSH-21)."""
    errors = []
    for p in problems:
        try:
            errors.append(
                AckError(severity=p.severity, code=p.code, location=p.location, text=p.text)
            )
        except ValueError:  # a location ERR-2 cannot carry: say it in the words instead
            words = f"{p.location}: {p.text}"
            errors.append(AckError(severity="E", code=p.code, location="", text=words))
    return build_ack(text, code, errors, sent_at=clock.now(), profile=None)


def _errors_json(problems: Sequence[Problem]) -> list[dict[str, str]]:
    # The shape labs.services.results keeps in InboundMessage.errors.
    return [
        {"location": p.location, "text": p.text, "code": p.code, "severity": p.severity}
        for p in problems
    ]


def _lab_for(header: Header) -> PerformingLab | None:
    """The lab that sent it: MSH-4 is its facility id, MSH-6 ours as it knows us."""
    if not header.sending_facility or not header.receiving_facility:
        return None
    return (
        PerformingLab.objects.select_related("clinic")
        .filter(facility=header.sending_facility, clinic_facility=header.receiving_facility)
        .first()
    )


def _header_problems(header: Header) -> list[Problem]:
    """What makes us refuse the message as a whole (AR)."""
    problems = []
    if not header.control_id:
        problems.append(
            Problem("MSH-10", "The message control id (MSH-10) is empty.", _REQUIRED_MISSING)
        )
    if header.message_code != "ORU":
        problems.append(
            Problem(
                "MSH-9",
                f"Message type {header.message_type or '(empty)'} is not taken here: this "
                "interface receives results, ORU^R01.",
                _UNSUPPORTED_TYPE,
            )
        )
    elif header.trigger_event != "R01":
        problems.append(
            Problem(
                "MSH-9",
                f"Event {header.trigger_event or '(empty)'} is not taken here: results come as "
                "ORU^R01.",
                _UNSUPPORTED_EVENT,
            )
        )
    if header.processing_id in ("T", "D"):
        # HL70103: T training, D debugging. Such a message may name real patients and orders;
        # filed here it would put a made-up result in a chart.
        problems.append(
            Problem(
                "MSH-11",
                f"Processing id {header.processing_id} (training or debugging) is not taken "
                "here: this interface files results into patients' charts (P, production).",
                _UNSUPPORTED_PROCESSING,
            )
        )
    if header.version and not header.version.startswith("2."):
        problems.append(
            Problem(
                "MSH-12",
                f"HL7 version {header.version} is not taken here (HL7 v2, 2.5.1).",
                _UNSUPPORTED_VERSION,
            )
        )
    return problems


def _unknown_sender(header: Header) -> Problem:
    return Problem(
        "MSH-4",
        f"Unknown sender {header.sending_facility or '(empty)'} to "
        f"{header.receiving_facility or '(empty)'}: no lab sends to us under these facility ids "
        "(MSH-4 / MSH-6). The clinic manager sets them on the lab's page.",
        _UNKNOWN_KEY,
    )


def _body(text: str) -> str:
    """The message without its MSH: what a resend must repeat (MSH-7 may be stamped anew)."""
    return text.partition("\r")[2]


def _answer_repeat(header: Header, text: str) -> str | None:
    """The stored ACK when this message came before (and count it); None if it is new."""
    if not header.control_id:
        return None
    key = {"sender": header.sender[:100], "control_id": header.control_id[:40]}
    # The unique index is partial (non-empty MSH-10 only): SQLite uses it when the query
    # repeats its condition, and scans every stored message when it does not.
    stored = (
        InboundMessage.objects.filter(~Q(control_id=""), **key)
        .values_list("pk", "raw", "ack")
        .first()
    )
    if stored is None:
        return None
    pk, raw, ack = stored
    if _body(raw) != _body(text):
        # Same sender and MSH-10, other content: not a repeat. Refused, so that a correction
        # sent under a reused id is not silently taken for the message it replaces.
        log.warning("lab message %s from %s reuses a control id", header.control_id, key["sender"])
        problem = Problem(
            "MSH-10",
            f"Control id {header.control_id} was already used for another message from "
            f"{header.sender}. Send it with a new MSH-10.",
            _DUPLICATE_KEY,
        )
        return _ack(text, "AR", [problem])
    InboundMessage.objects.filter(pk=pk).update(repeats=F("repeats") + 1, updated_at=clock.now())
    return str(ack)


def receive(raw: str | bytes, *, channel: str = "mllp") -> str:
    """Store, answer and (when it can be) file one message from a lab; return the ACK to send,
    after the transaction that stored it has committed."""
    text = normalize(raw)
    try:
        message = parse_message(text)
    except ValueError as error:
        problem = Problem("MSH", str(error), _SEGMENT_SEQUENCE)
        return _store(text, channel, None, None, "AR", [problem], reply_to=_NO_HEADER)
    header = read_header(message)
    repeat = _answer_repeat(header, text)
    if repeat is not None:
        return repeat
    problems = _header_problems(header)
    if problems:
        return _store(text, channel, header, None, "AR", problems, reply_to=message)
    lab = _lab_for(header)
    if lab is None:
        return _store(
            text, channel, header, None, "AR", [_unknown_sender(header)], reply_to=message
        )
    try:
        results = parse_oru(message, tz=timezone.get_default_timezone())
    except Malformed as malformed:
        return _store(text, channel, header, lab, "AE", malformed.problems, reply_to=message)
    return _store(text, channel, header, lab, "AA", [], results=results, reply_to=message)


def _store(
    text: str,
    channel: str,
    header: Header | None,
    lab: PerformingLab | None,
    code: str,
    problems: Sequence[Problem],
    *,
    results: IncomingResults | None = None,
    reply_to: Any = None,
) -> str:
    """One InboundMessage row, and the filing when there are results, in one transaction; the
    ACK once it committed (a repeat's ACK when another connection stored it first)."""
    try:
        with transaction.atomic():
            row = InboundMessage.objects.create(
                clinic_id=lab.clinic_id if lab else None,
                lab=lab,
                sender=header.sender[:100] if header else "",
                control_id=header.control_id[:40] if header else "",
                message_type=header.message_type[:20] if header else "",
                raw=text,
                channel=channel[:10],
                status=InboundMessage.Status.REJECTED,
                received_at=clock.now(),
            )
            reports: list[LabReport] = []
            if results is not None and lab is not None:
                try:
                    with transaction.atomic():
                        reports = file_results(lab=lab, message=results, inbound=row)
                except NotFiled as not_filed:
                    code = "AE"
                    problems = not_filed.problems or [
                        Problem("MSH", "The message could not be filed.")
                    ]
                except DatabaseError as error:
                    if not isinstance(error, DataError):
                        raise  # the database is at fault: no ACK, the lab sends it again
                    code, problems = "AE", [_not_filable(header, error)]
                except Exception as error:  # noqa: BLE001 (a poison message must not loop)
                    code, problems = "AE", [_not_filable(header, error)]
            status = {
                "AA": InboundMessage.Status.FILED,
                "AE": InboundMessage.Status.ERROR,
            }.get(code, InboundMessage.Status.REJECTED)
            ack = _ack(reply_to or text, code, problems)
            row.status, row.ack, row.ack_code = status, ack, code
            row.errors = _errors_json(problems)
            row.save(update_fields=["status", "ack", "ack_code", "errors"])
            _audit(row, header, lab, code, len(reports))
    except IntegrityError:
        # Another connection stored the same sender and MSH-10 first (it has committed:
        # the unique index made us wait for it). Answer as it did.
        if header is None:
            raise
        repeat = _answer_repeat(header, text)
        if repeat is None:
            raise
        return repeat
    return ack


def _not_filable(header: Header | None, error: Exception) -> Problem:
    """Filing failed on something in the message we did not foresee (a value too long for its
    column, say). Answered AE and queued for a person rather than left unanswered: the lab
    would send it again and again, and it would fail each time."""
    log.exception("lab message %s could not be filed", header.control_id if header else "")
    return Problem(
        "",
        f"The results could not be filed ({error.__class__.__name__}); the message waits in the "
        "clinic's interface queue.",
        _APPLICATION_ERROR,
    )


def _audit(
    row: InboundMessage, header: Header | None, lab: PerformingLab | None, code: str, filed: int
) -> None:
    what = header.message_type if header and header.message_type else "message"
    sender = lab.name if lab else (header.sender if header else "an unknown sender")
    outcome = "queued for review"
    if code == "AA":
        outcome = f"filed ({filed} report{'s' if filed != 1 else ''})"
    record(
        _actor(),
        Action.CREATE,
        "MessageHeader",
        clinic_id=row.clinic_id,
        entity_id=str(row.public_id),
        description=(
            f"lab {what} {row.control_id or '(no MSH-10)'} from {sender} by {row.channel}: "
            f"{code}, {outcome}"
            + (f" ({filed} report{'s' if filed != 1 else ''})" if filed else "")
        ),
        outcome=Outcome.SUCCESS if code == "AA" else Outcome.FAILED,
        username=_SYSTEM,
    )


def refile(inbound: InboundMessage) -> list[LabReport]:
    """Parse a stored message again and file it (the error queue's Retry, registered with
    labs.services.results.register_refiler). Raises NotFiled with what is still wrong."""
    try:
        message = parse_message(inbound.raw)
    except ValueError as error:
        raise NotFiled(problems=[Problem("MSH", str(error), _SEGMENT_SEQUENCE)]) from error
    header = read_header(message)
    problems = [p for p in _header_problems(header) if p.location != "MSH-10"]
    if problems:
        raise NotFiled(problems=problems)
    lab = inbound.lab or _lab_for(header)
    if lab is None:
        raise NotFiled(problems=[_unknown_sender(header)])
    if inbound.lab_id is None:  # the lab was set up since: the message is now its clinic's
        inbound.lab, inbound.clinic_id = lab, lab.clinic_id
        inbound.save(update_fields=["lab", "clinic"])
    try:
        results = parse_oru(message, tz=timezone.get_default_timezone())
    except Malformed as malformed:
        raise NotFiled(problems=malformed.problems) from malformed
    return file_results(lab=lab, message=results, inbound=inbound)


class ResultListener(MllpServer):
    """The MLLP listener for results: each message received is stored, filed and answered
    with its ACK once committed. A message whose transaction fails gets no answer (the
    connection is closed): the lab sends it again."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 2575) -> None:
        super().__init__(self._handle, host=host, port=port)
        # SQLite has one writer at a time, and a writer that finds the database busy sleeps
        # in growing steps before it tries again: connections taking turns here are served in
        # order instead (PostgreSQL's own locks do that).
        self._one_writer = threading.Lock() if connection.vendor == "sqlite" else None

    def _handle(self, message: str) -> str:
        close_old_connections()  # a database connection that broke since the last message
        if self._one_writer is None:
            return receive(message, channel="mllp")
        with self._one_writer:
            return receive(message, channel="mllp")

    def connection_closed(self) -> None:
        connection.close()  # this thread's database connection goes with it
