import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from medassist.history import services
from medassist.history.models import Allergy, SmokingStatus
from medassist.patients.tests.factories import make_allergy
from medassist.rooming.tests.factories import roomed_visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit(cast):
    return roomed_visit(cast)


def test_a_provider_of_the_clinic_may_record_history_too(cast, visit, actor_of):
    allergy = services.add_allergy(
        actor=actor_of(cast.bob), encounter=visit, data=services.AllergyData(substance="Aspirin")
    )
    assert allergy.created_by == cast.bob and allergy.verification == "unconfirmed"


@pytest.mark.parametrize("user", ["carol", "frank", "gwen"])
def test_staff_of_another_clinic_or_without_clinical_rights_may_not(cast, visit, actor_of, user):
    with pytest.raises(PermissionDenied):
        services.add_allergy(
            actor=actor_of(getattr(cast, user)),
            encounter=visit,
            data=services.AllergyData(substance="Aspirin"),
        )
    assert not Allergy.objects.exists()


def test_another_patients_allergy_cannot_be_changed_through_this_visit(cast, visit, actor_of):
    other = roomed_visit(cast, family="Other")
    theirs = make_allergy(other.patient, "Codeine")
    with pytest.raises(ValidationError, match="another patient"):
        services.inactivate_allergy(actor=actor_of(cast.alice), encounter=visit, allergy=theirs)


def test_a_second_smoking_status_at_the_same_visit_corrects_the_first(cast, visit, actor_of):
    alice = actor_of(cast.alice)
    services.record_smoking_status(actor=alice, encounter=visit, code="449868002")
    services.record_smoking_status(actor=alice, encounter=visit, code="428041000124106")
    assert list(SmokingStatus.objects.values_list("code", flat=True)) == ["428041000124106"]
    assert SmokingStatus.objects.get().is_current_smoker


def test_every_smoking_status_value_is_a_us_core_snomed_code():
    # US Core 3.1.1 ValueSet us-core-observation-smokingstatus, all eight codes.
    assert set(SmokingStatus.Value.values) == {
        "449868002",
        "428041000124106",
        "8517006",
        "266919005",
        "77176002",
        "266927001",
        "428071000124103",
        "428061000124105",
    }
