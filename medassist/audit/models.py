from django.conf import settings
from django.db import models

from medassist.core import clock


class Action(models.TextChoices):
    READ = "read", "Read"
    SEARCH = "search", "Search"
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"
    PRINT = "print", "Print"
    EXPORT = "export", "Export"
    LOGIN = "login", "Log in"
    LOGIN_FAILED = "login_failed", "Failed log-in"
    LOGOUT = "logout", "Log out"
    TIMEOUT = "timeout", "Session timed out"
    EMERGENCY_ACCESS = "emergency_access", "Emergency access"


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    DENIED = "denied", "Denied"
    FAILED = "failed", "Failed"


class AuditEvent(models.Model):
    """One entry of the audit trail (ASTM E2147: who, which patient, which data, what action,
    when, from where, with what outcome). Append-only: PostgreSQL refuses UPDATE and DELETE
    (trigger in migration 0002); on any database `medassist audit verify` detects a change
    through the hash chain. Foreign keys carry no database constraint so that no cascade can
    ever touch an entry."""

    occurred_at = models.DateTimeField(default=clock.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        related_name="+",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
    )
    username = models.CharField(max_length=150, blank=True)
    roles = models.CharField(max_length=200, blank=True)
    clinic = models.ForeignKey(
        "clinics.Clinic",
        null=True,
        blank=True,
        related_name="+",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
    )
    patient = models.ForeignKey(
        "patients.Patient",
        null=True,
        blank=True,
        related_name="+",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
    )
    action = models.CharField(max_length=20, choices=Action.choices, db_index=True)
    entity_type = models.CharField(
        max_length=60, help_text="which data, e.g. Patient, Patient.search"
    )
    entity_id = models.CharField(max_length=64, blank=True)
    description = models.CharField(max_length=500, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    reason = models.CharField(max_length=500, blank=True)
    channel = models.CharField(max_length=10, default="web")
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["patient", "occurred_at"]),
            models.Index(fields=["user", "occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.username} {self.action} {self.entity_type} {self.outcome}"

    def hashed_fields(self) -> dict[str, object]:
        """The content the hash covers: everything but the id and the hashes themselves."""
        return {
            "occurred_at": self.occurred_at.isoformat(),
            "user_id": self.user_id,
            "username": self.username,
            "roles": self.roles,
            "clinic_id": self.clinic_id,
            "patient_id": self.patient_id,
            "action": self.action,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "description": self.description,
            "outcome": self.outcome,
            "reason": self.reason,
            "channel": self.channel,
            "source_ip": self.source_ip,
            "user_agent": self.user_agent,
        }
