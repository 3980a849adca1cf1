import datetime as dt
import itertools

from medassist.encounters.models import Encounter
from medassist.history.models import NO_KNOWN_ALLERGY_SNOMED, Allergy
from medassist.patients.models import Patient
from medassist.patients.services import fill_search_keys, index_spellings

_mrn = itertools.count(5_000_000)


def make_patient(
    clinic,
    *,
    family="Rivera",
    given="Maria",
    birth_date=dt.date(1980, 3, 4),
    sex="female",
    **fields,
) -> Patient:
    patient = Patient(
        clinic=clinic,
        network_id=clinic.network_id,
        mrn=str(next(_mrn)),
        family=family,
        given=given,
        birth_date=birth_date,
        sex=sex,
        **fields,
    )
    fill_search_keys(patient)
    patient.save()
    index_spellings([patient.family_key, patient.given_key])
    return patient


def make_encounter(patient, provider, *, start=None, **fields) -> Encounter:
    return Encounter.objects.create(
        patient=patient,
        clinic=patient.clinic,
        provider=provider,
        period_start=start or dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC),
        **fields,
    )


def make_allergy(patient, substance="Penicillin", **fields) -> Allergy:
    return Allergy.objects.create(patient=patient, substance=substance, **fields)


def record_no_known_allergies(patient) -> Allergy:
    return Allergy.objects.create(
        patient=patient,
        substance="No known allergies",
        code_system="http://snomed.info/sct",
        code=NO_KNOWN_ALLERGY_SNOMED,
        verification="confirmed",
    )
