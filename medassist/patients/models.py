import datetime as dt

from django.conf import settings
from django.db import models

from medassist.core import clock
from medassist.core.models import PublicModel


class AdministrativeSex(models.TextChoices):
    """FHIR administrative-gender, as US Core Patient.gender."""

    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class BirthSex(models.TextChoices):
    """US Core birth sex extension (HL7 v3 AdministrativeGender + NullFlavor)."""

    FEMALE = "F", "Female"
    MALE = "M", "Male"
    UNKNOWN = "UNK", "Unknown"
    ASKED_DECLINED = "ASKU", "Asked but declined"


class GenderIdentity(models.TextChoices):
    """US Core gender identity value set (SNOMED CT codes and null flavors)."""

    FEMALE = "446141000124107", "Identifies as female gender"
    MALE = "446151000124109", "Identifies as male gender"
    NONBINARY = "33791000087105", "Identifies as nonbinary gender"
    OTHER = "OTH", "Other"
    ASKED_DECLINED = "ASKU", "Asked but declined"
    UNKNOWN = "UNK", "Unknown"


class Race(models.TextChoices):
    """OMB race categories (CDC Race & Ethnicity code system 2.16.840.1.113883.6.238)."""

    AMERICAN_INDIAN = "1002-5", "American Indian or Alaska Native"
    ASIAN = "2028-9", "Asian"
    BLACK = "2054-5", "Black or African American"
    PACIFIC_ISLANDER = "2076-8", "Native Hawaiian or Other Pacific Islander"
    WHITE = "2106-3", "White"
    ASKED_DECLINED = "ASKU", "Asked but declined"
    UNKNOWN = "UNK", "Unknown"


class Ethnicity(models.TextChoices):
    """OMB ethnicity categories (CDC Race & Ethnicity code system)."""

    HISPANIC = "2135-2", "Hispanic or Latino"
    NOT_HISPANIC = "2186-5", "Not Hispanic or Latino"
    ASKED_DECLINED = "ASKU", "Asked but declined"
    UNKNOWN = "UNK", "Unknown"


# BCP-47 codes of the languages most often needed in US clinics (US Census ACS top languages).
LANGUAGES = {
    "en": "English",
    "es": "Spanish",
    "zh": "Chinese",
    "vi": "Vietnamese",
    "tl": "Tagalog",
    "ar": "Arabic",
    "ko": "Korean",
    "ru": "Russian",
    "fr": "French",
    "ht": "Haitian Creole",
    "de": "German",
    "pt": "Portuguese",
    "hi": "Hindi",
    "so": "Somali",
    "ase": "American Sign Language",
}


def completed_months(birth_date: dt.date, day: dt.date) -> int:
    b = birth_date
    return (day.year - b.year) * 12 + day.month - b.month - (day.day < b.day)


def age_display(birth_date: dt.date, today: dt.date) -> str:
    """Age as clinicians write it: days for newborns, weeks, months under 2, then years."""
    months = completed_months(birth_date, today)
    days = (today - birth_date).days
    if days < 28:
        return f"{days} d"
    if months < 3:
        return f"{days // 7} wk"
    return f"{months} mo" if months < 24 else f"{months // 12} y"


class Patient(PublicModel):
    network = models.ForeignKey("clinics.Network", on_delete=models.PROTECT, related_name="+")
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="patients")
    mrn = models.CharField("MRN", max_length=20, db_index=True)
    active = models.BooleanField(default=True)

    family = models.CharField("last name", max_length=100)
    given = models.CharField("first name", max_length=100)
    middle = models.CharField("middle name", max_length=100, blank=True)
    suffix = models.CharField(max_length=20, blank=True)
    preferred_name = models.CharField(max_length=100, blank=True)
    birth_date = models.DateField()
    sex = models.CharField(max_length=10, choices=AdministrativeSex.choices)
    birth_sex = models.CharField(max_length=4, choices=BirthSex.choices, blank=True)
    gender_identity = models.CharField(max_length=20, choices=GenderIdentity.choices, blank=True)
    race = models.JSONField(default=list, blank=True, help_text="OMB race category codes")
    ethnicity = models.CharField(max_length=10, choices=Ethnicity.choices, blank=True)
    preferred_language = models.CharField(max_length=10, default="en")
    interpreter_needed = models.BooleanField(default=False)

    phone = models.CharField(max_length=30, blank=True)
    phone_digits = models.CharField(max_length=15, blank=True, db_index=True)
    email = models.EmailField(blank=True)
    address_line = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, blank=True)
    postal_code = models.CharField(max_length=10, blank=True)
    photo = models.ImageField(upload_to="patient-photos/", blank=True)

    # Search keys (patients.search.normalize), kept by the services that write names.
    family_key = models.CharField(max_length=100, editable=False)
    given_key = models.CharField(max_length=100, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "mrn"], name="mrn_unique_in_network"),
        ]
        indexes = [
            models.Index(
                fields=["clinic", "family_key", "given_key"], name="patient_family_search"
            ),
            models.Index(fields=["clinic", "given_key"], name="patient_given_search"),
            models.Index(fields=["clinic", "birth_date"], name="patient_birth_date_search"),
        ]

    def __str__(self) -> str:
        return f"{self.family}, {self.given} ({self.mrn})"

    @property
    def display_name(self) -> str:
        given = self.given + (f' "{self.preferred_name}"' if self.preferred_name else "")
        return f"{self.family}{' ' + self.suffix if self.suffix else ''}, {given}"

    def completed_months(self, day: dt.date) -> int:
        return completed_months(self.birth_date, day)

    @property
    def age_display(self) -> str:
        return age_display(self.birth_date, clock.today())

    @property
    def language_display(self) -> str:
        return LANGUAGES.get(self.preferred_language, self.preferred_language)


class PatientContact(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    relationship = models.CharField(max_length=50, help_text="e.g. mother, spouse, guardian")
    phone = models.CharField(max_length=30, blank=True)
    is_emergency = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.relationship})"


class Coverage(PublicModel):
    """Insurance coverage, as US Core Coverage / X12 270 would need it."""

    class Relationship(models.TextChoices):
        SELF = "self", "Self"
        SPOUSE = "spouse", "Spouse"
        CHILD = "child", "Child"
        OTHER = "other", "Other"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="coverages")
    order = models.PositiveSmallIntegerField(default=1, help_text="1 primary, 2 secondary")
    payer_name = models.CharField(max_length=200)
    payer_id = models.CharField(max_length=20, blank=True, help_text="payer's electronic id")
    plan_name = models.CharField(max_length=200, blank=True)
    member_id = models.CharField(max_length=40)
    group_number = models.CharField(max_length=40, blank=True)
    subscriber_name = models.CharField(max_length=200, blank=True)
    subscriber_relationship = models.CharField(
        max_length=10, choices=Relationship.choices, default=Relationship.SELF
    )
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["order"]


class NameSpelling(models.Model):
    """The typo-tolerant name index: one row per (deletion key, distinct name spelling)."""

    key = models.CharField(max_length=100)
    name = models.CharField(max_length=100)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "name"], name="unique_spelling_key")]

    def __str__(self) -> str:
        return f"{self.key} -> {self.name}"


class EmergencyAccess(models.Model):
    """'Break the glass': time-limited access to one patient outside the user's clinics, with a
    reason, always audited and shown to the compliance auditor (ONC 170.315(d)(6))."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500)
    granted_at = models.DateTimeField(default=clock.now)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "expires_at"])]

    def __str__(self) -> str:
        return f"emergency access of user {self.user_id} to patient {self.patient_id}"
