"""The pre-visit list's immunization check: vaccines due or overdue on the visit day, from the
CDSi forecast, for all of the day's patients in two queries."""

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from medassist.immunizations import forecasting
from medassist.immunizations.models import Immunization, PatientIndication


def immunizations_due(patients: Sequence[Any], day: dt.date) -> dict[int, list[str]]:
    ids = [p.pk for p in patients]
    doses: dict[int, list[Immunization]] = defaultdict(list)
    for dose in Immunization.objects.filter(patient_id__in=ids).order_by("occurred_on", "id"):
        doses[dose.patient_id].append(dose)
    indications: dict[int, list[PatientIndication]] = defaultdict(list)
    for indication in PatientIndication.objects.filter(patient_id__in=ids, active=True):
        indications[indication.patient_id].append(indication)
    out: dict[int, list[str]] = {}
    for patient in patients:
        result = forecasting.run(
            birth_date=patient.birth_date,
            sex=patient.sex,
            doses=doses[patient.pk],
            indications=indications[patient.pk],
            on=day,
        )
        lines = [line for line in forecasting.summarise(result, day) if line.actionable]
        if lines:
            overdue = [line.group for line in lines if line.status == forecasting.OVERDUE]
            due = [line.group for line in lines if line.status == forecasting.DUE]
            text = []
            if overdue:
                text.append("Vaccines overdue: " + ", ".join(overdue))
            if due:
                text.append("Vaccines due: " + ", ".join(due))
            out[patient.pk] = text
    return out
