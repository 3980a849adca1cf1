from enum import StrEnum


class Permission(StrEnum):
    """What a person may do. Roles grant sets of these (roles.py); can() decides (policies.py)."""

    VIEW_PATIENT = "patient.view"
    REGISTER_PATIENT = "patient.register"
    EDIT_PATIENT = "patient.edit"
    PRINT_CHART = "patient.print"
    VIEW_ENCOUNTER = "encounter.view"
    EDIT_ENCOUNTER = "encounter.edit"
    EMERGENCY_ACCESS = "patient.emergency_access"
    VIEW_AUDIT = "audit.view"
    EXPORT_AUDIT = "audit.export"
    MANAGE_STAFF = "staff.manage"
