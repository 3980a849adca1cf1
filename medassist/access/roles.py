from django.db import models

from medassist.access.permissions import Permission as P


class Role(models.TextChoices):
    MEDICAL_ASSISTANT = "medical_assistant", "Medical assistant"
    PROVIDER = "provider", "Provider"
    NURSE = "nurse", "Nurse"
    FRONT_DESK = "front_desk", "Front desk"
    CLINIC_MANAGER = "clinic_manager", "Clinic manager"
    COMPLIANCE_AUDITOR = "compliance_auditor", "Compliance auditor"
    ADMINISTRATOR = "administrator", "Administrator"


_CLINICAL = frozenset(
    {
        P.VIEW_PATIENT,
        P.REGISTER_PATIENT,
        P.EDIT_PATIENT,
        P.PRINT_CHART,
        P.VIEW_ENCOUNTER,
        P.EDIT_ENCOUNTER,
        P.EMERGENCY_ACCESS,
    }
)

_FRONT = frozenset(
    {
        P.VIEW_PATIENT,
        P.REGISTER_PATIENT,
        P.EDIT_PATIENT,
        P.PRINT_CHART,
        P.VIEW_ENCOUNTER,
        P.VIEW_SCHEDULE,
        P.BOOK_APPOINTMENT,
        P.VIEW_FLOW_BOARD,
        P.CHECK_IN,
        P.CHECK_OUT,
        P.VIEW_IMMUNIZATIONS,  # printing a school or camp immunization record
    }
)
# What an MA or nurse does on the clinic day; scope of practice by state narrows it later.
_ROOMING = _CLINICAL | _FRONT | {P.ROOM_PATIENT, P.CLEAN_ROOM, P.RECORD_VITALS}
# Giving vaccines under standing orders, keeping the fridge (CDC Vaccine Storage and Handling
# Toolkit: staff who handle vaccine keep the inventory and temperature logs).
_VACCINES = frozenset(
    {
        P.VIEW_IMMUNIZATIONS,
        P.ADMINISTER_VACCINE,
        P.RECORD_HISTORICAL_DOSE,
        P.MANAGE_VACCINE_STOCK,
    }
)
# Collecting specimens and running CLIA-waived tests (CLIA 42 CFR 493.15: waived tests by
# trained staff following the manufacturer's instructions, including its QC).
_LAB_WORK = frozenset({P.VIEW_LAB_ORDERS, P.COLLECT_SPECIMEN, P.RUN_POCT, P.RUN_QC})

# Least privilege (HIPAA 164.308(a)(4)): the auditor reads the trail, not the charts.
ROLE_PERMISSIONS: dict[str, frozenset[P]] = {
    Role.MEDICAL_ASSISTANT: _ROOMING | _VACCINES | _LAB_WORK,
    Role.NURSE: _ROOMING | _VACCINES | _LAB_WORK,
    Role.PROVIDER: _CLINICAL
    | _VACCINES
    | _LAB_WORK
    | {
        P.ORDER_LABS,
        P.REVIEW_LAB_RESULTS,
        P.ORDER_VACCINE,
        P.MANAGE_STANDING_ORDERS,
        P.VIEW_SCHEDULE,
        P.VIEW_FLOW_BOARD,
        P.ROOM_PATIENT,
        P.SEE_PATIENT,
        P.VIEW_CLINIC_REPORTS,
        P.RECORD_VITALS,
        P.ACKNOWLEDGE_ALERT,
    },
    Role.FRONT_DESK: _FRONT,
    Role.CLINIC_MANAGER: frozenset(
        {
            P.VIEW_PATIENT,
            P.VIEW_ENCOUNTER,
            P.PRINT_CHART,
            P.MANAGE_STAFF,
            P.VIEW_SCHEDULE,
            P.BOOK_APPOINTMENT,
            P.MANAGE_SCHEDULE,
            P.VIEW_FLOW_BOARD,
            P.CLEAN_ROOM,
            P.VIEW_CLINIC_REPORTS,
            P.ACKNOWLEDGE_ALERT,  # once an alert has escalated to the manager
            P.MANAGE_VITALS_POLICY,
            P.VIEW_IMMUNIZATIONS,
            P.MANAGE_VACCINE_STOCK,
            P.REVIEW_REGISTRY,
            P.MANAGE_IMMUNIZATION_SETTINGS,
            P.VIEW_LAB_ORDERS,
            P.MANAGE_LAB_CATALOG,
            P.MANAGE_LAB_INTERFACE,
            P.MANAGE_POCT,
        }
    ),
    Role.COMPLIANCE_AUDITOR: frozenset({P.VIEW_AUDIT, P.EXPORT_AUDIT}),
    Role.ADMINISTRATOR: frozenset({P.MANAGE_STAFF, P.VIEW_AUDIT}),
}

# ONC 170.315(d)(13): multi-factor authentication; required where the role reaches everything.
MFA_REQUIRED_ROLES = frozenset({Role.ADMINISTRATOR, Role.COMPLIANCE_AUDITOR})


def permissions_for(roles: frozenset[str] | set[str]) -> frozenset[P]:
    granted: set[P] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(granted)
