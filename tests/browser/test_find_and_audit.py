"""alice finds a patient from the search box by part of the name, with the keyboard, and opens
the chart; erin, the compliance auditor, signs in with her second factor and sees that read in
the audit report."""

import datetime as dt
import re

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from medassist.core.testing import DEMO_PASSWORD, make_cast
from medassist.history.models import Allergy
from medassist.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db(transaction=True)


def sign_in(page, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/account/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.keyboard.press("Enter")


def test_alice_finds_and_opens_a_chart_and_erin_sees_the_read(page_for, screenshot):
    cast = make_cast()
    josephine = make_patient(
        cast.north, family="Abernathy", given="Josephine", birth_date=dt.date(1958, 6, 14)
    )
    Allergy.objects.create(patient=josephine, substance="Sulfa drugs", reaction="rash")
    make_patient(cast.north, family="Abbott", given="Jo")
    make_patient(cast.south, family="Abernathy", given="Southern")  # another clinic's patient
    device = TOTPDevice.objects.create(user=cast.erin, name="phone", confirmed=True)

    alice = page_for()
    sign_in(alice, "alice")
    expect(alice.get_by_role("heading", name=re.compile("Good day"))).to_be_visible()
    alice.keyboard.press("/")
    alice.keyboard.type("aberna")
    results = alice.locator("#patient-results")
    expect(results.get_by_text("Abernathy, Josephine")).to_be_visible()
    expect(results).not_to_contain_text("Southern")  # South's patient never shows at North
    alice.keyboard.press("ArrowDown")
    alice.keyboard.press("Enter")
    expect(alice.get_by_role("heading", level=1)).to_contain_text("Abernathy, Josephine")
    expect(alice.locator("#allergies")).to_contain_text("Sulfa drugs (rash)")
    expect(alice.get_by_text(josephine.mrn).first).to_be_visible()
    screenshot(alice, "alice-chart")

    erin = page_for()
    sign_in(erin, "erin")
    erin.wait_for_url(re.compile(r"/account/mfa/"))
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    erin.get_by_label(re.compile("code", re.I)).fill(code)
    erin.keyboard.press("Enter")
    erin.wait_for_url(re.compile(r"/$"))  # verified: back on the home page
    erin.goto("/audit/?user=alice")
    row = erin.locator("tr", has_text="Abernathy").filter(has_text=re.compile("Read", re.I))
    expect(row.first).to_be_visible()
    expect(row.first).to_contain_text("alice")
    screenshot(erin, "erin-audit-report")
