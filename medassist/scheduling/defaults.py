"""The appointment types a primary-care clinic usually books, as the demo and a new clinic start
with them. Lengths follow common family-medicine templates (new patient and physicals get a
longer slot; immunization-only is a nurse visit); colors are distinct for color-blind readers
(Okabe-Ito palette, with text kept dark on the light ones)."""

from medassist.scheduling.models import AppointmentType

# code, name, minutes, color, kind, same_day_only
STANDARD_TYPES: tuple[tuple[str, str, int, str, str, bool], ...] = (
    ("new-patient", "New patient", 40, "#0072B2", AppointmentType.Kind.AMBULATORY, False),
    ("follow-up", "Follow-up", 20, "#56B4E9", AppointmentType.Kind.AMBULATORY, False),
    ("physical", "Annual physical", 40, "#009E73", AppointmentType.Kind.AMBULATORY, False),
    ("well-child", "Well child", 30, "#F0E442", AppointmentType.Kind.AMBULATORY, False),
    ("immunization", "Immunization only", 10, "#E69F00", AppointmentType.Kind.AMBULATORY, False),
    ("procedure", "Procedure", 30, "#D55E00", AppointmentType.Kind.AMBULATORY, False),
    ("telehealth", "Telehealth", 20, "#CC79A7", AppointmentType.Kind.VIRTUAL, False),
    ("same-day", "Same-day / acute", 20, "#999999", AppointmentType.Kind.AMBULATORY, True),
)


def create_standard_types(clinic) -> dict[str, AppointmentType]:  # type: ignore[no-untyped-def]
    """The standard types for `clinic` (existing codes are left as they are)."""
    made = {}
    for order, (code, name, minutes, color, kind, same_day) in enumerate(STANDARD_TYPES):
        made[code], _ = AppointmentType.objects.get_or_create(
            clinic=clinic,
            code=code,
            defaults={
                "name": name,
                "minutes": minutes,
                "color": color,
                "kind": kind,
                "same_day_only": same_day,
                "sort_order": order,
            },
        )
    return made
