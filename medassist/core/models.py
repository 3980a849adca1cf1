import uuid

from django.conf import settings
from django.db import models

from medassist.core import clock


class PublicModel(models.Model):
    """Base for domain records: a public UUID for URLs and FHIR ids (integer keys never leave
    the server), and who created and last changed the record, when."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(default=clock.now, editable=False)
    updated_at = models.DateTimeField(default=clock.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        abstract = True
