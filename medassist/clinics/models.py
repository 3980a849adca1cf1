from django.conf import settings
from django.db import models

from medassist.access.roles import Role
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
