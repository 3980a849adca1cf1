import datetime as dt

from medassist.core import clock
from medassist.encounters.models import Encounter
from medassist.history.models import Medication
from medassist.patients.tests.factories import make_encounter, make_patient


def roomed_visit(
    cast, *, birth_date=dt.date(1980, 3, 4), visit_type="Annual physical", **fields
) -> Encounter:  # type: ignore[no-untyped-def]
    """A North visit of today with the patient in the room, Alice rooming."""
    patient = make_patient(
        cast.north, family=fields.pop("family", "Rivera"), given="Maria", birth_date=birth_date
    )
    fields.setdefault("stage", Encounter.Stage.ROOMED)
    return make_encounter(
        patient,
        cast.bob,
        start=clock.now(),
        visit_type=visit_type,
        medical_assistant=cast.alice,
        **fields,
    )


def make_medication(patient, name="Lisinopril", **fields) -> Medication:  # type: ignore[no-untyped-def]
    fields.setdefault("dose", "10 mg")
    fields.setdefault("route", "oral")
    fields.setdefault("frequency", "once daily")
    return Medication.objects.create(patient=patient, name=name, **fields)


PHQ2_NEGATIVE = {"44250-9": "0", "44255-8": "1"}
PHQ2_POSITIVE = {"44250-9": "2", "44255-8": "1"}
HRSN_NONE = {
    "71802-3": "steady",
    "96778-6": ["none"],
    "88122-7": "never",
    "88123-5": "never",
    "93030-5": "no",
    "96779-4": "no",
    "95618-5": "1",
    "95617-7": "1",
    "95616-9": "1",
    "95615-1": "1",
}
