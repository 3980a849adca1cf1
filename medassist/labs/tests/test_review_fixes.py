"""Fixes from the second review: a test still waiting after a failed draw cannot be ordered
twice; only clinical staff record that the patient was told a result (not the manager)."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from medassist.access.actor import Actor
from medassist.labs.models import LabOrder
from medassist.labs.selectors import results as result_selectors
from medassist.labs.services import orders as order_services
from medassist.labs.services import results as result_services
from medassist.labs.tests import factories as f
from medassist.labs.tests import result_factories as rf

pytestmark = pytest.mark.django_db


def test_a_test_left_by_a_failed_draw_cannot_be_ordered_again(cast):
    patient, visit = f.today_patient(cast)
    catalog = f.make_catalog(cast.north)
    requisition = f.order(cast, patient, ("CBC",), encounter=visit, catalog=catalog)
    order_services.record_not_collected(
        actor=Actor.for_user(cast.alice), requisition=requisition, reason="no vein", attempts=2
    )
    assert requisition.orders.get().stage == LabOrder.Stage.NOT_COLLECTED
    with pytest.raises(ValidationError) as refused:
        f.order(cast, patient, ("CBC",), encounter=visit, catalog=catalog)
    assert "already ordered" in str(refused.value)
    assert LabOrder.objects.filter(patient=patient).count() == 1


@pytest.mark.parametrize(("who", "may"), [("alice", True), ("bob", True), ("dana", False)])
def test_only_clinical_staff_record_that_the_patient_was_told(cast, who, may):
    report = rf.release(rf.file(rf.make_order(rf.make_patient(cast.north), cast.bob)), cast.bob)
    actor = Actor.for_user(getattr(cast, who))
    assert result_selectors.report_view(actor, report).may_tell is may
    if may:
        result_services.record_patient_told(actor=actor, report=report, how="phone")
        report.refresh_from_db()
        assert report.told_by == getattr(cast, who)
    else:
        with pytest.raises(PermissionDenied):
            result_services.record_patient_told(actor=actor, report=report, how="phone")
        report.refresh_from_db()
        assert report.told_at is None
