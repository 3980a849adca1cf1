"""alice rooms a patient: chief complaint, "no known allergies", medication reconciliation and a
PHQ-2 answered from the keyboard, then hands the patient to the provider."""

import re

import pytest
from playwright.sync_api import expect

from medassist.core.testing import make_cast
from medassist.encounters.models import Encounter
from medassist.history.models import Allergy
from medassist.rooming.models import MedicationReview, ScreeningResponse
from medassist.rooming.tests.factories import make_medication, roomed_visit
from tests.browser.test_find_and_audit import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_alice_works_the_rooming_worklist_and_hands_over_to_the_provider(page_for, screenshot):
    cast = make_cast()
    visit = roomed_visit(cast, family="Abernathy", visit_type="Annual physical")
    make_medication(visit.patient, "Lisinopril")

    alice = page_for()
    sign_in(alice, "alice")
    expect(alice.get_by_role("heading", name=re.compile("Good day"))).to_be_visible()
    alice.goto(f"/rooming/{visit.public_id}/")
    expect(alice.get_by_role("heading", name="1. Visit agenda and chief complaint")).to_be_visible()

    # 1. Chief complaint, from the keyboard: type, Tab to the button, Enter.
    alice.get_by_label("Chief complaint, in the patient's words").focus()
    alice.keyboard.type("Cough for two weeks, worse at night")
    alice.keyboard.press("Tab")
    alice.keyboard.press("Enter")
    agenda = alice.locator("#step-agenda")
    expect(agenda.locator("h2 .pill")).to_contain_text("Done by Alice Moreno")

    # 2. No known allergies
    expect(alice.locator("#step-allergies :focus")).to_have_count(1)
    alice.get_by_role("button", name="No known allergies").focus()
    alice.keyboard.press("Enter")
    expect(alice.locator("#step-allergies .allergy-flag")).to_have_text("No known allergies")
    expect(alice.locator("#step-medications :focus")).to_have_count(1)
    expect(alice.locator("#allergies")).to_have_text("No known allergies")  # the banner too

    # 3. Medication reconciliation: the first answer of the radio group is "as prescribed".
    alice.get_by_role("radio", name="Taking as prescribed").focus()
    alice.keyboard.press("Space")
    alice.get_by_role("button", name="Save reconciliation").focus()
    alice.keyboard.press("Enter")
    expect(alice.locator("#step-medications h2 .pill")).to_contain_text("Done")
    # After a step is saved the focus moves on to the next step by itself (after the swap
    # settles); wait for it, so that the next keystrokes land where a person's would.
    expect(alice.locator("#step-histories :focus")).to_have_count(1)

    # 5. PHQ-2 with the keyboard: arrow keys move within each radio group.
    phq2 = alice.locator("#screening-557579")
    phq2.get_by_role("radio", name="Not at all").first.focus()
    alice.keyboard.press("ArrowRight")  # little interest: several days (1)
    alice.keyboard.press("Tab")
    alice.keyboard.press("ArrowRight")  # feeling down: Not at all -> Several days (1)
    alice.keyboard.press("Tab")
    alice.keyboard.press("Enter")
    expect(alice.locator("#screening-557579 h3 .pill")).to_contain_text("Negative screen · score 2")
    alice.get_by_role("button", name="Patient declined the remaining screenings").click()
    expect(alice.locator("#step-screenings h2 .pill")).to_contain_text("Skipped")

    ready = alice.get_by_role("button", name="Ready for provider")
    expect(ready).to_be_enabled()
    screenshot(alice, "rooming-worklist")
    ready.focus()
    alice.keyboard.press("Enter")

    expect(alice).to_have_url(re.compile(rf"/rooming/{visit.public_id}/summary/$"))
    expect(alice.get_by_role("heading", name="Chief complaint", exact=True)).to_be_visible()
    expect(alice.get_by_text("is ready for the provider")).to_be_visible()
    screenshot(alice, "rooming-summary")
    expect(alice.get_by_text("Cough for two weeks, worse at night")).to_be_visible()
    visit.refresh_from_db()
    assert visit.stage == Encounter.Stage.READY_FOR_PROVIDER
    assert visit.reason == "Cough for two weeks, worse at night"
    assert Allergy.objects.get(patient=visit.patient).is_no_known_allergy
    assert MedicationReview.objects.get(encounter=visit).answer == "as_prescribed"
    assert ScreeningResponse.objects.get(encounter=visit).total_score == 2
