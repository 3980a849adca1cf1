"""The outbox: work to do after a transaction commits (reminders now; alerts and HL7 sends
later). A message is written in the same transaction as the change that causes it, so it exists
exactly when the change does, and is delivered after commit by events.services.process_outbox
(right away through transaction.on_commit, and again by `medassist events run` for retries)."""

from django.db import models

from medassist.core import clock


class OutboxMessage(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"  # gave up after the last retry
        SKIPPED = "skipped", "Skipped"  # nothing to send (opted out, visit cancelled)

    kind = models.CharField(max_length=60, help_text="e.g. appointment.reminder")
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    available_at = models.DateTimeField(default=clock.now, help_text="not before this time")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=clock.now, editable=False)
    # What the message is about, for showing delivery status beside it (e.g. an appointment's
    # public id); no foreign key, so the outbox serves every app without depending on any.
    subject = models.CharField(max_length=64, blank=True, db_index=True)
    detail = models.CharField(max_length=200, blank=True, help_text="what was done, no PHI")

    class Meta:
        ordering = ["available_at", "id"]
        indexes = [models.Index(fields=["status", "available_at"])]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} {self.status}"
