"""Results in: every message a lab sends us is stored, answered, and — when it can be — filed.

``receive(raw, channel=...)`` is the one way in, for the MLLP listener (``ResultListener``,
``medassist hl7 listen``) and for files (``medassist hl7 receive FILE``). It returns the ACK to
send back, always after the transaction that stored the message has committed: a lab that got
our AA may forget its message, so nothing is acknowledged that could still be lost. When the
commit fails the exception goes up and no ACK is sent; the lab sends again.

How it answers (HL7 v2.5.1 ch. 2.9.2, original acknowledgement mode):

* AR, the message is refused as a whole and stored in the error queue (status "rejected"):
  not HL7 at all, no MSH-10, not an ORU^R01, a training or debugging message (MSH-11 T or D),
  an HL7 version that is not 2.x, or a different message under an MSH-10 this sender already
  used (ERR 205: the lab must send it under a new control id);
* AE, the content is wrong and the message waits in the error queue (status "error") with one
  ERR per problem, naming the place (ERR-2, e.g. ``OBX^3^5``) and saying what is wrong (ERR-8):
  a missing PID or OBR, a value that is not a number where OBX-2 says NM, an impossible time,
  or anything ``labs.services.results.file_results`` could not match (an unknown patient,
  PID-3, or placer order number, OBR-2);
* AE too for a sender we do not know (MSH-4 / MSH-6 match no PerformingLab — on go-live day,
  a typo in either id): AR would tell the lab not to send the message again, and it may hold a
  critical result. The row has no clinic until the ids are put right; ``medassist hl7 queue``
  lists it (and ``--attach`` gives it to its lab's clinic, whose manager's Retry files it).
* AA, the results are filed (status "filed").

A message is the same message when it comes again from the same sender (MSH-3^MSH-4) with the
same MSH-10: the answer is the one given the first time, the row's ``repeats`` goes up, and
nothing is stored or filed twice — also when two connections deliver it at the same moment
(a unique constraint decides; the loser answers like a repeat). A *different* message under a
used MSH-10 (an LIS whose counter was reset) is kept as its own row (``duplicate_of`` the
first), refused and waiting in the error queue: never filed over the first, never lost.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

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
from medassist.hl7.people import local_time
from medassist.labs.intake import IncomingResults, NotFiled, Problem
from medassist.labs.models import InboundMessage, LabReport, PerformingLab
from medassist.labs.services.results import file_results

__all__ = ["ResultListener", "attach_unassigned", "receive", "refile"]

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
    return Actor.system("hl7")


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
    # MSH-7 in the clinic's local time with its offset, like the messages we send.
    return build_ack(text, code, errors, sent_at=local_time(clock.now()), profile=None)


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
        "(MSH-4 / MSH-6). The message is kept and filed once the clinic manager sets them on "
        "the lab's page.",
        _UNKNOWN_KEY,
    )


def _body(text: str) -> str:
    """The message without its MSH: what a resend must repeat (MSH-7 may be stamped anew)."""
    return text.partition("\r")[2]


@dataclass(frozen=True)
class _Earlier:
    """A stored message under the same sender and MSH-10."""

    pk: int  # the first message under the id (duplicate_of null)
    received_at: dt.datetime
    repeat_of: int | None  # the row this text repeats (the first, or a refused duplicate)
    ack: str  # that row's ACK


def _earlier(header: Header, text: str) -> _Earlier | None:
    """What came before under this sender's MSH-10, and whether ``text`` repeats it; None when
    the MSH-10 is new."""
    if not header.control_id:
        return None
    key = {"sender": header.sender[:100], "control_id": header.control_id[:40]}
    # The unique index is partial (non-empty MSH-10, first message only): SQLite uses it when
    # the query repeats its condition, and scans every stored message when it does not.
    first = (
        InboundMessage.objects.filter(~Q(control_id=""), duplicate_of__isnull=True, **key)
        .values_list("pk", "raw", "ack", "received_at")
        .first()
    )
    if first is None:
        return None
    pk, raw, ack, received_at = first
    body = _body(text)
    if _body(raw) == body:
        return _Earlier(pk, received_at, pk, str(ack))
    for other_pk, other_raw, other_ack in InboundMessage.objects.filter(
        duplicate_of_id=pk
    ).values_list("pk", "raw", "ack"):
        if _body(other_raw) == body:  # the refused duplicate, sent again
            return _Earlier(pk, received_at, other_pk, str(other_ack))
    return _Earlier(pk, received_at, None, "")


def _answer_earlier(
    earlier: _Earlier, text: str, channel: str, header: Header, reply_to: Any
) -> str:
    """A repeat gets the answer given the first time (and is counted); a different message
    under the used MSH-10 is stored as its own row, refused, in the error queue."""
    if earlier.repeat_of is not None:
        InboundMessage.objects.filter(pk=earlier.repeat_of).update(
            repeats=F("repeats") + 1, updated_at=clock.now()
        )
        return earlier.ack
    # Same sender and MSH-10, other content: not a repeat. Not filed — a correction sent under
    # a reused id must not be taken for the message it would replace — but kept, for a person.
    log.warning("lab message %s from %s reuses a control id", header.control_id, header.sender)
    day = timezone.localtime(earlier.received_at).date().isoformat()
    problem = Problem(
        "MSH-10",
        f"MSH-10 {header.control_id} was already used for a different message on {day}: the "
        "lab must send it under a new control id.",
        _DUPLICATE_KEY,
    )
    return _store(
        text,
        channel,
        header,
        _lab_for(header),
        "AR",
        [problem],
        reply_to=reply_to,
        duplicate_of=earlier.pk,
    )


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
    earlier = _earlier(header, text)
    if earlier is not None:
        return _answer_earlier(earlier, text, channel, header, message)
    problems = _header_problems(header)
    if problems:
        return _store(text, channel, header, None, "AR", problems, reply_to=message)
    lab = _lab_for(header)
    if lab is None:
        # AE, not AR: the lab keeps the message and may send it again; we keep it too.
        return _store(
            text, channel, header, None, "AE", [_unknown_sender(header)], reply_to=message
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
    duplicate_of: int | None = None,
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
                duplicate_of_id=duplicate_of,
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
        if header is None or duplicate_of is not None:
            raise
        earlier = _earlier(header, text)
        if earlier is None:
            raise
        return _answer_earlier(earlier, text, channel, header, reply_to or text)
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


def attach_unassigned(actor: Actor, *, username: str) -> list[InboundMessage]:
    """Give each waiting message that has no clinic (its sender was unknown) to the lab its
    MSH-4 / MSH-6 name now that the manager has set them: it then waits in that clinic's
    interface queue, whose Retry files it (``refile``). Returns the messages attached."""
    attached = []
    waiting = InboundMessage.objects.filter(
        clinic__isnull=True,
        status__in=(InboundMessage.Status.ERROR, InboundMessage.Status.REJECTED),
    ).order_by("pk")
    for row in waiting:
        try:
            header = read_header(parse_message(row.raw))
        except ValueError:
            continue
        lab = _lab_for(header)
        if lab is None:
            continue
        with transaction.atomic():
            changed = InboundMessage.objects.filter(pk=row.pk, clinic__isnull=True).update(
                lab=lab, clinic_id=lab.clinic_id, updated_at=clock.now()
            )
            if not changed:
                continue
            record(
                actor,
                Action.UPDATE,
                "MessageHeader",
                clinic_id=lab.clinic_id,
                entity_id=str(row.public_id),
                description=(
                    f"lab message {row.control_id or '(no MSH-10)'} from {row.sender} given to "
                    f"{lab.name}: its facility ids now match"
                ),
                username=username,
            )
        row.lab, row.clinic_id = lab, lab.clinic_id
        attached.append(row)
    return attached


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
