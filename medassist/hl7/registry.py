"""Reporting doses to the immunization registry: the outbox handler for "immunization.vxu".

The immunizations app queues a RegistrySubmission (with its MSH-10) in the same transaction as
the dose; after commit this handler builds the VXU^V04 (profile Z22) from the stored record,
freezes it on the submission (a retry sends the same bytes with the same control id, so the
registry can recognise a duplicate), sends it over MLLP and stores the ACK:
  - AA: accepted (with warnings when the ERR segments are warnings);
  - AE / AR: the registry's text and error locations are kept for the clinic manager, and the
    message is not resent (resending the same content would be refused again);
  - no answer, a refused connection or a broken one: the outbox retries with backoff
    (events.services.BACKOFF_MINUTES); after the last attempt the submission is "failed" and
    shows on the manager's registry page.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import NoReturn

from django.db import transaction

from medassist.access.actor import Actor
from medassist.audit.models import Action, Outcome
from medassist.audit.services import record
from medassist.clinics.models import Clinic
from medassist.core import clock
from medassist.events.models import OutboxMessage
from medassist.events.services import MAX_ATTEMPTS, Skip, register_handler
from medassist.hl7 import mllp
from medassist.hl7.ack import Ack, error_list, exchange
from medassist.hl7.people import local_time, patient_info, provider
from medassist.hl7.vxu import SITE, Administration, Sender, VisDocument, build_vxu
from medassist.immunizations import codes
from medassist.immunizations.models import (
    Funding,
    Immunization,
    RegistryConnection,
    RegistrySubmission,
)
from medassist.immunizations.services import VXU_KIND, age_in_years

log = logging.getLogger("medassist.hl7")

# OBX 30963-3 funding source (CDC IG value set CDCPHINVS, as in the NIST test messages): private
# funds PHC70, public funds VXC50. VFC, Section 317 and state stock are all public funds; which
# public program paid is told by the eligibility OBX (64994-7).
_FUNDING: dict[str, str] = {
    Funding.PRIVATE: "PHC70",
    Funding.VFC: "VXC50",
    Funding.PUBLIC_317: "VXC50",
    Funding.STATE: "VXC50",
}

FINAL = frozenset(
    {
        RegistrySubmission.Status.ACCEPTED,
        RegistrySubmission.Status.WARNING,
        RegistrySubmission.Status.ERROR,
        RegistrySubmission.Status.REJECTED,
    }
)


def _administration(dose: Immunization, action: str) -> Administration:
    vaccine = codes.catalog().vaccine(dose.cvx)
    manufacturer = codes.catalog().manufacturer(dose.mvx) if dose.mvx else None
    given_here = dose.source == Immunization.Source.NEW
    refused = dose.status == Immunization.Status.NOT_DONE
    vis = tuple(
        VisDocument(presented_on=dt.date.fromisoformat(v["presented"]), gdti=v["encoded"])
        for v in dose.vis
    )
    child = age_in_years(dose.patient.birth_date, dose.occurred_on) < 18
    # The clinic's local time: RXA-3 carries the day the dose was given where it was given.
    given_at = clock.localtime(dose.given_at) if dose.given_at else dose.occurred_on
    return Administration(
        record_id=str(dose.public_id),
        given_at=given_at,
        cvx=dose.cvx,
        cvx_text=vaccine.short_name if vaccine else dose.vaccine_name,
        ndc=dose.ndc.replace("-", "") if dose.ndc else "",
        ndc_text=dose.vaccine_name if dose.ndc else "",
        amount_ml=dose.dose_volume_ml if given_here and not refused else None,
        lot=dose.lot_number,
        expiry=dose.expires_on,
        mvx=dose.mvx,
        manufacturer_name=manufacturer.name if manufacturer else "",
        route=dose.route if given_here else "",
        # HL70163 has no code for the mouth or nose: an oral or nasal dose goes without RXR-2.
        site=dose.site if given_here and dose.site in SITE else "",
        administering_provider=(
            provider(dose.given_by, dose.given_by_title) if given_here and not refused else None
        ),
        ordering_provider=provider(dose.ordering_provider) if given_here else None,
        entered_by=provider(dose.created_by),
        facility_code=dose.clinic.code.upper(),
        historical=not given_here,
        information_source=dose.source,
        completion_status="RE" if refused else "CP",
        action=action,
        # NIP002: 00 parental decision, 03 patient decision
        refusal_reason=("00" if child else "03") if refused else "",
        refusal_text=dose.refusal_reason if refused else "",
        vfc_eligibility=dose.eligibility if given_here and not refused else "",
        funding_source=_FUNDING.get(dose.funding, "") if given_here and not refused else "",
        funding_source_text=(
            Funding(dose.funding).label if given_here and not refused and dose.funding else ""
        ),
        vis=vis if given_here and not refused else (),
    )


def build_message(submission: RegistrySubmission, connection: RegistryConnection | None) -> str:
    dose = Immunization.objects.select_related(
        "patient", "patient__clinic", "clinic", "given_by", "ordering_provider", "created_by"
    ).get(pk=submission.immunization_id)
    clinic: Clinic = dose.clinic
    sender = Sender(
        application="MEDASSIST",
        facility=(connection.sending_facility if connection else clinic.code.upper()),
        receiving_application=connection.receiving_application if connection else "IIS",
        receiving_facility=connection.receiving_facility if connection else "IIS",
        processing_id=connection.processing_id if connection else "P",
    )
    return build_vxu(
        sender,
        patient_info(dose.patient),
        [_administration(dose, submission.action)],
        control_id=submission.control_id,
        sent_at=local_time(submission.created_at),
    )


def vxu_for_immunization(public_id: str) -> str:
    """The VXU that reports this dose as added (for `medassist hl7 vxu ID`); no submission is
    created and nothing is sent."""
    dose = Immunization.objects.get(public_id=public_id)
    connection = RegistryConnection.objects.filter(clinic_id=dose.clinic_id).first()
    preview = RegistrySubmission(
        clinic_id=dose.clinic_id,
        immunization=dose,
        action="D" if dose.status == Immunization.Status.ENTERED_IN_ERROR else "A",
        control_id="PREVIEW",
        created_at=clock.now(),
    )
    return build_message(preview, connection)


class RegistryOff(Exception):
    """Not now: the message stays queued and is tried again later."""


def _not_now(submission: RegistrySubmission, message: OutboxMessage, reason: str) -> NoReturn:
    """Leave the submission waiting (the outbox retries with backoff); after the outbox's last
    attempt it is marked failed, so the manager sees it."""
    last = message.attempts >= MAX_ATTEMPTS
    RegistrySubmission.objects.filter(pk=submission.pk).update(
        last_error=reason[:300],
        attempts=message.attempts,
        status=RegistrySubmission.Status.FAILED if last else RegistrySubmission.Status.QUEUED,
    )
    raise RegistryOff(reason)


def _status(ack: Ack) -> str:
    if ack.code in {"AA", "CA"}:
        warned = any(e.severity in {"W", "I"} for e in ack.errors)
        return RegistrySubmission.Status.WARNING if warned else RegistrySubmission.Status.ACCEPTED
    if ack.code in {"AR", "CR"}:
        return RegistrySubmission.Status.REJECTED
    return RegistrySubmission.Status.ERROR


def deliver_vxu(message: OutboxMessage) -> str:
    submission = RegistrySubmission.objects.filter(pk=message.payload.get("submission")).first()
    if submission is None:
        raise Skip("the submission no longer exists")
    if submission.status in FINAL:
        raise Skip(f"already answered {submission.ack_code}")
    connection = RegistryConnection.objects.filter(
        clinic_id=submission.clinic_id, active=True
    ).first()
    if connection is None:
        # Reporting is off for now: keep the message waiting (retried with backoff, and by
        # `medassist events run` once the registry is set again), never drop it.
        _not_now(submission, message, "no active registry connection for the clinic")
    earlier = (
        RegistrySubmission.objects.filter(
            immunization_id=submission.immunization_id, created_at__lt=submission.created_at
        )
        .exclude(status__in=[*FINAL, RegistrySubmission.Status.FAILED])
        .exists()
    )
    if earlier:
        # The registry must see a dose's add, update and delete in the order they happened.
        _not_now(submission, message, "an earlier message about this dose is not yet answered")
    if not submission.message:
        try:
            text = build_message(submission, connection)
        except ValueError as error:
            # The record cannot be expressed as a VXU (a code the IG does not allow): sending it
            # again will not help; the manager sees why.
            RegistrySubmission.objects.filter(pk=submission.pk).update(
                status=RegistrySubmission.Status.FAILED,
                last_error=f"could not build the message: {error}"[:300],
                attempts=message.attempts,
            )
            raise Skip(f"could not build the VXU: {error}") from error
        RegistrySubmission.objects.filter(pk=submission.pk, message="").update(message=text)
        submission.refresh_from_db()
    RegistrySubmission.objects.filter(pk=submission.pk).update(attempts=message.attempts)
    try:
        ack = exchange(
            connection.host,
            connection.port,
            submission.message,
            control_id=submission.control_id,
            timeout=connection.timeout_seconds,
        )
    except (mllp.MllpError, ValueError) as error:
        last = message.attempts >= MAX_ATTEMPTS
        RegistrySubmission.objects.filter(pk=submission.pk).update(
            last_error=str(error)[:300],
            status=RegistrySubmission.Status.FAILED if last else RegistrySubmission.Status.QUEUED,
        )
        raise
    with transaction.atomic():
        RegistrySubmission.objects.filter(pk=submission.pk).update(
            status=_status(ack),
            ack_code=ack.code,
            ack_text=ack.text[:500],
            ack_errors=error_list(ack),
            ack_raw=ack.raw,
            last_error="",
            answered_at=clock.now(),
        )
        # A disclosure of PHI to public health, kept for the accounting of disclosures
        # (HIPAA 45 CFR 164.528): who was sent what, where, and what they answered.
        record(
            Actor.system("hl7"),
            Action.EXPORT,
            "Immunization",
            patient=submission.immunization.patient,
            clinic_id=submission.clinic_id,
            entity_id=str(submission.immunization.public_id),
            description=(
                f"VXU {submission.control_id} (action {submission.action}) to the immunization "
                f"registry {connection.host}:{connection.port}: {ack.code}"
            ),
            outcome=Outcome.SUCCESS if ack.accepted else Outcome.FAILED,
            username="system:registry",
        )
    return f"VXU {submission.control_id}: {ack.code}"


def register() -> None:
    register_handler(VXU_KIND, deliver_vxu)
