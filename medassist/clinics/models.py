import uuid

from django.conf import settings
from django.db import models

from medassist.access.roles import Role
from medassist.core import clock
from medassist.core.models import PublicModel


class Network(PublicModel):
    """A clinic network (organization): the scope in which a medical record number is unique."""

    name = models.CharField(max_length=200)
    next_mrn = models.PositiveBigIntegerField(default=1_000_000)

    def __str__(self) -> str:
        return self.name


class Clinic(PublicModel):
    """A site where patients are seen. Patient data never crosses from one clinic to another."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="clinics")
    name = models.CharField(max_length=200)
    code = models.SlugField(max_length=20, unique=True)
    phone = models.CharField(max_length=30, blank=True)
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(
        max_length=2, blank=True, help_text="USPS code; drives scope of practice"
    )
    postal_code = models.CharField(max_length=10, blank=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A person's role at a clinic. One person may hold different roles at different clinics."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=30, choices=Role.choices)
    title = models.CharField(max_length=60, blank=True, help_text="e.g. CCMA, MD, NP")
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "clinic", "role"], name="one_role_per_clinic")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} @ {self.clinic}"


class Room(models.Model):
    """An exam or procedure room. A patient is roomed only in a ready room; when the patient
    leaves, the room is dirty until someone cleans it (who and when is kept in RoomStatusChange).
    """

    class Status(models.TextChoices):
        DIRTY = "dirty", "Dirty"
        CLEANING = "cleaning", "Being cleaned"
        READY = "ready", "Ready"
        OCCUPIED = "occupied", "Occupied"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="rooms")
    name = models.CharField(max_length=40)
    kind = models.CharField(max_length=40, default="exam", help_text="exam, procedure, ...")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.READY)
    status_since = models.DateTimeField(default=clock.now)
    status_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sort_order = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["clinic", "sort_order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "name"], name="room_name_unique_in_clinic")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY


class RoomStatusChange(models.Model):
    """The room's log: who cleaned it and when (infection control asks for it)."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="changes")
    status = models.CharField(max_length=10, choices=Room.Status.choices)
    at = models.DateTimeField(default=clock.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["room", "at"])]

    def __str__(self) -> str:
        return f"{self.room_id} {self.status} at {self.at:%Y-%m-%d %H:%M}"
