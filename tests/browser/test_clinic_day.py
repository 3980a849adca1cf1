"""A whole visit through the clinic day, by the people who do each step, in a real browser:
gwen (front desk) checks the patient in; alice rooms her in a ready room and works the rooming
worklist (chief complaint, medication reconciliation, "no known allergies", PHQ-2); bob sees her
"ready for provider", takes her and hands her to checkout; gwen books the follow-up and closes
the visit. gwen's board stays open the whole time and follows every stage by itself (no reload),
each with its time; screenshots of the board and the rooming screen are saved."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from medassist.clinics.models import Room
from medassist.core import clock
from medassist.core.testing import make_cast
from medassist.encounters.models import StageChange
from medassist.flow.models import CheckIn, Checkout
from medassist.flow.tests.factories import make_rooms
from medassist.patients.tests.factories import make_patient
from medassist.rooming.tests.factories import make_medication
from medassist.scheduling.tests.factories import make_appointment, make_types, make_week
from tests.browser.test_find_and_audit import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

LIVE = 9_000  # ms: the board polls every 5 s; a change shows within one poll and a render


def sign_in_and_wait(page, username: str) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, username)
    expect(page.get_by_role("heading", name=re.compile("Good day"))).to_be_visible()


def board_row(page, visit):  # type: ignore[no-untyped-def]
    return page.locator(f"#visit-{visit.public_id}")


def test_a_whole_visit_through_the_clinic_day(page_for, screenshot):
    cast = make_cast()
    types = make_types(cast.north)
    make_week(cast.north, cast.bob)
    dirty, ready = make_rooms(cast.north, 2)
    Room.objects.filter(pk=dirty.pk).update(status="dirty")
    patient = make_patient(
        cast.north, family="Abernathy", given="Josephine", birth_date=dt.date(1958, 6, 14)
    )
    make_medication(patient, "Lisinopril")
    start = clock.now().replace(second=0, microsecond=0)
    visit = make_appointment(patient, cast.bob, types["physical"], start).encounter
    board_url = "/flow/board/?clinic=north"

    # 1. gwen checks Josephine in from the board.
    gwen = page_for()
    sign_in_and_wait(gwen, "gwen")
    gwen.goto(board_url)
    row = board_row(gwen, visit)
    expect(row).to_contain_text("Scheduled")
    row.get_by_role("link", name="Check in").click()
    expect(gwen.get_by_role("heading", name="Check in")).to_be_visible()
    gwen.get_by_label("The patient stated their full name and it matches the chart").check()
    gwen.get_by_label("Date of birth, as the patient says it").fill("1958-06-14")
    gwen.get_by_label("Address, phone and emergency contact confirmed with the patient").check()
    for form in ("Notice of privacy practices (acknowledgment)", "Financial policy"):
        gwen.get_by_role("radiogroup", name=form).get_by_label("Signed today").check()
    gwen.get_by_label("Copay collected ($)").fill("20")
    gwen.get_by_label(re.compile(r"^Copay:?$")).select_option("cash")
    gwen.get_by_role("button", name="Check in").click()
    expect(gwen).to_have_url(re.compile(r"/flow/board/\?clinic=north$"))
    expect(gwen.get_by_text("Abernathy, Josephine checked in at")).to_be_visible()
    expect(row).to_contain_text("Arrived")
    expect(row).to_contain_text("0 min")
    screenshot(gwen, "board-arrived")

    # 2. alice rooms her: only the ready room is offered.
    alice = page_for()
    sign_in_and_wait(alice, "alice")
    alice.goto(board_url)
    picker = board_row(alice, visit).get_by_label("Room for Josephine Abernathy")
    expect(picker.locator("option")).to_have_text([ready.name])
    board_row(alice, visit).get_by_role("button", name="Room").click()
    expect(alice).to_have_url(re.compile(rf"/rooming/{visit.public_id}/$"))
    expect(gwen.locator(f"#visit-{visit.public_id}")).to_contain_text("Roomed", timeout=LIVE)
    expect(board_row(gwen, visit)).to_contain_text(ready.name)

    alice.get_by_label("Chief complaint, in the patient's words").fill("Cough for two weeks")
    alice.get_by_role("button", name="Save chief complaint").click()
    expect(alice.locator("#step-agenda h2 .pill")).to_contain_text("Done by Alice Moreno")
    alice.get_by_role("button", name="No known allergies").click()
    expect(alice.locator("#allergies")).to_have_text("No known allergies")
    alice.get_by_role("radio", name="Taking as prescribed").check()
    alice.get_by_role("button", name="Save reconciliation").click()
    expect(alice.locator("#step-medications h2 .pill")).to_contain_text("Done")
    phq2 = alice.locator("#screening-557579")
    phq2.get_by_role("group", name="Little interest or pleasure in doing things").get_by_label(
        "Several days"
    ).check()
    phq2.get_by_role("group", name="Feeling down, depressed, or hopeless").get_by_label(
        "Not at all"
    ).check()
    phq2.get_by_role("button", name="Save PHQ-2 depression screen").click()
    expect(alice.locator("#screening-557579 h3 .pill")).to_contain_text("score 1")
    alice.get_by_role("button", name="Patient declined the remaining screenings").click()
    expect(alice.locator("#step-screenings h2 .pill")).to_contain_text("Skipped")
    screenshot(alice, "rooming-worklist-whole-visit")
    alice.get_by_role("button", name="Ready for provider").click()
    expect(alice).to_have_url(re.compile(r"/summary/$"))

    # 3. bob sees her ready for him on the board, takes her, then hands her to checkout.
    expect(board_row(gwen, visit)).to_contain_text("Ready for provider", timeout=LIVE)
    screenshot(gwen, "board-ready-for-provider")
    bob = page_for()
    sign_in_and_wait(bob, "bob")
    bob.goto(board_url)
    expect(board_row(bob, visit)).to_contain_text("Ready for provider")
    board_row(bob, visit).get_by_role("button", name="Take patient").click()
    expect(bob.get_by_role("heading", name="Chief complaint", exact=True)).to_be_visible()
    expect(bob.get_by_text("Cough for two weeks")).to_be_visible()
    expect(board_row(gwen, visit)).to_contain_text("With provider", timeout=LIVE)
    bob.goto(board_url)
    board_row(bob, visit).get_by_role("button", name="To checkout").click()
    expect(bob.get_by_text(f"{ready.name} needs cleaning")).to_be_visible()

    # 4. gwen's board follows; she books the follow-up and closes the visit.
    expect(board_row(gwen, visit)).to_contain_text("Ready for checkout", timeout=LIVE)
    board_row(gwen, visit).get_by_role("link", name="Check out").click()
    expect(gwen.get_by_role("heading", name="Checkout")).to_be_visible()
    times = gwen.get_by_role("radiogroup", name="Open times").locator("label")
    two_weeks_out = times.first.inner_text()
    gwen.get_by_label("In about").select_option("28")
    gwen.get_by_role("button", name="Find open times").click()
    # The open times are swapped in by htmx: wait for the new list before choosing one, or the
    # choice is made on the list that is about to be replaced.
    expect(times.first).not_to_have_text(two_weeks_out)
    first_time = gwen.get_by_role("radiogroup", name="Open times").get_by_role("radio").first
    first_time.check()
    chosen = first_time.locator("xpath=..").inner_text().strip()
    gwen.get_by_role("button", name="Close the visit").click()
    expect(gwen.get_by_role("status").filter(has_text="Checked out at")).to_contain_text(
        "Follow-up booked"
    )
    gwen.goto(board_url)
    expect(board_row(gwen, visit)).to_contain_text("Done")
    expect(board_row(gwen, visit)).to_contain_text("min")  # door to door
    screenshot(gwen, "board-done")

    # What was stored: every stage once, in order, timestamped; the room left dirty.
    visit.refresh_from_db()
    assert visit.stage == "done"
    changes = list(StageChange.objects.filter(encounter=visit).order_by("at", "id"))
    assert [c.to_stage for c in changes] == [
        "arrived",
        "roomed",
        "ready_for_provider",
        "with_provider",
        "ready_for_checkout",
        "done",
    ]
    assert [c.by.username for c in changes] == ["gwen", "alice", "alice", "bob", "bob", "gwen"]
    assert all(a.at <= b.at for a, b in zip(changes, changes[1:], strict=False))
    check_in = CheckIn.objects.get(encounter=visit)
    assert check_in.identifiers == ["name", "birth_date"] and check_in.payment == "cash"
    checkout = Checkout.objects.select_related("follow_up").get(encounter=visit)
    assert checkout.follow_up is not None
    follow_up_at = clock.localtime(checkout.follow_up.start)
    assert f"{follow_up_at:%H:%M}" in chosen
    assert follow_up_at.date() >= clock.today() + dt.timedelta(days=25)
    ready.refresh_from_db()
    assert ready.status == "dirty"
