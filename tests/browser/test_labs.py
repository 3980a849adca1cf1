"""Labs and point-of-care testing in a real browser, from the order to the result: bob takes the
patient from the flow board and, from the visit's summary, orders a CBC and a lipid panel from
the keyboard; the reference lab's test double on 127.0.0.1 takes one ORM^O01 carrying both
placer numbers. alice finds the tubes on her collection worklist in the CLSI order of draw,
confirms the patient's date of birth (a wrong one is refused on its field, nothing saved),
collects, prints the labels (the PDF read back: one page per tube, both identifiers, the
accession in words and in a Code 128 barcode decoded from the image), centrifuges the serum,
packs both tubes on a manifest and hands them to the courier. The lab's results come back over
MLLP and are acknowledged AA; bob's inbox shows both reports flagged and the lipid report shows
each flag as the lab's; alice sees neither values nor flags until bob releases the report with
a message, then reads what he wrote. Then alice opens the visit's rapid strep: locked, the page
naming today's controls; she runs the positive and negative controls from the link, comes back
and records a negative result, which goes to bob's inbox. Screenshots of each page are saved."""

import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from medassist.core import clock
from medassist.core.testing import make_cast
from medassist.demo.labs import COURIER, LAB_NAME, seed_catalog
from medassist.demo.poct import seed_poct
from medassist.encounters.models import Encounter
from medassist.flow.tests.factories import make_rooms
from medassist.hl7.er7 import segments, value
from medassist.hl7.lab_double import LabDouble
from medassist.hl7.lab_intake import ResultListener
from medassist.labs.models import (
    CustodyEvent,
    LabOrder,
    LabReport,
    Manifest,
    OrderMessage,
    Specimen,
)
from medassist.labs.tests.test_labels import decode_code128, page_barcode
from medassist.poct.models import PocTest, PocTestRun, QcRun
from tests.browser.test_vitals import roomed, sign_in_and_wait, type_into

pytestmark = pytest.mark.django_db(transaction=True)

CBC = "CBC with automated differential"
LIPIDS = "Lipid panel"
BIRTH_DATE = dt.date(1968, 9, 14)
# What the lab reports (LOINC, loinc.org/<code>/); the flags are the ones these values earn
# against the double's reference intervals (LDL <100, triglycerides <150, Hgb 12.0-16.0 g/dL).
LIPID_VALUES = {"2093-3": 248, "2571-8": 212, "2085-9": 38, "13457-7": 168}
CBC_VALUES = {"718-7": Decimal("10.9"), "4544-3": Decimal("33.5")}
RELEASE_MESSAGE = (
    "Your LDL cholesterol is high and your blood count shows mild anemia. Please book a visit "
    "this month so we can talk about a statin and iron studies."
)
CUSTODY = [
    CustodyEvent.Step.COLLECTED,
    CustodyEvent.Step.LABELED,
    CustodyEvent.Step.PACKAGED,
    CustodyEvent.Step.HANDED_TO_COURIER,
]


def press(page, locator) -> None:  # type: ignore[no-untyped-def]
    """Focus a control and press Enter, as a keyboard user does."""
    locator.focus()
    page.keyboard.press("Enter")


def tick(page, locator) -> None:  # type: ignore[no-untyped-def]
    """Focus a checkbox or radio button and press Space."""
    locator.focus()
    page.keyboard.press("Space")
    expect(locator).to_be_checked()


def open_chart(page, query: str, name: str) -> None:  # type: ignore[no-untyped-def]
    """The search box from the keyboard ("/"), then the patient's chart."""
    page.goto("/")
    page.keyboard.press("/")
    page.keyboard.type(query)
    expect(page.locator("#patient-results").get_by_text(name)).to_be_visible()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)


def nav(page, name: str) -> None:  # type: ignore[no-untyped-def]
    press(page, page.get_by_role("navigation", name="Account").get_by_role("link", name=name))


def labels_pdf(page) -> bytes:  # type: ignore[no-untyped-def]
    """Press "Print labels (PDF)" (a form posted into a new tab) and return the PDF the server
    sent. Chromium's PDF viewer takes over the tab, so the response is read on its way there
    (the request goes through unchanged) and the tab is closed."""
    caught: list[bytes] = []

    def keep(route) -> None:  # type: ignore[no-untyped-def]
        response = route.fetch()
        assert response.status == 200, response.status
        assert response.headers["content-type"] == "application/pdf"
        caught.append(response.body())
        route.fulfill(response=response)

    page.context.route("**/labels.pdf", keep)
    try:
        with page.context.expect_page() as opened:
            press(page, page.get_by_role("button", name="Print labels (PDF)"))
        tab = opened.value
        tab.wait_for_load_state()
        expect(tab).to_have_url(re.compile(r"/labels\.pdf$"))
        tab.close()
    finally:
        page.context.unroute("**/labels.pdf", keep)
    [pdf] = caught
    return pdf


def test_labs_from_order_to_result_and_a_rapid_strep_behind_its_controls(page_for, screenshot):
    cast = make_cast()
    [room] = make_rooms(cast.north, 1)
    visit = roomed(
        cast, room, family="Delgado", given="Marisol", birth_date=BIRTH_DATE, sex="female"
    )
    patient = visit.patient
    Encounter.objects.filter(pk=visit.pk).update(stage=Encounter.Stage.READY_FOR_PROVIDER)
    seed_poct(cast.north, manager=cast.dana, staff=[cast.alice, cast.bob])
    strep = PocTest.objects.get(clinic=cast.north, kind="rapid_strep")
    assert not QcRun.objects.filter(test=strep, performed_at__date=clock.today()).exists()

    with LabDouble("AA", application="RRL-LIS") as lab_double, ResultListener(port=0) as listener:
        lab = seed_catalog(cast.north, host="127.0.0.1", port=lab_double.port)

        # -- 1. bob takes the patient from the board and orders a CBC and a lipid panel for the
        #       visit, from the keyboard. ------------------------------------------------------
        bob = page_for()
        sign_in_and_wait(bob, "bob")
        nav(bob, "Flow board")
        press(
            bob, bob.locator(f"#visit-{visit.public_id}").get_by_role("button", name="Take patient")
        )
        expect(bob).to_have_url(re.compile(r"/summary/$"))
        press(bob, bob.get_by_role("link", name="Order lab tests"))
        expect(bob.get_by_role("heading", level=1)).to_have_text(
            "Order lab tests: Delgado, Marisol"
        )
        expect(bob.get_by_text(re.compile("^For the visit of"))).to_contain_text("Sick visit")
        tick(bob, bob.get_by_label(CBC, exact=True))
        tick(bob, bob.get_by_label(LIPIDS, exact=True))
        expect(bob.get_by_label("CBC without differential", exact=True)).not_to_be_checked()
        diagnoses = bob.get_by_label(re.compile("^Diagnoses"))
        diagnoses.focus()
        bob.keyboard.type("E78.5 Hyperlipidemia, unspecified")
        screenshot(bob, "labs-order")
        press(bob, bob.get_by_role("button", name="Order", exact=True))
        expect(bob.get_by_role("heading", name=re.compile("^Lab orders"))).to_be_visible()
        expect(bob.get_by_text(re.compile("^Ordered: "))).to_contain_text(CBC)
        expect(bob.locator("section[id^=req-]")).to_contain_text("Accepted (AA)")

        orders = list(LabOrder.objects.filter(patient=patient).select_related("test"))
        assert sorted(o.test.name for o in orders) == [CBC, LIPIDS]
        [requisition] = {o.requisition for o in orders}  # one lab, one requisition
        assert requisition.lab == lab
        assert requisition.encounter_id == visit.pk
        assert [d["code"] for d in requisition.diagnoses] == ["E78.5"]
        # Sent after the order's commit, within bob's request (OUTBOX_BACKGROUND is off).
        [sent] = OrderMessage.objects.filter(requisition=requisition)
        assert sent.status == OrderMessage.Status.ACCEPTED
        assert sent.ack_code == "AA"
        [orm_text] = lab_double.received
        [orm] = lab_double.orders
        msh = orm.segment("MSH")
        assert (value(msh, 9, 1), value(msh, 9, 2)) == ("ORM", "O01")
        assert value(msh, 10) == sent.control_id
        placers = {o.placer_number for o in orders}
        assert {value(orc, 2, 1) for orc in segments(orm, "ORC")} == placers
        assert {value(obr, 2, 1) for obr in segments(orm, "OBR")} == placers
        assert {value(obr, 4, 1) for obr in segments(orm, "OBR")} == {"57021-8", "24331-1"}

        # -- 2. alice's collection worklist: gold SST before lavender EDTA (CLSI GP41). ---------
        alice = page_for()
        sign_in_and_wait(alice, "alice")
        nav(alice, "Specimens")
        expect(alice.get_by_role("heading", level=1)).to_contain_text("Specimens to collect today")
        row = alice.locator("section.work-patient", has_text="Delgado, Marisol")
        expect(row).to_contain_text(f"With provider, {room.name}")
        expect(row).to_contain_text("DOB 09/14/1968")
        tubes = row.get_by_role("list", name="Tubes in the order of draw").locator("> li")
        expect(tubes).to_have_count(2)
        expect(tubes.nth(0)).to_contain_text("1.")
        expect(tubes.nth(0)).to_contain_text("Gold")
        expect(tubes.nth(0)).to_contain_text(f"for {LIPIDS}")
        expect(tubes.nth(1)).to_contain_text("2.")
        expect(tubes.nth(1)).to_contain_text("Lavender")
        expect(tubes.nth(1)).to_contain_text(f"for {CBC}")
        expect(row).to_contain_text("Fasting")
        screenshot(alice, "labs-worklist")

        # -- 3. Collection: two identifiers; a wrong date of birth is refused, nothing saved. --
        press(alice, row.get_by_role("link", name=re.compile("^Collect")))
        expect(alice.get_by_role("heading", level=1)).to_have_text("Collect: DELGADO, Marisol")
        draw = alice.get_by_role("list", name=re.compile("^Tubes in the order of draw")).locator(
            "> li"
        )
        expect(draw.nth(0)).to_contain_text("Gold")
        expect(draw.nth(1)).to_contain_text("Lavender")
        tick(alice, alice.get_by_label(re.compile("said their full name")))
        type_into(alice, "Date of birth, as the patient says it", "09/15/1968")
        method = alice.get_by_label("Blood drawn by")
        method.select_option(label="Venipuncture")
        expect(method).to_have_value("VENIP")
        type_into(alice, "Site (optional)", "Left antecubital (median cubital vein)")
        type_into(alice, "Hours since the patient last ate", "13")
        press(alice, alice.get_by_role("button", name="Record the collection"))
        dob_error = alice.locator("#error-confirm_birth_date")
        expect(dob_error).to_be_visible()
        expect(dob_error).to_contain_text("does not match this patient's record")
        screenshot(alice, "labs-collect")
        assert not Specimen.objects.filter(requisition=requisition).exists()
        assert set(LabOrder.objects.filter(patient=patient).values_list("stage", flat=True)) == {
            LabOrder.Stage.TO_COLLECT
        }
        # What she chose is kept: only the date is corrected.
        expect(alice.get_by_label("Blood drawn by")).to_have_value("VENIP")
        type_into(alice, "Date of birth, as the patient says it", "09/14/1968")
        expect(alice.get_by_label(re.compile("said their full name"))).to_be_checked()
        press(alice, alice.get_by_role("button", name="Record the collection"))
        expect(alice.get_by_text(re.compile("^Collected: 2 specimens"))).to_be_visible()
        specimens = list(Specimen.objects.filter(requisition=requisition).order_by("id"))
        assert len(specimens) == 2
        by_container = {s.container: s for s in specimens}
        serum, blood = by_container["gold_sst"], by_container["lavender"]
        assert all(s.collected_by == cast.alice and s.method == "VENIP" for s in specimens)

        # The labels: one 2 x 1 in page per tube, both identifiers and the accession on each,
        # and the barcode reads back as the accession.
        pdf = PdfReader(io.BytesIO(labels_pdf(alice)))
        assert len(pdf.pages) == len(specimens)
        read = {}
        for page in pdf.pages:
            text = page.extract_text()
            assert "DELGADO, Marisol" in text
            assert "09/14/1968" in text
            assert patient.mrn in text
            scanned = decode_code128(page_barcode(page))
            assert scanned in text
            read[scanned] = text
        assert set(read) == {s.accession for s in specimens}
        assert LIPIDS in read[serum.accession]
        assert CBC in read[blood.accession]
        alice.reload()
        expect(alice.locator("#labels + ul")).to_contain_text("label printed 1×")

        # The serum is spun within the 2 hours (CLSI GP44), from its specimen page.
        press(alice, alice.get_by_role("link", name=serum.accession))
        expect(alice.get_by_role("heading", level=1)).to_have_text(f"Specimen {serum.accession}")
        expect(alice.get_by_text(re.compile("^Centrifuge by"))).to_be_visible()
        press(alice, alice.get_by_role("link", name=re.compile("^Process")))
        type_into(alice, "Centrifuged for (minutes) (optional)", "10")
        press(alice, alice.get_by_role("button", name="Record", exact=True))
        expect(alice.get_by_text(f"Recorded: {serum.accession} processed.")).to_be_visible()
        expect(alice.get_by_role("list", name="Chain of custody")).to_contain_text("Centrifuged")

        # Packed on a manifest, then handed to the courier.
        press(alice, alice.get_by_role("link", name="Pack for the courier"))
        expect(alice.get_by_role("heading", name=f"For {LAB_NAME}")).to_be_visible()
        for s in specimens:
            box = alice.get_by_label(re.compile(re.escape(s.accession)))
            if not box.is_checked():
                tick(alice, box)
        press(alice, alice.get_by_role("button", name="Make the manifest"))
        expect(alice.get_by_text(re.compile(r"^Manifest \S+: 2 specimens packed"))).to_be_visible()
        expect(alice.get_by_text("Waiting for the courier")).to_be_visible()
        type_into(alice, "Courier's name", COURIER)
        press(alice, alice.get_by_role("button", name="Handed over"))
        expect(alice.get_by_text(f"handed to {COURIER}.")).to_be_visible()
        manifest = Manifest.objects.get()
        assert manifest.courier_name == COURIER and manifest.handed_by == cast.alice
        rows = alice.locator("table tbody tr")
        expect(rows).to_have_count(2)
        for i in range(2):
            expect(rows.nth(i)).to_contain_text("With the courier")

        # The pending board shows both with the courier, not overdue.
        press(alice, alice.get_by_role("link", name="Pending specimens"))
        for s in specimens:
            pending_row = alice.locator("tr", has_text=s.accession)
            expect(pending_row).to_contain_text("With the courier")
            expect(pending_row).to_contain_text("DELGADO, Marisol")
        screenshot(alice, "labs-pending")

        for s in specimens:
            s.refresh_from_db()
            assert s.status == Specimen.Status.IN_TRANSIT
            trail = list(s.custody.order_by("at", "id"))
            steps = [e.step for e in trail]
            expected = list(CUSTODY)
            if s == serum:
                expected.insert(2, CustodyEvent.Step.SPUN)
            assert steps == expected, (s.accession, steps)
            assert all(e.at is not None for e in trail)
            assert all(e.by == cast.alice for e in trail)
            assert trail[-1].by_name == COURIER
            assert [e.at for e in trail] == sorted(e.at for e in trail)

        # -- 4. The results come back over MLLP; each is acknowledged AA. ----------------------
        by_test = {o.test.name: o for o in orders}
        pushed = [
            lab_double.result_for(
                orm_text, values=LIPID_VALUES, only=[by_test[LIPIDS].placer_number]
            ),
            lab_double.result_for(orm_text, values=CBC_VALUES, only=[by_test[CBC].placer_number]),
        ]
        for message in pushed:
            ack = lab_double.push(message, listener.host, listener.port)
            assert ack.code == "AA", ack.raw
        reports = {r.order.test.name: r for r in LabReport.objects.filter(patient=patient)}
        assert set(reports) == {CBC, LIPIDS}
        assert all(r.ordering_provider == cast.bob and r.abnormal for r in reports.values())
        assert not any(r.critical for r in reports.values())
        flags = {
            x.loinc: x.flag
            for r in reports.values()
            for x in r.results.all()
            if x.flag not in ("", "N")
        }
        assert flags == {
            "2093-3": "H", "2571-8": "H", "2085-9": "L", "13457-7": "H",
            "718-7": "L", "4544-3": "L",
        }  # fmt: skip
        lipid_report = reports[LIPIDS]

    # bob's inbox: both reports, flagged as the lab flagged them.
    nav(bob, "Results")
    expect(bob.get_by_role("heading", name="Results to review")).to_be_visible()
    for report in reports.values():
        inbox_row = bob.locator(f"#report-{report.public_id}")
        expect(inbox_row).to_have_class(re.compile(r"\babnormal\b"))
        expect(inbox_row).to_contain_text("Abnormal")
        expect(inbox_row).to_contain_text(f"Delgado, Marisol MRN {patient.mrn}")
        expect(inbox_row).to_contain_text(LAB_NAME)
        expect(inbox_row.get_by_role("link")).to_have_text(report.name)
    expect(bob.locator(f"#report-{lipid_report.public_id}")).to_contain_text("4 flagged")
    expect(bob.locator(f"#report-{reports[CBC].public_id}")).to_contain_text("2 flagged")
    screenshot(bob, "labs-inbox")

    press(bob, bob.locator(f"#report-{lipid_report.public_id}").get_by_role("link"))
    results = bob.locator("table.lab-results")
    ldl = results.locator("tr", has=bob.get_by_role("rowheader", name=re.compile("^LDL")))
    expect(ldl).to_have_class(re.compile(r"\bflagged\b"))
    expect(ldl).to_contain_text("168")
    expect(ldl).to_contain_text(f"Flag from {LAB_NAME}: High")
    trig = results.locator("tr", has=bob.get_by_role("rowheader", name=re.compile("^Trigl")))
    expect(trig).to_contain_text("212")
    expect(trig).to_contain_text(f"Flag from {LAB_NAME}: High")
    hdl = results.locator("tr", has=bob.get_by_role("rowheader", name=re.compile("^HDL")))
    expect(hdl).to_contain_text(f"Flag from {LAB_NAME}: Low")
    screenshot(bob, "labs-report")

    # alice, before the release: the report's status, no value and no flag.
    alice.goto("/")
    open_chart(alice, "delgado mar", "Delgado, Marisol")
    press(alice, alice.get_by_role("link", name="Lab results and trends"))
    press(alice, alice.get_by_role("link", name=lipid_report.name, exact=True))
    expect(alice.locator("#waiting")).to_contain_text("waiting for Robert Okafor's review")
    expect(alice.locator("table.lab-results")).to_have_count(0)
    main = alice.locator("main")
    expect(main).not_to_contain_text("168")
    expect(main).not_to_contain_text("Flag from")

    # bob releases it with his words for the patient.
    message_box = bob.get_by_label("Message for the patient (required to release)")
    message_box.focus()
    bob.keyboard.type(RELEASE_MESSAGE)
    press(bob, bob.get_by_role("button", name="Review and release"))
    expect(
        bob.get_by_text("Released: the medical assistant can now tell the patient.")
    ).to_be_visible()

    alice.reload()
    told = alice.locator("#patient-message")
    expect(told.get_by_role("heading")).to_have_text("What Robert Okafor wrote for the patient")
    expect(told).to_contain_text(RELEASE_MESSAGE)
    expect(alice.locator("table.lab-results")).to_contain_text(f"Flag from {LAB_NAME}: High")
    lipid_report.refresh_from_db()
    assert lipid_report.released_by == cast.bob
    assert lipid_report.patient_message == RELEASE_MESSAGE

    # -- 5. The rapid strep: locked until today's controls are run. ---------------------------
    nav(alice, "Point of care")
    press(alice, alice.get_by_role("link", name="Delgado, Marisol"))
    expect(alice.get_by_role("heading", name="Point-of-care tests for this visit")).to_be_visible()
    press(alice, alice.get_by_role("link", name="Rapid strep"))
    lockout = alice.locator("#lockout")
    expect(lockout.get_by_role("heading")).to_have_text("Locked: a result cannot be recorded yet")
    [kit] = [lot for lot in strep.kit_lots.all() if lot.retired_at is None]
    reason = lockout.locator("li[data-code=qc_due]")
    expect(reason).to_contain_text(
        f"Today's external controls for Rapid strep have not been run on lot {kit.lot_number}"
    )
    expect(reason).to_contain_text("positive and negative")
    record = alice.get_by_role("button", name="Record result")
    expect(record).to_be_disabled()
    screenshot(alice, "poct-locked")
    assert not PocTestRun.objects.filter(encounter=visit).exists()

    press(alice, reason.get_by_role("link"))
    expect(alice.get_by_role("heading", name="External controls: Rapid strep")).to_be_visible()
    expect(alice.get_by_label("Kit lot", exact=True)).to_have_value(str(kit.public_id))
    alice.get_by_label("Positive: Group A strep antigen").select_option(label="Positive")
    alice.get_by_label("Negative: Group A strep antigen").select_option(label="Negative")
    screenshot(alice, "poct-qc")
    press(alice, alice.get_by_role("button", name="Record controls"))

    # Back on the run page, unlocked.
    expect(alice.get_by_role("heading", level=1, name="Rapid strep")).to_be_visible()
    expect(alice.get_by_text(re.compile("^Controls recorded on lot"))).to_contain_text(
        "positive passed, negative passed"
    )
    expect(alice.locator("#lockout")).to_have_count(0)
    expect(alice.get_by_role("button", name="Record result")).to_be_enabled()
    dob = alice.get_by_label(re.compile("^Patient's date of birth"))
    dob.focus()
    alice.keyboard.type(BIRTH_DATE.strftime("%m%d%Y"))
    expect(dob).to_have_value(BIRTH_DATE.isoformat())
    internal = alice.get_by_role(
        "group", name="QuickVue Dipstick Strep A: internal control appeared"
    )
    tick(alice, internal.get_by_label("Yes", exact=True))
    kit_shows = alice.get_by_role("group", name="Group A strep antigen: what the kit shows")
    tick(alice, kit_shows.get_by_label("Negative", exact=True))
    press(alice, alice.get_by_role("button", name="Record result"))
    expect(alice.get_by_text(re.compile("^Rapid strep recorded and sent to"))).to_be_visible()
    expect(alice.locator("#done-title + table")).to_contain_text("Robert Okafor's results inbox")

    [run] = PocTestRun.objects.filter(encounter=visit)
    assert run.operator == cast.alice and run.ordering_provider == cast.bob
    assert run.internal_control_valid is True
    assert run.values == {"78012-2": "negative"}
    assert run.kit_lot == kit
    assert run.report is not None and run.report.source == LabReport.Source.POCT
    assert run.qc_runs.filter(passed=True).count() == 2
    assert (
        QcRun.objects.filter(test=strep, performed_by=cast.alice, passed=True)
        .filter(performed_at__gte=clock.now() - dt.timedelta(hours=1))
        .count()
        == 2
    )

    nav(bob, "Results")
    poct_row = bob.locator(f"#report-{run.report.public_id}")
    expect(poct_row).to_contain_text("(point of care)")
    expect(poct_row).to_contain_text("Delgado")
