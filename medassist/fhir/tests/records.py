"""One North record of each resource the API serves, for the tests of read and search."""

import datetime as dt
from decimal import Decimal
from typing import Any

from medassist.fhir.mappers.common import practitioner_id
from medassist.fhir.mappers.schedule import schedule_id
from medassist.history.models import Condition, Medication, SmokingStatus
from medassist.patients.tests.factories import make_allergy, make_encounter
from medassist.rooming.models import ScreeningResponse
from medassist.scheduling.models import Appointment, AppointmentType, ScheduleTemplate
from medassist.vitals.models import Measure, VitalAlert, VitalSet, VitalSign

AT = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)


def make_appointment_type(clinic: Any, code: str = "follow-up", minutes: int = 20) -> Any:
    return AppointmentType.objects.get_or_create(
        clinic=clinic,
        code=code,
        defaults={
            "name": code.replace("-", " ").capitalize(),
            "minutes": minutes,
            "color": "#336699",
        },
    )[0]


def make_appointment(patient: Any, provider: Any, *, start: dt.datetime = AT, **fields: Any) -> Any:
    kind = make_appointment_type(patient.clinic)
    encounter = make_encounter(patient, provider, start=start, **fields)
    return Appointment.objects.create(
        clinic=patient.clinic,
        patient=patient,
        provider=provider,
        appointment_type=kind,
        encounter=encounter,
        start=start,
        end=start + dt.timedelta(minutes=kind.minutes),
        reason="Blood pressure recheck",
    )


def make_screening(encounter: Any, **fields: Any) -> ScreeningResponse:
    values: dict[str, Any] = {
        "instrument": "55757-9",
        "title": "PHQ-2",
        "answers": {"44250-9": "1", "44255-8": "2"},
        "total_score": 3,
        "total_loinc": "55758-7",
        "interpretation": "Positive depression screen: complete the PHQ-9",
        "positive": True,
        "at": AT,
    }
    values.update(fields)
    return ScreeningResponse.objects.create(
        encounter=encounter, patient=encounter.patient, **values
    )


def make_template(clinic: Any, provider: Any, weekday: int = 4) -> ScheduleTemplate:
    return ScheduleTemplate.objects.create(
        clinic=clinic,
        provider=provider,
        weekday=weekday,
        start_time=dt.time(8, 0),
        end_time=dt.time(12, 0),
        slot_minutes=20,
    )


def make_critical_bp(encounter: Any, by: Any, at: dt.datetime = AT) -> VitalAlert:
    """A blood pressure of 190/125 at the visit, flagged critical, and the alert (FHIR Task) it
    raised for the visit's provider: rows as record_vitals() leaves them."""
    patient = encounter.patient
    vital_set = VitalSet.objects.create(
        patient=patient, clinic=encounter.clinic, encounter=encounter, taken_at=at, by=by
    )
    sign = VitalSign.objects.create(
        vital_set=vital_set,
        patient=patient,
        clinic=encounter.clinic,
        encounter=encounter,
        measure=Measure.BLOOD_PRESSURE,
        effective=at,
        value=Decimal(190),
        value2=Decimal(125),
        unit="mm[Hg]",
        flag="HH",
        category="crisis",
        interpretation="Hypertensive crisis",
        range_high=Decimal(120),
        range_unit="mm[Hg]",
        source="ACC/AHA 2017 blood pressure categories (2017).",
        by=by,
    )
    return VitalAlert.objects.create(
        clinic=encounter.clinic,
        patient=patient,
        encounter=encounter,
        sign=sign,
        owner=encounter.provider,
        trigger="bp_crisis",
        reason="Blood pressure 190/125 mmHg: hypertensive crisis",
        raised_at=at,
    )


def north_records(cast: Any, patient: Any) -> dict[str, str]:
    """The id of one North record of each type, keyed by resource type."""
    appointment = make_appointment(patient, cast.bob, medical_assistant=cast.alice)
    encounter = appointment.encounter
    allergy = make_allergy(patient)
    medication = Medication.objects.create(patient=patient, name="Lisinopril 10 mg tablet")
    condition = Condition.objects.create(
        patient=patient, category=Condition.Category.PROBLEM, description="Hypertension"
    )
    make_screening(encounter)
    SmokingStatus.objects.create(patient=patient, code=SmokingStatus.Value.NEVER)
    make_template(cast.north, cast.bob)
    alert = make_critical_bp(encounter, cast.alice)
    return {
        "Patient": str(patient.public_id),
        "Encounter": str(encounter.public_id),
        "AllergyIntolerance": str(allergy.public_id),
        "MedicationRequest": str(medication.public_id),
        "Condition": str(condition.public_id),
        "Appointment": str(appointment.public_id),
        "Schedule": schedule_id(cast.north.pk, cast.bob.pk),
        "Practitioner": practitioner_id(cast.bob.pk),
        "Observation": f"{encounter.public_id}-55757-9",
        "QuestionnaireResponse": f"{encounter.public_id}-55757-9",
        "Task": str(alert.public_id),
        "VitalSign": str(alert.sign.public_id),
    }
