import datetime as dt

from medassist.core import clock
from medassist.encounters.models import Encounter


def make_visit(patient, provider, *, stage="scheduled", start=None, **fields):  # type: ignore[no-untyped-def]
    """A visit of `patient` with `provider` today (or at `start`), at the patient's clinic."""
    start = start or clock.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    return Encounter.objects.create(
        patient=patient,
        clinic_id=patient.clinic_id,
        provider=provider,
        stage=stage,
        period_start=start,
        **fields,
    )
