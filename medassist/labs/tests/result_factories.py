"""Test data for results: a performing lab, a catalog test, an order with its specimen (built
directly on the models, independent of the order services), and the parsed result message the
HL7 adapter would hand to file_results().

LOINC codes are real (https://loinc.org): 2823-3 potassium [moles/volume] in serum or plasma,
2951-2 sodium [moles/volume] in serum or plasma, 2345-7 glucose [mass/volume] in serum or
plasma, 13457-7 LDL cholesterol (calculated), 41653-7 glucose [mass/volume] in capillary blood
by glucometer, 78012-2 Streptococcus pyogenes antigen [presence] in throat by rapid immunoassay.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from medassist.access.actor import Actor
from medassist.core import clock
from medassist.labs.draw import Container
from medassist.labs.intake import IncomingReport, IncomingResult, IncomingResults
from medassist.labs.models import (
    CustodyEvent,
    InboundMessage,
    LabOrder,
    LabReport,
    LabRequisition,
    LabTest,
    PerformingLab,
    Specimen,
    SpecimenType,
)
from medassist.labs.services import results as services
from medassist.patients.tests.factories import make_patient

POTASSIUM = "2823-3"
SODIUM = "2951-2"
GLUCOSE = "2345-7"
LDL = "13457-7"
POC_GLUCOSE = "41653-7"
RAPID_STREP = "78012-2"

_n = itertools.count(1)
T0 = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)


def make_lab(clinic: Any, *, name: str = "Prairie Reference Laboratory") -> PerformingLab:
    n = next(_n)
    return PerformingLab.objects.create(
        clinic=clinic, name=name, facility=f"PRL{n}", clinic_facility=f"{clinic.code.upper()}{n}"
    )


def make_test(
    clinic: Any,
    lab: PerformingLab,
    *,
    loinc: str = POTASSIUM,
    name: str = "Potassium",
    container: str = Container.GOLD_SST,
    specimen_type: str = SpecimenType.SERUM,
) -> LabTest:
    return LabTest.objects.create(
        clinic=clinic,
        lab=lab,
        loinc=loinc,
        name=name,
        lab_code=f"T{next(_n)}",
        specimen_type=specimen_type,
        container=container,
    )


def make_order(
    patient: Any,
    provider: Any,
    *,
    lab: PerformingLab | None = None,
    test: LabTest | None = None,
    encounter: Any = None,
    stage: str = LabOrder.Stage.IN_TRANSIT,
    specimen: bool = True,
    collected_at: dt.datetime = T0,
) -> LabOrder:
    """An order of `test` for `patient` by `provider`, its specimen collected and handed to the
    courier (the state a result finds it in)."""
    clinic = patient.clinic
    lab = lab or make_lab(clinic)
    test = test or make_test(clinic, lab)
    n = next(_n)
    requisition = LabRequisition.objects.create(
        clinic=clinic,
        patient=patient,
        encounter=encounter,
        lab=lab,
        number=f"REQ{n:06d}",
        ordered_by=provider,
    )
    order = LabOrder.objects.create(
        clinic=clinic,
        patient=patient,
        requisition=requisition,
        test=test,
        placer_number=f"PL{n:06d}",
        stage=stage,
    )
    if specimen:
        s = Specimen.objects.create(
            clinic=clinic,
            patient=patient,
            requisition=requisition,
            accession=f"AC{n:08d}",
            container=test.container,
            specimen_type=test.specimen_type,
            status=Specimen.Status.IN_TRANSIT,
            collected_at=collected_at,
            method=Specimen.Method.VENIPUNCTURE,
        )
        s.orders.add(order)
        CustodyEvent.objects.create(specimen=s, step=CustodyEvent.Step.COLLECTED, at=collected_at)
    return order


def result(
    value: str | None = "4.2",
    *,
    loinc: str = POTASSIUM,
    name: str = "Potassium",
    unit: str = "mmol/L",
    reference: str = "3.5-5.1",
    flag: str = "",
    sequence: int = 1,
    status: str = "final",
    value_type: str = "NM",
    text: str = "",
    observed_at: dt.datetime | None = None,
) -> IncomingResult:
    return IncomingResult(
        sequence=sequence,
        loinc=loinc,
        name=name,
        value_type=value_type,
        value_number=Decimal(value) if value is not None else None,
        value_text=text,
        unit=unit,
        reference_text=reference,
        flag=flag,
        status=status,
        observed_at=observed_at,
        location=f"OBX[{sequence}]",
    )


def report_for(
    order: LabOrder,
    *results: IncomingResult,
    status: str = "final",
    placer: str | None = None,
    index: int = 1,
    note: str = "",
    received_at: dt.datetime | None = None,
    collected_at: dt.datetime | None = T0,
    issued_at: dt.datetime | None = None,
) -> IncomingReport:
    return IncomingReport(
        placer_number=order.placer_number if placer is None else placer,
        filler_number=f"F-{order.placer_number}",
        loinc=order.test.loinc,
        name=order.test.name,
        status=status,
        collected_at=collected_at,
        received_at=received_at,
        issued_at=issued_at,
        results=tuple(results) if results or status == "cancelled" else (result(),),
        note=note,
        location=f"OBR[{index}]",
    )


def message_for(
    patient: Any,
    *reports: IncomingReport,
    mrn: str | None = None,
    family: str | None = None,
    birth_date: dt.date | None | str = "same",
    control_id: str | None = None,
) -> IncomingResults:
    return IncomingResults(
        control_id=control_id or f"MSG{next(_n)}",
        patient_mrn=patient.mrn if mrn is None else mrn,
        patient_family=patient.family if family is None else family,
        patient_given=patient.given,
        patient_birth_date=patient.birth_date if birth_date == "same" else birth_date,  # type: ignore[arg-type]
        reports=tuple(reports),
    )


def file(order: LabOrder, *results: IncomingResult, status: str = "final", **kw: Any) -> LabReport:
    """File one report for `order` as the lab would send it."""
    lab = order.requisition.lab
    message = message_for(order.patient, report_for(order, *results, status=status, **kw))
    return services.file_results(lab=lab, message=message)[0]


def make_reviewer(clinic: Any, username: str = "hana") -> Any:
    """A second provider (REVIEW_LAB_RESULTS) at `clinic`: the cast has one per clinic."""
    from django.contrib.auth import get_user_model

    from medassist.access.roles import Role
    from medassist.clinics.models import Membership

    user = get_user_model().objects.create_user(
        username, f"{username}@example.org", "x", first_name="Hana", last_name="Reyes"
    )
    Membership.objects.create(user=user, clinic=clinic, role=Role.PROVIDER, title="MD")
    return user


def oru(
    order: LabOrder,
    *,
    control_id: str,
    value: str = "6.8",
    flag: str = "HH",
    status: str = "F",
    issued: str = "20261120160000",
    facility: str | None = None,
    clinic_facility: str | None = None,
    note: str = "",
) -> str:
    """An HL7 v2.5.1 ORU^R01 for `order` as the lab would send it (one potassium OBX), for the
    error queue's Retry through the HL7 adapter's refiler."""
    lab, patient = order.requisition.lab, order.patient
    segments = [
        f"MSH|^~\\&|LAB|{lab.facility if facility is None else facility}|MEDASSIST|"
        f"{lab.clinic_facility if clinic_facility is None else clinic_facility}|"
        f"20261120160000||ORU^R01|{control_id}|P|2.5.1",
        f"PID|1||{patient.mrn}^^^^MR||{patient.family}^{patient.given}||"
        f"{patient.birth_date:%Y%m%d}",
        f"OBR|1|{order.placer_number}||2823-3^Potassium^LN|||20261120150000"
        f"{'|' * 15}{issued}|||{status}",
        f"OBX|1|NM|2823-3^Potassium^LN||{value}|mmol/L|3.5-5.1|{flag}|||{status}",
    ]
    if note:
        segments.append(f"NTE|1|L|{note}")
    return "\r".join(segments) + "\r"


def critical_potassium(order: LabOrder) -> LabReport:
    return file(order, result("6.8", flag="HH"))


def release(report: LabReport, provider: Any, text: str = "Your potassium is fine.") -> LabReport:
    return services.release_report(actor=Actor.for_user(provider), report=report, message=text)


def queued_message(clinic: Any, lab: PerformingLab | None = None, **fields: Any) -> InboundMessage:
    """A result message in the error queue, as the HL7 adapter stores one it could not file."""
    n = next(_n)
    values: dict[str, Any] = {
        "clinic": clinic,
        "lab": lab,
        "sender": f"LAB^PRL{n}",
        "control_id": f"Q{n}",
        "message_type": "ORU^R01",
        "raw": f"MSH|^~\\&|LAB|PRL|MA|NORTH|20261120||ORU^R01|Q{n}|P|2.5.1\r"
        "PID|1||999||Nobody^Nemo\r"
        "OBR|1|PL-UNKNOWN||2823-3^Potassium^LN\rOBX|1|NM|2823-3^Potassium^LN||4.2|mmol/L",
        "status": InboundMessage.Status.ERROR,
        "errors": [{"location": "OBR[1]-2", "text": "No order PL-UNKNOWN", "code": "204"}],
        "ack": f"MSH|^~\\&|MA|NORTH|LAB|PRL|20261120||ACK|A{n}|P|2.5.1\rMSA|AE|Q{n}\r"
        "ERR||OBR^1^2|204|E",
        "ack_code": "AE",
        "received_at": clock.now(),
    }
    values.update(fields)
    return InboundMessage.objects.create(**values)


# -- North objects for the repository-wide route tests (tests/test_outsiders.py) -------------------


def north_report(cast: Any) -> str:
    """A critical, unreviewed, unreleased North report: every report action would change it."""
    patient = make_patient(cast.north, family="Northerner", given="Rhea")
    return str(critical_potassium(make_order(patient, cast.bob)).public_id)


def north_result_alert(cast: Any) -> str:
    """An open critical-result alert of a North report, owned by Bob."""
    report = LabReport.objects.get(public_id=north_report(cast))
    return str(report.alerts.get().public_id)


def north_lab_patient(cast: Any) -> str:
    """A North patient with a released potassium result (results and trends pages)."""
    patient = make_patient(cast.north, family="Northerner", given="Lars")
    release(file(make_order(patient, cast.bob)), cast.bob)
    return str(patient.public_id)


def north_inbound_message(cast: Any) -> str:
    """A North result message in the error queue, which the manager could retry or dismiss."""
    return str(queued_message(cast.north, make_lab(cast.north)).public_id)
