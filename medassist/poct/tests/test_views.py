"""The point-of-care pages over HTTP: the menu with each test's status, alice locked out of a
rapid strep until she runs the day's controls (the lockout message shown exactly, with links,
and the form disabled), the QC page computing pass/fail, corrective actions, the QC log as a
page and a PDF for the inspector, kits and controls, the test menu and competencies; fixed
query counts; and an outsider (carol, South) gets 404 on every id route and changes nothing."""

import datetime as dt
import hashlib
import html
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from medassist.audit.models import Action, AuditEvent
from medassist.core import clock
from medassist.labs.models import LabReport, LabResult
from medassist.poct.models import Competency, ControlLot, KitLot, PocTest, PocTestRun, QcRun
from medassist.poct.tests import factories as f
from medassist.poct.tests.factories import fail_negative
from medassist.rooming.tests.factories import roomed_visit

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def url(name: str, **kwargs) -> str:  # type: ignore[no-untyped-def]
    return reverse(f"poct:{name}", kwargs=kwargs)


def text_of(fragment: str) -> str:
    """What a person reads: tags removed, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", fragment)).split())


def reasons_on(page: str) -> list[str]:
    return [text_of(li) for li in re.findall(r'<li data-code="[^"]+">(.*?)</li>', page, re.S)]


def strep_without_todays_qc(cast):  # type: ignore[no-untyped-def]
    """North's rapid strep, daily controls by clinic policy, last run yesterday; Alice is
    competent. So she is locked out until she runs today's controls."""
    test = f.make_test(cast.north, qc_every_days=1)
    lot = f.make_kit_lot(test, cast.alice)
    controls = f.make_control_lots(test, cast.dana)
    f.make_competency(cast.alice, test, cast.dana)
    f.run_controls(lot, cast.alice, controls, at=clock.now() - dt.timedelta(days=1))
    return test, lot, controls


def qc_post(test, lot, controls, **readings) -> dict:  # type: ignore[no-untyped-def]
    data = {"kit_lot": str(lot.public_id), "reason": "scheduled"}
    for level, control in controls.items():
        data[f"control_{level}"] = str(control.public_id)
        for code, value in readings.get(level, f.passing_readings(test, control)).items():
            data[f"observed_{level}_{code}"] = value
    return data


# -- The acceptance path ------------------------------------------------------------------------


def test_alice_runs_a_rapid_strep_and_is_locked_out_until_she_runs_the_days_controls(cast):
    test, lot, controls = strep_without_todays_qc(cast)
    visit = roomed_visit(cast)
    alice = client_for(cast.alice)
    run_url = url("run", encounter_id=visit.public_id, test_id=test.public_id)

    page = alice.get(run_url)
    assert page.status_code == 200
    body = page.content.decode()
    expected = (
        "Today's external controls for Rapid strep have not been run on lot 4B21X: run the "
        "positive and negative controls (QC page)"
    )
    assert reasons_on(body) == [expected]
    qc_link = url("qc", test_id=test.public_id) + "?next=" + run_url.replace("/", "%2F")
    assert f'href="{qc_link}"' in body
    assert "<fieldset disabled" in body

    # Posting anyway is refused by the service, with the same words, and saves nothing.
    refused = alice.post(
        run_url,
        {
            "kit_lot": str(lot.public_id),
            "confirm_birth_date": "03/04/1980",
            "value_78012-2": "positive",
            "internal_control_valid": "yes",
        },  # noqa: E501
    )
    assert refused.status_code == 422
    assert reasons_on(refused.content.decode()) == [expected]
    assert not PocTestRun.objects.exists()

    # The QC page: today's positive and negative controls.
    qc_page = alice.get(qc_link)
    assert qc_page.status_code == 200
    ran = alice.post(qc_link, {**qc_post(test, lot, controls), "next": run_url})
    assert ran.status_code == 302 and ran["Location"] == run_url
    assert (
        QcRun.objects.filter(performed_at__date__gte=clock.today() - dt.timedelta(days=1)).count()
        == 4
    )  # noqa: E501
    assert all(r.passed for r in QcRun.objects.all())

    ready = alice.get(run_url).content.decode()
    assert reasons_on(ready) == [] and "<fieldset disabled" not in ready
    done = alice.post(
        run_url,
        {
            "kit_lot": str(lot.public_id),
            "confirm_birth_date": "03/04/1980",
            "value_78012-2": "positive",
            "internal_control_valid": "yes",
        },
    )
    assert done.status_code == 302
    assert done["Location"] == url("visit", encounter_id=visit.public_id)
    after = alice.get(done["Location"]).content.decode()
    assert "Rapid strep recorded and sent to Robert Okafor&#x27;s results inbox" in after
    # The MA is never shown an interpretation (no flag, no "abnormal").
    assert "abnormal" not in after.lower() and "Abnormal" not in after
    report = LabReport.objects.get()
    assert report.ordering_provider == cast.bob and report.source == "poct"
    assert LabResult.objects.get().value_text == "Positive"


def test_the_run_page_hides_the_date_of_birth_and_refuses_a_wrong_one(cast):
    test, lot, _ = f.ready_test(cast)
    visit = roomed_visit(cast)
    alice = client_for(cast.alice)
    run_url = url("run", encounter_id=visit.public_id, test_id=test.public_id)
    page = alice.get(run_url).content.decode()
    assert "03/04/1980" not in page and "1980-03-04" not in page
    wrong = alice.post(
        run_url,
        {
            "kit_lot": str(lot.public_id),
            "confirm_birth_date": "04/03/1980",
            "value_78012-2": "negative",
            "internal_control_valid": "yes",
        },  # noqa: E501
    )
    assert wrong.status_code == 422
    assert "does not match this patient&#x27;s record" in wrong.content.decode()
    assert not PocTestRun.objects.exists()


def test_a_glucose_above_the_range_is_refused_on_its_field(cast):
    test, lot, _ = f.ready_test(cast, "glucose")
    visit = roomed_visit(cast)
    response = client_for(cast.alice).post(
        url("run", encounter_id=visit.public_id, test_id=test.public_id),
        {"kit_lot": str(lot.public_id), "confirm_birth_date": "1980-03-04", "value_41653-7": "650"},
    )
    assert response.status_code == 422
    assert (
        "Glucose 650 mg/dL is above the meter&#x27;s reportable range 20–600 mg/dL: report as HI "
        "per the manufacturer and send a venous glucose to the lab. Record it as &gt;600."
    ) in response.content.decode()
    assert not PocTestRun.objects.exists()


def test_an_invalid_result_says_nothing_was_reported(cast):
    test, lot, _ = f.ready_test(cast)
    visit = roomed_visit(cast)
    alice = client_for(cast.alice)
    done = alice.post(
        url("run", encounter_id=visit.public_id, test_id=test.public_id),
        {
            "kit_lot": str(lot.public_id),
            "confirm_birth_date": "1980-03-04",
            "internal_control_valid": "no",
        },  # noqa: E501
        follow=True,
    )
    assert "invalid, so nothing was reported" in done.content.decode()
    assert PocTestRun.objects.get().status == "invalid" and not LabReport.objects.exists()


def test_the_home_page_shows_each_tests_status_with_the_reasons(cast):
    strep_without_todays_qc(cast)
    f.ready_test(cast, "glucose")
    visit = roomed_visit(cast, family="Okonkwo")
    page = client_for(cast.alice).get(url("home")).content.decode()
    assert "Today&#x27;s external controls for Rapid strep have not been run on lot 4B21X" in page
    assert re.search(r"Blood glucose \(meter\).*?Ready", page, re.S)
    assert url("visit", encounter_id=visit.public_id) in page
    # The MA cannot open the competencies page, so its reason has no link; the manager's has.
    Competency.objects.filter(user=cast.alice).delete()
    again = client_for(cast.alice).get(url("home")).content.decode()
    assert "(Competencies page)" in text_of(again)
    assert url("competencies") not in again


def test_a_failed_control_is_shown_with_its_corrective_action_form(cast):
    test, lot, controls = f.ready_test(cast)
    alice = client_for(cast.alice)
    qc_url = url("qc", test_id=test.public_id)
    negative = controls["negative"]
    data = {
        "kit_lot": str(lot.public_id),
        "reason": "troubleshooting",
        "control_negative": str(negative.public_id),
        "observed_negative_78012-2": "positive",
    }
    failed = alice.post(qc_url, data, follow=True)
    body = failed.content.decode()
    assert "negative FAILED" in body and "expected Negative, observed Positive" in body
    run = QcRun.objects.get(passed=False)
    action_url = url("corrective-action", run_id=run.public_id)
    assert f'action="{action_url}"' in body
    assert "The last negative control on lot 4B21X failed at" in text_of(body)
    done = alice.post(action_url, {"action": "Repeated with a new negative swab; passed."})
    assert done.status_code == 302
    run.refresh_from_db()
    assert run.corrective_action.startswith("Repeated") and run.corrective_by == cast.alice


def test_on_the_qc_page_a_qc_reason_points_below_not_back_to_the_qc_page(cast):
    test, _lot, _controls = strep_without_todays_qc(cast)
    page = client_for(cast.alice).get(url("qc", test_id=test.public_id)).content.decode()
    reasons = reasons_on(page)
    assert reasons and any("controls" in r for r in reasons)
    assert all("(QC page)" not in r for r in reasons)
    assert any(r.endswith("(run them below)") for r in reasons)
    assert page.count("<h1") == 1
    visit = roomed_visit(cast)
    run = client_for(cast.alice).get(
        url("run", encounter_id=visit.public_id, test_id=test.public_id)
    )
    assert run.content.decode().count("<h1") == 1  # the page's title; the patient is a banner


def test_the_qc_page_refuses_an_expired_control_lot(cast):
    test, lot, controls = f.ready_test(cast)
    ControlLot.objects.filter(pk=controls["negative"].pk).update(
        expires_on=clock.today() - dt.timedelta(days=1)
    )
    alice = client_for(cast.alice)
    page = alice.get(url("qc", test_id=test.public_id)).content.decode()
    # the expired lot is not offered; none is left for the negative level
    assert not re.search(rf"<option[^>]*>{controls['negative'].lot_number}", page)
    assert "No unexpired negative control lot is in stock" in page
    posted = alice.post(url("qc", test_id=test.public_id), qc_post(test, lot, controls))
    assert posted.status_code == 422
    assert QcRun.objects.count() == 2  # only the ready_test runs


# -- The QC log ------------------------------------------------------------------------------------


def test_the_qc_log_pdf_has_every_run_and_the_corrective_action(cast):
    test, lot, controls = f.ready_test(cast)
    failed = fail_negative(lot, cast.alice, controls)
    from medassist.access.actor import Actor
    from medassist.poct import services

    services.record_corrective_action(
        actor=Actor.for_user(cast.alice), run=failed, action="New negative swab, technique reviewed"
    )
    f.run_controls(lot, cast.alice, {"negative": controls["negative"]})
    response = client_for(cast.dana).get(url("qc-log", test_id=test.public_id), {"format": "pdf"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    flat = " ".join(text.split())
    for words in (
        "Quality control log: Rapid strep",
        "North Family Medicine",
        "4B21X",
        controls["negative"].lot_number,
        controls["positive"].lot_number,
        "FAIL",
        "PASS",
        "New negative swab, technique reviewed",
        "Alice Moreno",
        "4 control runs, 1 failed",
    ):
        assert words in flat, words
    assert AuditEvent.objects.filter(action=Action.PRINT, entity_type="Observation").exists()


def test_the_qc_log_page_is_printable_for_a_date_range(cast):
    test, lot, controls = f.ready_test(cast)
    f.run_controls(lot, cast.alice, controls, at=clock.now() - dt.timedelta(days=1))
    alice = client_for(cast.alice)
    today = clock.today()
    page = alice.get(
        url("qc-log", test_id=test.public_id),
        {"start": today.isoformat(), "end": today.isoformat()},
    )  # noqa: E501
    body = page.content.decode()
    assert page.status_code == 200 and "2 control runs, 0 failed" in body
    assert (
        "@media print"
        in open(  # noqa: PTH123, SIM115
            __import__("medassist.poct", fromlist=["x"]).__path__[0] + "/static/poct/poct.css"
        ).read()
    )
    wider = alice.get(url("qc-log", test_id=test.public_id), {"start": "bad", "end": "2026-02-30"})
    assert wider.status_code == 200


# -- Kits, controls, menu, competencies ----------------------------------------------------------


def test_kits_are_received_and_taken_out_of_use_from_the_kits_page(cast):
    test = f.make_test(cast.north)
    alice = client_for(cast.alice)
    later = (clock.today() + dt.timedelta(days=60)).isoformat()
    received = alice.post(
        url("receive-kit"),
        {
            "clinic": "north",
            "test": str(test.public_id),
            "lot_number": "7c03q",
            "expires_on": later,
            "shipment": "S-9",
        },  # noqa: E501
    )
    assert received.status_code == 302
    lot = KitLot.objects.get()
    assert lot.lot_number == "7C03Q"
    expired = alice.post(
        url("receive-kit"),
        {
            "clinic": "north",
            "test": str(test.public_id),
            "lot_number": "OLD1",
            "expires_on": "2020-01-01",
            "shipment": "S-10",
        },  # noqa: E501
    )
    assert expired.status_code == 422
    assert "Kit lot OLD1 expired on 2020-01-01: do not put it into use" in expired.content.decode()
    page = alice.get(url("kits")).content.decode()
    assert "7C03Q" in page and url("retire-kit", lot_id=lot.public_id) in page
    assert (
        alice.post(url("retire-kit", lot_id=lot.public_id), {"reason": "Used up"}).status_code
        == 302
    )
    lot.refresh_from_db()
    assert lot.retired_at is not None and lot.retired_reason == "Used up"


def test_a_control_lot_is_received_with_the_levels_expected_reading(cast):
    test = f.make_test(cast.north)
    glucose = f.make_test(cast.north, "glucose")
    alice = client_for(cast.alice)
    later = (clock.today() + dt.timedelta(days=60)).isoformat()
    assert alice.get(url("receive-control", test_id=test.public_id)).status_code == 200
    done = alice.post(
        url("receive-control", test_id=test.public_id),
        {"level": "positive", "lot_number": "P-77", "expires_on": later},
    )
    assert done.status_code == 302
    assert ControlLot.objects.get().expected == {"78012-2": {"answers": ["positive"]}}
    missing = alice.post(
        url("receive-control", test_id=glucose.public_id),
        {"level": "low", "lot_number": "L-1", "expires_on": later},
    )
    assert missing.status_code == 422
    assert "Glucose: type what the control must read" in missing.content.decode()
    ranged = alice.post(
        url("receive-control", test_id=glucose.public_id),
        {
            "level": "low",
            "lot_number": "L-1",
            "expires_on": later,
            "expected_41653-7_low": "36",
            "expected_41653-7_high": "60",
        },  # noqa: E501
    )
    assert ranged.status_code == 302


def test_the_edit_page_shows_the_limits_of_a_quantitative_test_only(cast):
    glucose, strep = f.make_test(cast.north, "glucose"), f.make_test(cast.north)
    dana = client_for(cast.dana)
    page = dana.get(url("edit-test", test_id=glucose.public_id)).content.decode()
    for name, value in (("reference_low", "70"), ("reference_high", "140"),
                        ("critical_low", "54"), ("critical_high", "400")):  # fmt: skip
        field = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
        assert field is not None and re.search(rf'value="{value}(\.00)?"', field.group(0)), name
        assert re.search(rf'<label[^>]*for="id_{name}"', page), name  # labelled, keyboard-ready
    assert "Critical below (mg/dL)" in page and "Reference interval: low (mg/dL)" in page
    other = dana.get(url("edit-test", test_id=strep.public_id)).content.decode()
    assert 'name="reference_low"' not in other and 'name="critical_low"' not in other


def test_a_critical_result_tells_the_ma_to_tell_the_provider_now(cast):
    test, lot, _ = f.ready_test(cast, "glucose")
    visit = roomed_visit(cast)
    done = client_for(cast.alice).post(
        url("run", encounter_id=visit.public_id, test_id=test.public_id),
        {"kit_lot": str(lot.public_id), "confirm_birth_date": "1980-03-04", "value_41653-7": "38"},
        follow=True,
    )
    page = text_of(done.content.decode())
    assert (
        "Blood glucose (meter) recorded: a critical value. Robert Okafor has a stat alert" in page
    )
    assert LabReport.objects.get().critical
    normal = client_for(cast.alice).post(
        url("run", encounter_id=visit.public_id, test_id=test.public_id),
        {"kit_lot": str(lot.public_id), "confirm_birth_date": "1980-03-04", "value_41653-7": "98"},
        follow=True,
    )
    assert "critical" not in text_of(normal.content.decode())


def test_the_manager_sets_up_the_menu_and_an_ma_may_not(cast):
    dana = client_for(cast.dana)
    added = dana.post(url("menu"), {"clinic": "north", "kind": "hba1c"})
    assert added.status_code == 302
    test = PocTest.objects.get()
    assert (test.name, test.loinc, test.device) == ("Hemoglobin A1c", "4548-4", "Afinion 2")
    edit = url("edit-test", test_id=test.public_id)
    assert dana.get(edit).status_code == 200
    saved = dana.post(
        edit,
        {
            "name": "HbA1c",
            "device": "Afinion 2",
            "manufacturer": "Abbott",
            "loinc": "4548-4",
            "reportable_low": "4.0",
            "reportable_high": "15.0",
            "reference_low": "4.0",
            "reference_high": "5.6",
            "critical_low": "",
            "critical_high": "14.0",
            "control_levels": ["low", "high"],
            "qc_on_new_lot": "on",
            "qc_every_days": "30",
            "internal_control": "",
            "active": "on",
        },
    )
    assert saved.status_code == 302
    test.refresh_from_db()
    assert (test.name, test.qc_on_new_shipment, test.qc_every_days) == ("HbA1c", False, 30)
    assert (test.reference_low, test.reference_high, test.critical_low, test.critical_high) == (
        Decimal("4.0"),
        Decimal("5.6"),
        None,
        Decimal("14.0"),
    )
    menu_page = text_of(dana.get(url("menu")).content.decode())
    assert "reference 4.0–5.6 %; critical above 14.0" in menu_page
    no_interval = dana.post(
        edit,
        {
            "name": "HbA1c",
            "device": "Afinion 2",
            "manufacturer": "Abbott",
            "loinc": "4548-4",
            "reportable_low": "4.0",
            "reportable_high": "15.0",
            "reference_low": "",
            "reference_high": "5.6",
            "critical_high": "5.0",
            "control_levels": ["low", "high"],
            "active": "on",
        },
    )
    assert no_interval.status_code == 422
    assert "Type the clinic&#x27;s reference interval (%), both ends" in (
        no_interval.content.decode()
    )
    test.refresh_from_db()
    assert test.critical_high == Decimal("14.0")  # nothing changed
    bad = dana.post(
        edit,
        {
            "name": "HbA1c",
            "device": "x",
            "manufacturer": "y",
            "loinc": "4548-4",
            "reportable_low": "15",
            "reportable_high": "4",
            "control_levels": ["low"],
            "active": "on",
        },
    )  # noqa: E501
    assert (
        bad.status_code == 422
        and "The range&#x27;s low end must be below its high end" in bad.content.decode()
    )  # noqa: E501
    alice = client_for(cast.alice)
    assert alice.get(url("menu")).status_code == 403
    assert alice.get(edit).status_code == 404  # not a test she may configure
    assert alice.post(url("menu"), {"clinic": "north", "kind": "glucose"}).status_code == 403
    assert PocTest.objects.count() == 1


def test_the_manager_records_competencies(cast):
    strep, glucose = f.make_test(cast.north), f.make_test(cast.north, "glucose")
    dana = client_for(cast.dana)
    page = dana.get(url("competencies")).content.decode()
    assert "Alice Moreno" in page and "Robert Okafor" in page and "not assessed" in page
    assert "Gwen" not in page  # front desk does not test
    done = dana.post(
        url("competencies"),
        {
            "clinic": "north",
            "user": "alice",
            "tests": [str(strep.public_id), str(glucose.public_id)],
            "assessed_on": clock.today().isoformat(),
            "methods": ["observation", "problem_solving"],
        },
    )
    assert done.status_code == 302
    assert Competency.objects.filter(user=cast.alice).count() == 2
    refused = dana.post(
        url("competencies"),
        {
            "clinic": "north",
            "user": "alice",
            "tests": [str(strep.public_id)],
            "assessed_on": clock.today().isoformat(),
        },
    )  # noqa: E501
    assert refused.status_code == 422
    assert client_for(cast.alice).get(url("competencies")).status_code == 403


# -- Query counts ----------------------------------------------------------------------------------


def queries(client: Client, path: str, params: dict | None = None) -> int:  # type: ignore[type-arg]
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, params or {})
    assert response.status_code == 200, path
    return len(captured)


def add_tests(cast, n: int, start: int = 0) -> None:  # type: ignore[no-untyped-def]
    kinds = [
        "rapid_strep",
        "influenza",
        "covid_antigen",
        "glucose",
        "urine_hcg",
        "urinalysis",
        "hba1c",
    ]  # noqa: E501
    for i in range(start, start + n):
        kind = kinds[i % len(kinds)]
        test = f.make_test(cast.north, kind, name=f"{kind} {i}", sort_order=i)
        lot = f.make_kit_lot(test, cast.alice, lot=f"L{i}")
        f.make_kit_lot(test, cast.alice, lot=f"M{i}", shipment="S-2")
        controls = f.make_control_lots(test, cast.dana, prefix=f"Q{i}")
        f.make_competency(cast.alice, test, cast.dana)
        f.run_controls(lot, cast.alice, controls)


def test_pages_run_a_fixed_number_of_queries(cast):
    alice, dana = client_for(cast.alice), client_for(cast.dana)
    visit = roomed_visit(cast)
    add_tests(cast, 2)
    test = PocTest.objects.order_by("id").first()
    assert test is not None
    lot = KitLot.objects.filter(test=test).first()
    assert lot is not None
    paths = [
        (alice, url("home")),
        (alice, url("visit", encounter_id=visit.public_id)),
        (alice, url("run", encounter_id=visit.public_id, test_id=test.public_id)),
        (alice, url("qc", test_id=test.public_id)),
        (alice, url("qc-log", test_id=test.public_id)),
        (alice, url("kits")),
        (dana, url("menu")),
        (dana, url("competencies")),
    ]
    for c, p in paths:  # first requests set up the session
        queries(c, p)
    few = [queries(c, p) for c, p in paths]
    add_tests(cast, 8, start=2)
    controls = {c.level: c for c in ControlLot.objects.filter(test=test)}
    for _ in range(4):  # more runs on the test in the log and on the QC page
        f.run_controls(lot, cast.alice, controls)
    many = [queries(c, p) for c, p in paths]
    assert few == many, list(zip([p for _, p in paths], few, many, strict=True))


# -- Outsiders -------------------------------------------------------------------------------------


def fingerprint() -> str:
    digest = hashlib.sha256()
    for model in (PocTest, KitLot, ControlLot, QcRun, Competency, PocTestRun, LabReport, LabResult):
        for row in model.objects.order_by("pk").values_list():
            digest.update(repr(row).encode())
    return digest.hexdigest()


def test_an_outsider_gets_404_on_every_id_route_and_nothing_changes(cast):
    test, lot, controls = f.ready_test(cast)
    failed = fail_negative(lot, cast.alice, controls)
    visit = roomed_visit(cast)
    later = (clock.today() + dt.timedelta(days=60)).isoformat()
    routes = [
        ("GET", url("visit", encounter_id=visit.public_id), {}),
        ("GET", url("run", encounter_id=visit.public_id, test_id=test.public_id), {}),
        (
            "POST",
            url("run", encounter_id=visit.public_id, test_id=test.public_id),
            {
                "kit_lot": str(lot.public_id),
                "confirm_birth_date": "1980-03-04",
                "value_78012-2": "positive",
                "internal_control_valid": "yes",
            },
        ),  # noqa: E501
        ("GET", url("qc", test_id=test.public_id), {}),
        ("POST", url("qc", test_id=test.public_id), qc_post(test, lot, controls)),
        ("GET", url("qc-log", test_id=test.public_id), {}),
        ("GET", url("qc-log", test_id=test.public_id) + "?format=pdf", {}),
        ("GET", url("receive-control", test_id=test.public_id), {}),
        (
            "POST",
            url("receive-control", test_id=test.public_id),
            {"level": "positive", "lot_number": "X1", "expires_on": later},
        ),  # noqa: E501
        ("GET", url("edit-test", test_id=test.public_id), {}),
        (
            "POST",
            url("edit-test", test_id=test.public_id),
            {
                "name": "Changed",
                "device": "x",
                "manufacturer": "y",
                "loinc": "78012-2",
                "control_levels": ["positive"],
            },
        ),  # noqa: E501
        (
            "POST",
            url("corrective-action", run_id=failed.public_id),
            {"action": "Outsider was here, changed it."},
        ),  # noqa: E501
        ("POST", url("retire-kit", lot_id=lot.public_id), {"reason": "outsider"}),
        (
            "POST",
            url("retire-control", lot_id=controls["positive"].public_id),
            {"reason": "outsider"},
        ),  # noqa: E501
        (
            "POST",
            url("receive-kit"),
            {
                "clinic": "north",
                "test": str(test.public_id),
                "lot_number": "Z9",
                "expires_on": later,
                "shipment": "S-X",
            },
        ),  # noqa: E501
    ]
    carol = client_for(cast.carol)
    before = fingerprint()
    for method, path, data in routes:
        response = carol.get(path) if method == "GET" else carol.post(path, data)
        assert response.status_code in (403, 404), (method, path, response.status_code)
        if "receive-kit" not in path:
            assert response.status_code == 404, (method, path, response.status_code)
    assert fingerprint() == before
    # 404 exactly as for a record that does not exist
    missing = "00000000-0000-4000-8000-000000000000"
    assert client_for(cast.alice).get(url("qc", test_id=missing)).status_code == 404
    assert AuditEvent.objects.filter(username="carol", outcome="denied").count() >= 10
    # and she sees nothing of North on her own pages
    south_home = carol.get(url("home")).content.decode()
    assert "4B21X" not in south_home and "Rapid strep" not in south_home


def test_the_manager_sees_each_tests_status_not_her_own_competency(cast):
    f.ready_test(cast)
    page = client_for(cast.dana).get(url("home")).content.decode()
    assert "Dana Whitfield has no competency" not in page
    assert re.search(r"Rapid strep.*?Ready", page, re.S)
    assert "Patients here today" not in page


# -- Bad input -------------------------------------------------------------------------------------

NASTY = st.one_of(
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "1e309",
            "NaN",
            "HI",
            ">600",
            "<=1",
            "\x00",
            "<script>",
            "9" * 300,
            "2026-02-30",
        ]  # noqa: E501
    ),
    st.text(max_size=20),
)


@pytest.mark.parametrize("kind", ["glucose", "influenza"])
def test_fuzzed_run_and_qc_posts_never_give_a_server_error(cast, kind):
    # The repo-wide fuzz test fills every id of a route with one id, so it cannot reach the run
    # form (two ids); this reaches the run, QC and control forms with valid ids and bad values.
    test, lot, controls = f.ready_test(cast, kind)
    visit = roomed_visit(cast)
    client = Client(raise_request_exception=False)
    client.force_login(cast.alice)
    run_url = url("run", encounter_id=visit.public_id, test_id=test.public_id)
    base_run = {
        "kit_lot": str(lot.public_id),
        "confirm_birth_date": "1980-03-04",
        "internal_control_valid": "yes",
        **{f"value_{a.code}": a.answers[0] if a.answers else "100" for a in test.analytes},
    }
    base_qc = qc_post(test, lot, controls)
    base_control = {"level": test.levels[0][0], "lot_number": "X1", "expires_on": "2099-01-01"}
    control_names = ["level", "lot_number", "expires_on", "received_on"] + [
        f"expected_{a.code}{end}" for a in test.analytes for end in ("", "_low", "_high")
    ]

    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        run=st.dictionaries(st.sampled_from(sorted(base_run)), NASTY, max_size=3),
        qc=st.dictionaries(st.sampled_from(sorted(base_qc)), NASTY, max_size=3),
        control=st.dictionaries(st.sampled_from(control_names), NASTY, max_size=3),
    )
    def check(run, qc, control):  # type: ignore[no-untyped-def]
        for path, data in (
            (run_url, {**base_run, **run}),
            (url("qc", test_id=test.public_id), {**base_qc, **qc}),
            (url("receive-control", test_id=test.public_id), {**base_control, **control}),
        ):
            assert client.post(path, data).status_code < 500, (path, data)

    check()
