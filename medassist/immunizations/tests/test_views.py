"""The immunization pages over HTTP: the record with its forecast, giving a dose by scanning the
vial (every refusal shown on its field), doses from records, refusals, the provider's orders,
corrections, reactions and the VAERS draft, the fridge, standing orders, the registry, and the
observation timer on the flow board. Another clinic's MA gets 404 and changes nothing."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from medassist.audit.models import Action, AuditEvent
from medassist.core import clock
from medassist.immunizations import codes, gs1, services
from medassist.immunizations.models import (
    ClinicSettings,
    Eligibility,
    Funding,
    Immunization,
    ObservationPeriod,
    PatientIndication,
    Reaction,
    RegistryConnection,
    RegistrySubmission,
    StandingOrder,
    VaccineLot,
)
from medassist.immunizations.services import SCREENING_QUESTIONS
from medassist.immunizations.tests import factories as f
from medassist.immunizations.tests.test_services import four_month_old
from medassist.patients.tests.factories import make_encounter, make_patient

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def url(name: str, **kwargs) -> str:  # type: ignore[no-untyped-def]
    return reverse(f"immunizations:{name}", kwargs=kwargs)


def scan_of(ndc: str, lot: str, expires: dt.date) -> str:
    product = codes.catalog().product_for_ndc(ndc)
    assert product is not None
    return gs1.make_gs1_element_string(gs1.gtin_for_ndc(product.ndc10), lot, expires)


def dose_form(patient, lot, standing=None, **changes) -> dict:  # type: ignore[no-untyped-def]
    """What the MA submits for a dose: every question answered no, every VIS ticked."""
    data = {
        "lot": str(lot.public_id),
        "site": "LT",
        "route": f.ROUTES.get(lot.cvx, "IM"),
        "eligibility": Eligibility.MEDICAID,
        "standing_order": str(standing.public_id) if standing else "",
        "vis": f.vis_for(lot.cvx),
        "consent": "1",
        "confirm_birth_date": patient.birth_date.strftime("%m/%d/%Y"),
        **{f"screening_{key}": "no" for key, _ in SCREENING_QUESTIONS},
    }
    data.update(changes)
    return data


def error_on(html: str, element_id: str) -> str:
    """The text of the error paragraph with this id (the one beside its field)."""
    found = re.search(rf'<p class="error" id="{element_id}">(.*?)</p>', html, re.S)
    assert found, f"no #{element_id} in the page"
    return found.group(1)


def field_of(html: str, name: str) -> str:
    """The form field (label, control and its error) of the control named `name`."""
    at = html.index(f'name="{name}"')
    start = html.rindex('<div class="field', 0, at)
    return html[start : html.index("</div>", at)]


@pytest.fixture
def baby(cast):  # type: ignore[no-untyped-def]
    return four_month_old(cast)


@pytest.fixture
def orders(cast):  # type: ignore[no-untyped-def]
    return f.standing_orders(cast.north, cast.bob)


# -- The record ------------------------------------------------------------------------------


def test_the_record_shows_the_forecast_in_words_and_each_dose_with_how_it_counts(cast, baby):
    two_months = baby.birth_date + dt.timedelta(days=61)
    too_soon = f.historical(baby, "49", two_months + dt.timedelta(days=10))  # 4-week minimum
    html = client_for(cast.alice).get(url("patient", patient_id=baby.public_id)).content.decode()
    polio = html[html.index('id="group-polio"') :]
    polio = polio[: polio.index("</tr>")]
    assert '<span class="badge status-due">due</span> Dose 2 due now' in polio
    assert "<td>2</td>" in polio  # the dose number
    row = html[html.index(f'id="dose-{too_soon.public_id}"') :]
    row = row[: row.index("</tr>")]
    assert "Hib: <b>Not Valid</b>" in row and "Interval: Too Soon" in row
    assert "Historical, from another provider" in row
    assert "Polio: <b>Valid</b>, dose 1" in html  # the DTaP-HepB-IPV at 2 months
    assert "Give vaccines" in html and "Add history from a record" in html
    assert "Order a vaccine" not in html  # alice does not order
    event = AuditEvent.objects.filter(entity_type="Immunization", patient_id=baby.pk).last()
    assert event is not None and event.action == Action.READ
    assert "immunization record" in event.description


def test_an_unvaccinated_babys_overdue_vaccines_come_first_with_their_badge(cast):
    child = make_patient(cast.north, family="Late", birth_date=clock.today() - dt.timedelta(150))
    html = client_for(cast.alice).get(url("patient", patient_id=child.public_id)).content.decode()
    table = html[html.index('id="forecast"') :]
    first = table[table.index("<tbody>") :]
    first = first[: first.index("</tr>")]
    assert 'id="group-hepb"' in first
    assert '<span class="badge status-overdue">overdue</span> Dose 1 overdue' in first
    assert '<span class="badge status-due-later">due later</span>' in table
    assert "No doses recorded" in html


def test_the_chart_links_to_the_immunization_record(cast, baby):
    html = client_for(cast.alice).get(f"/patients/{baby.public_id}/").content.decode()
    assert url("patient", patient_id=baby.public_id) in html
    assert f'hx-get="{url("chart-summary", patient_id=baby.public_id)}"' in html


def test_the_charts_card_says_what_is_overdue_and_due(cast, baby):
    summary = client_for(cast.alice).get(url("chart-summary", patient_id=baby.public_id))
    html = summary.content.decode()
    assert "due today</b> Rotavirus, DTaP/Tdap/Td, Hib, Pneumococcal, Polio" in html
    assert "overdue</b>" not in html
    late = make_patient(cast.north, family="Late", birth_date=clock.today() - dt.timedelta(150))
    late_card = client_for(cast.alice).get(url("chart-summary", patient_id=late.public_id))
    assert b"overdue</b> HepB" in late_card.content
    assert (
        AuditEvent.objects.filter(
            entity_type="Immunization", description__contains="summary on the chart"
        ).count()
        == 2
    )
    assert (
        client_for(cast.carol).get(url("chart-summary", patient_id=baby.public_id)).status_code
        == 404
    )


def test_the_record_reads_in_the_same_number_of_queries_for_2_or_10_doses(cast):
    born = clock.today() - dt.timedelta(days=3 * 365)
    child = make_patient(cast.north, family="Count", birth_date=born)
    lot = f.make_lot(cast.north, f.PEDVAXHIB)

    def add(n: int) -> None:
        for i in range(n):
            dose = f.historical(
                child,
                "49" if i % 2 else "08",
                born + dt.timedelta(days=60 * (len(doses) + 1)),
                source=Immunization.Source.NEW if i % 2 else Immunization.Source.REGISTRY,
                given_by=cast.alice if i % 2 else None,
                lot=lot if i % 2 else None,
                given_at=clock.now() if i % 2 else None,
            )
            doses.append(dose)
            if i % 2:
                period = ObservationPeriod.objects.create(
                    immunization=dose, clinic=cast.north, ends_at=clock.now()
                )
                Reaction.objects.create(
                    immunization=dose,
                    clinic=cast.north,
                    patient=child,
                    symptoms="redness",
                    onset_at=period.ends_at,
                    outcome=Reaction.Outcome.RESOLVED,
                )

    doses: list[Immunization] = []
    alice = client_for(cast.alice)
    page = url("patient", patient_id=child.public_id)
    add(2)
    alice.get(page)
    with CaptureQueriesContext(connection) as few:
        assert alice.get(page).status_code == 200
    add(8)
    with CaptureQueriesContext(connection) as many:
        html = alice.get(page).content.decode()
    assert html.count('<tr id="dose-') == 10
    assert len(many.captured_queries) == len(few.captured_queries)


# -- Giving a dose -------------------------------------------------------------------------------


def test_the_give_page_lists_what_is_due_with_the_scan_field_ready(cast, baby):
    html = client_for(cast.alice).get(url("give", patient_id=baby.public_id)).content.decode()
    assert "Due today" in html and "<b>Polio</b>: Dose 2 due now" in html
    field = html[html.index('id="scan-input"') :]
    assert "autofocus" in field[: field.index(">")]
    # the scan is its own form: Enter in it looks the lot up, it never submits the dose form
    scan_form = html[html.index('<form method="post" class="scan-form"') :]
    assert scan_form.index('name="scanned"') < scan_form.index("</form>")
    assert 'id="dose-form"' not in html


def test_front_desk_may_open_the_record_but_not_the_give_page(cast, baby):
    gwen = client_for(cast.gwen)
    assert gwen.get(url("patient", patient_id=baby.public_id)).status_code == 200
    assert gwen.get(url("give", patient_id=baby.public_id)).status_code == 403


def test_scanning_the_vials_gs1_code_fills_the_dose_form(cast, baby, orders):
    lot = f.make_lot(cast.north, f.PEDIARIX, lot="AB12C", doses=4)
    response = client_for(cast.alice).post(
        url("scan", patient_id=baby.public_id),
        {"scanned": scan_of(f.PEDIARIX, "AB12C", lot.expires_on)},
        headers=HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f'name="lot" value="{lot.public_id}"' in html
    assert "<dt>Doses left</dt><dd>4" in html and "Public (VFC)" in html
    assert "GlaxoSmithKline" in html  # the manufacturer, from the MVX code
    assert '<option value="IM" selected>Intramuscular</option>' in html  # route of the product
    assert "Multi Pediatric Vaccines VIS" in html  # offered beside the single VIS documents
    # the standing order for the product's groups is offered and chosen
    assert f'value="{orders["DTaP/Tdap/Td"].public_id}" selected' in html
    # screening defaults to unanswered; the date of birth is never filled in for the MA
    assert 'value="yes" checked' not in html and 'value="no" checked' not in html
    assert 'name="confirm_birth_date" placeholder="MM/DD/YYYY" autocomplete="off"' in html
    assert 'value=""' in html[html.index('id="f-confirm_birth_date"') :][:300]


def test_typing_the_lot_number_finds_it_too(cast, baby):
    lot = f.make_lot(cast.north, f.PEDVAXHIB, lot="X77Q")
    html = (
        client_for(cast.alice)
        .post(url("scan", patient_id=baby.public_id), {"scanned": "x77q"}, headers=HTMX)
        .content.decode()
    )
    assert f'name="lot" value="{lot.public_id}"' in html


def test_a_lot_held_as_vfc_and_private_stock_asks_which_one(cast, baby, orders):
    expires = clock.today() + dt.timedelta(days=100)
    vfc = f.make_lot(cast.north, f.PEDVAXHIB, lot="TWIN1", expires=expires)
    private = f.make_lot(cast.north, f.PEDVAXHIB, lot="TWIN1", expires=expires, funding="PHC70")
    alice = client_for(cast.alice)
    html = alice.post(
        url("scan", patient_id=baby.public_id),
        {"scanned": scan_of(f.PEDVAXHIB, "TWIN1", expires)},
        headers=HTMX,
    ).content.decode()
    assert f'name="lot" value="{vfc.public_id}" checked' in html
    assert f'name="lot" value="{private.public_id}"' in html and "Private" in html
    refused = alice.post(
        url("give", patient_id=baby.public_id),
        dose_form(baby, private, orders["Hib"]),
        headers=HTMX,
    )
    assert "Give VFC vaccine" in error_on(refused.content.decode(), "lot-error")
    # shown again with both stocks to choose from, the one the MA chose still chosen
    assert f'name="lot" value="{private.public_id}" checked' in refused.content.decode()
    assert f'name="lot" value="{vfc.public_id}"' in refused.content.decode()
    given = alice.post(
        url("give", patient_id=baby.public_id), dose_form(baby, vfc, orders["Hib"]), headers=HTMX
    )
    assert given.status_code == 200
    assert Immunization.objects.get(lot=vfc).funding == Funding.VFC


def test_a_malformed_barcode_shows_the_readers_message(cast, baby):
    response = client_for(cast.alice).post(
        url("scan", patient_id=baby.public_id), {"scanned": "0100006489"}, headers=HTMX
    )
    assert response.status_code == 422
    html = response.content.decode()
    with pytest.raises(gs1.Gs1Error) as expected:
        gs1.parse("0100006489")
    assert escape(str(expected.value)) in html
    assert 'id="scan-error" class="error" role="alert"' in html
    assert 'aria-invalid="true" aria-describedby="scan-error"' in html
    assert 'id="dose-form"' not in html
    # a 2D code whose GTIN fails its check digit
    bad_check = "0100300064897013" + "10LOT1"
    with pytest.raises(gs1.Gs1Error) as expected:
        gs1.parse(bad_check)
    again = client_for(cast.alice).post(
        url("scan", patient_id=baby.public_id), {"scanned": bad_check}, headers=HTMX
    )
    assert again.status_code == 422
    assert escape(str(expected.value)) in again.content.decode()


def test_a_scan_of_a_product_not_in_stock_says_so(cast, baby):
    f.make_lot(cast.north, f.PEDIARIX, lot="INSTOCK")
    response = client_for(cast.alice).post(
        url("scan", patient_id=baby.public_id),
        {"scanned": scan_of(f.PREVNAR20, "NOPE1", clock.today() + dt.timedelta(days=90))},
        headers=HTMX,
    )
    assert response.status_code == 422
    assert "Prevnar 20 lot NOPE1 is not in this clinic&#x27;s stock" in response.content.decode()


def test_giving_a_dose_takes_it_from_stock_and_shows_it_with_the_observation_timer(
    cast, baby, orders
):
    lot = f.make_lot(cast.north, f.PEDIARIX, doses=3)
    alice = client_for(cast.alice)
    response = alice.post(
        url("give", patient_id=baby.public_id), dose_form(baby, lot, orders["DTaP/Tdap/Td"])
    )
    assert response.status_code == 302
    dose = Immunization.objects.get(lot=lot)
    assert response["Location"].endswith(f"#dose-{dose.public_id}")
    lot.refresh_from_db()
    assert lot.doses_on_hand == 2
    assert dose.given_by == cast.alice and dose.standing_order == orders["DTaP/Tdap/Td"]
    assert dose.screening == f.all_no() and len(dose.vis) == 4
    html = alice.get(response["Location"]).content.decode()
    until = clock.localtime(dose.observation.ends_at).strftime("%H:%M")
    assert f"Observe until {until}" in html
    assert url("reaction", dose_id=dose.public_id) in html
    assert "Record a reaction" in html
    assert f'id="dose-{dose.public_id}"' in html and "LOT1" in html


def test_several_vaccines_in_a_row_keep_the_scan_field_ready(cast, baby, orders):
    alice = client_for(cast.alice)
    hib = f.make_lot(cast.north, f.PEDVAXHIB, lot="HIB1")
    rota = f.make_lot(cast.north, f.ROTATEQ, lot="ROTA1")
    for lot, order in ((hib, orders["Hib"]), (rota, orders["Rotavirus"])):
        response = alice.post(
            url("give", patient_id=baby.public_id), dose_form(baby, lot, order), headers=HTMX
        )
        assert response.status_code == 200
        assert response["HX-Retarget"] == "#give-work"
        html = response.content.decode()
        field = html[html.index('id="scan-input"') :]
        assert "autofocus" in field[: field.index(">")]
        assert 'id="just-given"' in html and "Observe until" in html
    assert Immunization.objects.filter(patient=baby, source="00").count() == 2
    assert html.count('id="observe-') == 2  # both doses are under observation
    rota_dose = Immunization.objects.get(lot=rota)
    assert rota_dose.route == "PO"
    # an oral vaccine's form comes with route and site filled in
    scanned = alice.post(url("scan", patient_id=baby.public_id), {"scanned": "ROTA1"}, headers=HTMX)
    assert '<option value="PO" selected>Oral</option>' in scanned.content.decode()
    assert '<option value="MO" selected>Mouth</option>' in scanned.content.decode()


def _refused(cast, baby, lot, **changes):  # type: ignore[no-untyped-def]
    standing = changes.pop("standing", None)
    response = client_for(cast.alice).post(
        url("give", patient_id=baby.public_id),
        dose_form(baby, lot, standing, **changes),
        headers=HTMX,
    )
    assert response.status_code == 422
    assert not Immunization.objects.filter(lot=lot).exists()
    html = response.content.decode()
    assert "The dose was not given." in html
    return html


def test_an_expired_lot_is_refused_on_the_lot(cast, baby, orders):
    lot = f.make_lot(cast.north, f.PEDIARIX, expires=clock.today() - dt.timedelta(days=1))
    html = _refused(cast, baby, lot, standing=orders["DTaP/Tdap/Td"])
    assert "expired on" in error_on(html, "lot-error")
    assert "Expired — do not use" in html
    lot.refresh_from_db()
    assert lot.doses_on_hand == 10


def test_a_wrong_date_of_birth_is_refused_on_that_field(cast, baby, orders):
    lot = f.make_lot(cast.north, f.PEDIARIX)
    wrong = (baby.birth_date - dt.timedelta(days=1)).strftime("%m/%d/%Y")
    html = _refused(cast, baby, lot, standing=orders["DTaP/Tdap/Td"], confirm_birth_date=wrong)
    assert "does not match this patient" in error_on(html, "dob-error")
    assert f'value="{wrong}"' in html  # what the MA typed stays, to check it
    assert 'href="#f-confirm_birth_date"' in html  # the summary links to the field
    # without JavaScript the whole page comes back, with the same refusal on the same field
    page = client_for(cast.alice).post(
        url("give", patient_id=baby.public_id),
        dose_form(baby, lot, orders["DTaP/Tdap/Td"], confirm_birth_date=wrong),
    )
    assert page.status_code == 422
    assert "Due today" in page.content.decode()
    assert "does not match this patient" in error_on(page.content.decode(), "dob-error")


def test_private_stock_for_a_vfc_child_is_refused_on_the_lot(cast, baby, orders):
    lot = f.make_lot(cast.north, f.PEDIARIX, lot="PRIV1", funding=Funding.PRIVATE)
    html = _refused(cast, baby, lot, standing=orders["DTaP/Tdap/Td"])
    assert "Give VFC vaccine" in error_on(html, "lot-error")
    assert 'value="V02" selected' in html  # the eligibility chosen stays chosen


def test_missing_screening_answers_and_vis_are_refused_on_their_fieldsets(cast, baby, orders):
    lot = f.make_lot(cast.north, f.PEDVAXHIB)
    html = _refused(cast, baby, lot, standing=orders["Hib"], screening_allergy="")
    screening = html[html.index('id="f-screening"') : html.index('id="f-consent"')]
    assert '<p class="error">Answer every screening question' in screening
    assert 'name="screening_sick_today" value="no" checked' in html  # answers kept
    html = _refused(cast, baby, lot, standing=orders["Hib"], vis=[])
    vis = html[html.index('id="f-vis"') :]
    assert "Give the patient the current VIS" in vis[: vis.index("</fieldset>")]


def test_without_an_order_the_refusal_is_on_the_order(cast, baby):
    lot = f.make_lot(cast.north, f.PEDVAXHIB)
    html = _refused(cast, baby, lot)
    order = html[html.index('id="f-order"') :]
    assert "Choose the standing order" in order[: order.index("</fieldset>")]


def test_a_lot_of_another_clinic_is_not_found(cast, baby, orders):
    south = f.make_lot(cast.south, f.PEDVAXHIB)
    response = client_for(cast.alice).post(
        url("give", patient_id=baby.public_id),
        dose_form(baby, south, orders["Hib"]),
        headers=HTMX,
    )
    assert response.status_code == 422
    assert "not in this clinic&#x27;s stock" in response.content.decode()
    south.refresh_from_db()
    assert south.doses_on_hand == 10 and not Immunization.objects.filter(lot=south).exists()


# -- The record: history, refusals, orders, corrections, reactions ----------------------------


def test_a_dose_from_a_record_is_added_and_counted(cast):
    born = clock.today() - dt.timedelta(days=200)
    child = make_patient(cast.north, family="Diaz", birth_date=born)
    alice = client_for(cast.alice)
    form = alice.get(url("add-history", patient_id=child.public_id)).content.decode()
    assert "Historical, from a parent&#x27;s written record" in form
    assert "Given here" not in form  # a dose given here is recorded by giving it
    response = alice.post(
        url("add-history", patient_id=child.public_id),
        {"cvx": "08", "occurred_on": born.isoformat(), "source": "03", "source_detail": "card"},
    )
    assert response.status_code == 302
    dose = Immunization.objects.get(patient=child)
    assert dose.source == "03" and dose.source_detail == "card"
    again = alice.post(
        url("add-history", patient_id=child.public_id),
        {"cvx": "08", "occurred_on": born.isoformat(), "source": "03"},
    )
    assert again.status_code == 422 and "already recorded" in again.content.decode()


def test_a_refusal_is_recorded_and_listed(cast, baby):
    alice = client_for(cast.alice)
    response = alice.post(
        url("refusal", patient_id=baby.public_id), {"cvx": "116", "reason": "Parent will wait"}
    )
    assert response.status_code == 302
    html = alice.get(url("patient", patient_id=baby.public_id)).content.decode()
    refusals = html[html.index('id="refusals"') :]
    assert "Parent will wait" in refusals[: refusals.index("</section>")]


def test_entered_in_error_is_shown_struck_with_the_reason(cast, baby):
    dose = Immunization.objects.filter(patient=baby, cvx="116").get()
    alice = client_for(cast.alice)
    page = alice.get(url("retract", dose_id=dose.public_id)).content.decode()
    assert f'name="version" value="{dose.version}"' in page
    response = alice.post(
        url("retract", dose_id=dose.public_id),
        {"reason": "Another child's card", "version": dose.version},
    )
    assert response.status_code == 302
    dose.refresh_from_db()
    assert dose.status == Immunization.Status.ENTERED_IN_ERROR
    html = alice.get(url("patient", patient_id=baby.public_id)).content.decode()
    row = html[html.index(f'id="dose-{dose.public_id}"') :]
    row = row[: row.index("</tr>")]
    assert 'class="retracted"' in row and "<del>" in row
    assert "entered in error</span>" in row and "Another child&#x27;s card" in row
    stale = alice.post(url("retract", dose_id=dose.public_id), {"reason": "again", "version": 1})
    assert stale.status_code == 409


def test_a_dose_given_here_is_corrected_from_a_form_filled_from_it(cast, baby, orders):
    dose = _given(cast, baby, orders)
    alice = client_for(cast.alice)
    record = alice.get(url("patient", patient_id=baby.public_id)).content.decode()
    row = record[record.index(f'id="dose-{dose.public_id}"') :]
    row = row[: row.index("</tr>")]
    assert url("correct", dose_id=dose.public_id) in row  # beside "Mark entered in error"
    assert row.index(">Correct<") < row.index("Mark entered in error")
    page = alice.get(url("correct", dose_id=dose.public_id)).content.decode()
    assert '<option value="LT" selected>Left thigh (vastus lateralis)</option>' in page
    assert '<option value="IM" selected>Intramuscular</option>' in page
    assert 'name="dose_volume_ml" value="0.5"' in page
    assert f'type="hidden" name="version" value="{dose.version}"' in page
    assert 'name="occurred_on"' not in page and 'name="lot_number"' not in page
    response = alice.post(
        url("correct", dose_id=dose.public_id),
        {
            "site": "RT",
            "route": "IM",
            "dose_volume_ml": "0.5",
            "reason": "Given in the right thigh, charted left",
            "version": dose.version,
        },
    )
    assert response.status_code == 302
    assert response["Location"].endswith(
        url("patient", patient_id=baby.public_id) + f"#dose-{dose.public_id}"
    )
    before = dose.version
    dose.refresh_from_db()
    assert (dose.site, dose.route, dose.version) == ("RT", "IM", before + 1)
    assert dose.status == Immunization.Status.COMPLETED and dose.lot_number == "HIB9"
    event = AuditEvent.objects.filter(
        entity_type="Immunization", entity_id=str(dose.public_id), action=Action.UPDATE
    ).get()
    assert "corrected site: Given in the right thigh" in event.description
    html = alice.get(response["Location"]).content.decode()
    assert f"{dose.vaccine_name} on {dose.occurred_on:%m/%d/%Y} corrected." in html  # message
    row = html[html.index(f'id="dose-{dose.public_id}"') :]
    assert "Right thigh" in row[: row.index("</tr>")]


def test_a_dose_from_a_record_is_corrected_by_its_date_and_lot(cast, baby):
    dose = Immunization.objects.get(patient=baby, cvx="49")
    alice = client_for(cast.alice)
    page = alice.get(url("correct", dose_id=dose.public_id)).content.decode()
    assert f'name="occurred_on" value="{dose.occurred_on.isoformat()}"' in page
    assert 'name="lot_number"' in page
    assert 'name="site"' not in page and 'name="dose_volume_ml"' not in page
    misread = dose.occurred_on - dt.timedelta(days=3)
    response = alice.post(
        url("correct", dose_id=dose.public_id),
        {
            "occurred_on": misread.isoformat(),
            "lot_number": " X123 ",
            "reason": "Date misread from the card",
            "version": dose.version,
        },
    )
    assert response.status_code == 302
    dose.refresh_from_db()
    assert (dose.occurred_on, dose.lot_number, dose.version) == (misread, "X123", 2)


def test_a_correction_is_refused_on_its_field_and_a_stale_one_with_409(cast, baby, orders):
    dose = _given(cast, baby, orders)
    alice = client_for(cast.alice)
    page = url("correct", dose_id=dose.public_id)
    good = {"site": "RT", "route": "IM", "dose_volume_ml": "0.5", "version": dose.version}
    no_reason = alice.post(page, {**good, "reason": " "})
    assert no_reason.status_code == 422
    assert "This field is required" in field_of(no_reason.content.decode(), "reason")
    assert 'value="RT" selected' in no_reason.content.decode()  # what was chosen stays
    no_site = alice.post(page, {**good, "site": "", "reason": "site"})
    assert no_site.status_code == 422  # a site on the record is changed, never erased
    assert "This field is required" in field_of(no_site.content.decode(), "site")
    too_much = alice.post(page, {**good, "dose_volume_ml": "3", "reason": "volume"})
    assert too_much.status_code == 422
    assert "A dose volume is 0.05 to 2 mL." in field_of(too_much.content.decode(), "dose_volume_ml")
    unchanged = alice.post(
        page,
        {
            "site": "LT",
            "route": "IM",
            "dose_volume_ml": "0.50",
            "reason": "checking",
            "version": dose.version,
        },
    )
    assert unchanged.status_code == 422
    assert 'id="form-errors"' in unchanged.content.decode()
    assert "Nothing was changed." in unchanged.content.decode()
    stale = alice.post(page, {**good, "reason": "right thigh", "version": dose.version + 1})
    assert stale.status_code == 409 and "changed meanwhile" in stale.content.decode()
    history = Immunization.objects.get(patient=baby, cvx="49", source="02")
    future = alice.post(
        url("correct", dose_id=history.public_id),
        {
            "occurred_on": (clock.today() + dt.timedelta(days=1)).isoformat(),
            "reason": "card",
            "version": history.version,
        },
    )
    assert future.status_code == 422
    assert "outside the patient" in field_of(future.content.decode(), "occurred_on")
    dose.refresh_from_db()
    history.refresh_from_db()
    assert (dose.site, dose.version, history.version) == ("LT", 1, 1)


def test_front_desk_may_not_correct_and_an_entered_in_error_dose_cannot_be(cast, baby):
    dose = Immunization.objects.get(patient=baby, cvx="116")
    data = {"occurred_on": baby.birth_date.isoformat(), "reason": "x", "version": dose.version}
    gwen = client_for(cast.gwen)
    assert gwen.get(url("correct", dose_id=dose.public_id)).status_code == 403
    assert gwen.post(url("correct", dose_id=dose.public_id), data).status_code == 403
    assert ">Correct<" not in gwen.get(url("patient", patient_id=baby.public_id)).content.decode()
    dose.refresh_from_db()
    assert dose.version == 1
    services.retract(actor=cast_actor(cast.alice), immunization=dose, reason="wrong child")
    alice = client_for(cast.alice)
    page = alice.get(url("correct", dose_id=dose.public_id)).content.decode()
    assert "Only a dose given or recorded as given can be corrected" in page
    assert 'name="reason"' not in page
    refused = alice.post(url("correct", dose_id=dose.public_id), {**data, "version": dose.version})
    assert refused.status_code == 422
    dose.refresh_from_db()
    assert dose.occurred_on != baby.birth_date


def test_the_provider_orders_off_schedule_only_with_a_reason(cast, baby):
    bob = client_for(cast.bob)
    page = bob.get(url("order", patient_id=baby.public_id) + "?group=Hib").content.decode()
    assert '<option value="Hib" selected>' in page
    refused = bob.post(
        url("order", patient_id=baby.public_id), {"vaccine_group": "Hib", "off_schedule": "on"}
    )
    assert refused.status_code == 422 and "Say why" in refused.content.decode()
    done = bob.post(
        url("order", patient_id=baby.public_id),
        {"vaccine_group": "Hib", "off_schedule": "on", "reason": "Travel abroad next week"},
    )
    assert done.status_code == 302
    html = bob.get(url("patient", patient_id=baby.public_id)).content.decode()
    assert "Travel abroad next week" in html and "Order a vaccine" in html
    assert client_for(cast.alice).get(url("order", patient_id=baby.public_id)).status_code == 403


def _given(cast, baby, orders):  # type: ignore[no-untyped-def]
    lot = f.make_lot(cast.north, f.PEDVAXHIB, lot="HIB9")
    return services.administer(
        actor=cast_actor(cast.alice),
        patient=baby,
        encounter=None,
        request=f.request_for(
            baby, lot, orders["Hib"], given_at=clock.now() - dt.timedelta(minutes=5)
        ),
    )


def cast_actor(user):  # type: ignore[no-untyped-def]
    from medassist.access.actor import Actor

    return Actor.for_user(user)


def test_a_reaction_is_recorded_and_its_vaers_draft_is_printable(cast, baby, orders):
    dose = _given(cast, baby, orders)
    alice = client_for(cast.alice)
    onset = clock.localtime(clock.now()).strftime("%Y-%m-%dT%H:%M")
    response = alice.post(
        url("reaction", dose_id=dose.public_id),
        {
            "symptoms": "Hives on both legs",
            "onset_at": onset,
            "treatment": "diphenhydramine per protocol",
            "outcome": "resolved",
        },
    )
    assert response.status_code == 302
    reaction = Reaction.objects.get(immunization=dose)
    html = alice.get(url("patient", patient_id=baby.public_id)).content.decode()
    assert "Hives on both legs" in html and url("vaers", reaction_id=reaction.public_id) in html
    draft = alice.get(url("vaers", reaction_id=reaction.public_id)).content.decode()
    assert "Draft for https://vaers.hhs.gov — not submitted" in draft
    assert "HIB9" in draft and "Merck" in draft  # lot and manufacturer (MVX MSD)
    assert "Intramuscular" in draft and "Left thigh" in draft
    assert "Hib 2" in draft  # dose number in the series
    assert "North Family Medicine" in draft and "217-555-0100" in draft
    assert "Alice Moreno, CCMA" in draft
    assert baby.family not in draft  # name and address stay in the chart
    assert AuditEvent.objects.filter(
        action=Action.PRINT, entity_type="AdverseEvent", entity_id=str(reaction.public_id)
    ).exists()
    bad = alice.post(
        url("reaction", dose_id=dose.public_id),
        {"symptoms": "x", "onset_at": "2000-01-01T10:00", "outcome": "resolved"},
    )
    assert bad.status_code == 422 and "before the dose" in bad.content.decode()


def test_the_ma_releases_the_patient_after_the_observation(cast, baby, orders):
    dose = _given(cast, baby, orders)
    ObservationPeriod.objects.filter(immunization=dose).update(
        ends_at=clock.now() - dt.timedelta(minutes=1)
    )
    alice = client_for(cast.alice)
    html = alice.get(url("patient", patient_id=baby.public_id)).content.decode()
    assert "Observation over — release" in html
    give_page = url("give", patient_id=baby.public_id)
    response = alice.post(url("release", dose_id=dose.public_id), {"next": give_page})
    assert response.status_code == 302 and response["Location"] == give_page
    assert ObservationPeriod.objects.get(immunization=dose).released_by == cast.alice
    html = alice.get(url("patient", patient_id=baby.public_id)).content.decode()
    assert 'id="observation"' not in html


# -- The flow board ------------------------------------------------------------------------------


def test_the_board_shows_the_observation_and_when_it_is_over(cast, baby, orders):
    visit = make_encounter(
        baby, cast.bob, start=clock.now(), stage="roomed", medical_assistant=cast.alice
    )
    lot = f.make_lot(cast.north, f.PEDVAXHIB)
    client_for(cast.alice).post(
        url("give", patient_id=baby.public_id), dose_form(baby, lot, orders["Hib"])
    )
    dose = Immunization.objects.get(lot=lot)
    assert dose.encounter == visit  # the dose belongs to today's visit
    board = client_for(cast.gwen)
    html = board.get(reverse("flow:board")).content.decode()
    row = html[html.index(f'id="visit-{visit.public_id}"') :]
    row = row[: row.index("</tr>")]
    until = clock.localtime(dose.observation.ends_at).strftime("%H:%M")
    assert f"Observe until {until}" in row
    assert url("patient", patient_id=baby.public_id) + "#observation" in row
    ObservationPeriod.objects.filter(immunization=dose).update(
        ends_at=clock.now() - dt.timedelta(minutes=1)
    )
    html = board.get(reverse("flow:board")).content.decode()
    row = html[html.index(f'id="visit-{visit.public_id}"') :]
    assert "Observation over — release" in row[: row.index("</tr>")]


def test_the_board_reads_observations_in_constant_queries(cast, orders):
    def visit_with_dose(i: int) -> None:
        child = four_month_old(cast)
        visit = make_encounter(child, cast.bob, start=clock.now(), stage="roomed")
        services.administer(
            actor=cast_actor(cast.alice),
            patient=child,
            encounter=visit,
            request=f.request_for(
                child, f.make_lot(cast.north, f.PEDVAXHIB, lot=f"L{i}"), orders["Hib"]
            ),
        )

    visit_with_dose(0)
    board = client_for(cast.gwen)
    board.get(reverse("flow:board"))
    with CaptureQueriesContext(connection) as few:
        board.get(reverse("flow:board"))
    for i in range(1, 4):
        visit_with_dose(i)
    with CaptureQueriesContext(connection) as many:
        html = board.get(reverse("flow:board")).content.decode()
    assert html.count("Observe until") == 4
    assert len(many.captured_queries) == len(few.captured_queries)


# -- The fridge ------------------------------------------------------------------------------


def test_receiving_a_carton_by_its_barcode_and_by_typing(cast):
    alice = client_for(cast.alice)
    expiry = clock.today() + dt.timedelta(days=200)
    response = alice.post(
        url("receive"),
        {
            "scanned": scan_of(f.PEDVAXHIB, "W123AB", expiry),
            "funding": Funding.VFC,
            "doses": "10",
            "storage_unit": "Fridge A",
        },
    )
    assert response.status_code == 302
    lot = VaccineLot.objects.get(lot_number="W123AB")
    assert (lot.cvx, lot.doses_on_hand, lot.clinic) == ("49", 10, cast.north)
    typed = alice.post(
        url("receive"),
        {
            "ndc": f.ROTATEQ,
            "lot_number": "r55",
            "expires_on": expiry.isoformat(),
            "funding": Funding.PRIVATE,
            "doses": "5",
            "storage_unit": "Fridge B",
        },
    )
    assert typed.status_code == 302
    assert VaccineLot.objects.get(lot_number="R55").funding == Funding.PRIVATE
    bad = alice.post(
        url("receive"),
        {"scanned": "0100006489", "funding": Funding.VFC, "doses": "5", "storage_unit": "A"},
    )
    assert bad.status_code == 422
    assert VaccineLot.objects.count() == 2
    html = alice.get(url("stock")).content.decode()
    assert "Fridge A" in html and "Fridge B" in html and "W123AB" in html


def test_the_stock_page_flags_expired_and_expiring_lots(cast):
    f.make_lot(cast.north, f.PEDVAXHIB, lot="OLD1", expires=clock.today() - dt.timedelta(days=1))
    f.make_lot(cast.north, f.PEDIARIX, lot="SOON1", expires=clock.today() + dt.timedelta(days=10))
    f.make_lot(cast.north, f.ROTATEQ, lot="FINE1", expires=clock.today() + dt.timedelta(days=200))
    html = client_for(cast.alice).get(url("stock")).content.decode()

    def row(lot: str) -> str:
        at = html[: html.index(f"<td>{lot}</td>")]
        return html[at.rindex("<tr") : html.index("</tr>", len(at))]

    assert "Expired — do not use" in row("OLD1")
    assert "Expires soon" in row("SOON1") and "Expired" not in row("SOON1")
    assert "Expire" not in row("FINE1")


def test_a_count_correction_sets_the_doses_on_hand(cast):
    lot = f.make_lot(cast.north, f.PEDVAXHIB)
    alice = client_for(cast.alice)
    response = alice.post(
        url("adjust", lot_id=lot.public_id),
        {"counted": "8", "reason": "two vials broken", "version": lot.version},
    )
    assert response.status_code == 302
    lot.refresh_from_db()
    assert lot.doses_on_hand == 8
    stale = alice.post(
        url("adjust", lot_id=lot.public_id), {"counted": "7", "reason": "count", "version": 1}
    )
    assert stale.status_code == 409 and "changed meanwhile" in stale.content.decode()
    no_reason = alice.post(
        url("adjust", lot_id=lot.public_id), {"counted": "7", "version": lot.version}
    )
    assert no_reason.status_code == 422
    lot.refresh_from_db()
    assert lot.doses_on_hand == 8
    assert client_for(cast.gwen).get(url("stock")).status_code == 403


def test_a_lot_is_taken_out_of_use_and_listed_apart_with_its_doses_left(cast):
    old = f.make_lot(cast.north, f.PEDVAXHIB, lot="OLD1", expires=clock.today() - dt.timedelta(1))
    fine = f.make_lot(cast.north, f.ROTATEQ, lot="FINE1", doses=6)
    alice = client_for(cast.alice)
    html = alice.get(url("stock")).content.decode()
    expired = html[html.index(f'id="lot-{old.public_id}"') :]
    expired = expired[: expired.index("</tr>")]
    assert "Take it out of use." in expired and '<details class="retire" open>' in expired
    assert f'id="retire-{old.public_id}" name="reason"' in expired and 'value="Expired"' in expired
    assert 'id="out-of-use"' not in html
    response = alice.post(url("retire", lot_id=fine.public_id), {"reason": "Temperature excursion"})
    assert response.status_code == 302
    assert response["Location"].endswith(f"?clinic=north#retired-{fine.public_id}")
    fine.refresh_from_db()
    assert not fine.active and fine.doses_on_hand == 6
    assert AuditEvent.objects.filter(
        entity_type="Medication", entity_id=str(fine.public_id), action=Action.UPDATE
    ).exists()
    html = alice.get(response["Location"]).content.decode()
    assert "Lot FINE1 of RotaTeq" in html and "6 doses left in it" in html  # the message
    in_use = html[: html.index('id="out-of-use"')]
    assert url("retire", lot_id=fine.public_id) not in in_use
    assert url("adjust", lot_id=fine.public_id) not in html
    retired = html[html.index(f'id="retired-{fine.public_id}"') :]
    retired = retired[: retired.index("</tr>")]
    assert "FINE1" in retired and "<td>6</td>" in retired
    # and it is no longer offered when the vial is scanned
    baby = four_month_old(cast)
    scanned = alice.post(url("scan", patient_id=baby.public_id), {"scanned": "FINE1"}, headers=HTMX)
    assert scanned.status_code == 422


def test_taking_a_lot_out_of_use_needs_a_reason_and_the_stock_role(cast):
    lot = f.make_lot(cast.north, f.PEDVAXHIB)
    alice = client_for(cast.alice)
    refused = alice.post(url("retire", lot_id=lot.public_id), {"reason": "  "})
    assert refused.status_code == 422
    html = refused.content.decode()
    assert 'id="retire-errors"' in html
    error = html[html.index(f'id="retire-error-{lot.public_id}"') :]
    assert "Lot LOT1, taking it out of use: This field is required." in error[:200]
    assert f'aria-describedby="retire-error-{lot.public_id}"' in html
    assert (
        client_for(cast.gwen).post(url("retire", lot_id=lot.public_id), {"reason": "x"}).status_code
        == 404
    )
    lot.refresh_from_db()
    assert lot.active
    services.retire_lot(actor=cast_actor(cast.alice), lot=lot, reason="recalled")
    again = alice.post(url("retire", lot_id=lot.public_id), {"reason": "recalled"})
    assert again.status_code == 422 and "already out of use" in again.content.decode()


# -- Standing orders and the registry ---------------------------------------------------------


def test_the_provider_signs_a_standing_order_and_the_ma_may_not(cast):
    data = {
        "vaccine_group": "Hib",
        "title": "Hib for children",
        "min_age": "6",
        "min_age_unit": "weeks",
        "max_age": "59",
        "max_age_unit": "months",
        "protocol": "Give Hib per the CDC schedule when the forecast shows it due.",
    }
    alice = client_for(cast.alice)
    assert "Sign a standing order" not in alice.get(url("standing-orders")).content.decode()
    refused = alice.post(url("standing-orders"), data)
    assert refused.status_code == 403 and not StandingOrder.objects.exists()
    response = client_for(cast.bob).post(url("standing-orders"), data)
    assert response.status_code == 302
    order = StandingOrder.objects.get()
    assert order.authorized_by == cast.bob and order.clinic == cast.north
    assert (order.min_age_days, order.max_age_days) == (42, 1795)
    html = alice.get(url("standing-orders")).content.decode()
    assert "Hib for children" in html and "Robert Okafor" in html


def test_the_provider_ends_a_standing_order_and_it_shows_its_last_day(cast, orders):
    hib, rota = orders["Hib"], orders["Rotavirus"]
    bob = client_for(cast.bob)
    page = bob.get(url("standing-orders")).content.decode()
    assert url("end-standing-order", order_id=hib.public_id) in page
    response = bob.post(url("end-standing-order", order_id=hib.public_id), {"clinic": "north"})
    assert response.status_code == 302
    assert response["Location"].endswith(f"?clinic=north#order-{hib.public_id}")
    hib.refresh_from_db()
    assert hib.effective_to == clock.today() and hib.active  # it covers today still
    yesterday = clock.today() - dt.timedelta(days=1)
    ended = bob.post(
        url("end-standing-order", order_id=rota.public_id), {"last_day": yesterday.isoformat()}
    )
    assert ended.status_code == 302
    rota.refresh_from_db()
    assert rota.effective_to == yesterday and not rota.active
    html = bob.get(ended["Location"]).content.decode()
    assert f"last day {yesterday:%m/%d/%Y}." in html  # the message
    row = html[html.index(f'id="order-{rota.public_id}"') :]
    row = row[: row.index("</tr>")]
    assert '<span class="badge status-not-needed">ended</span>' in row
    assert f"last day {yesterday:%m/%d/%Y}" in row
    assert url("end-standing-order", order_id=rota.public_id) not in row
    row = html[html.index(f'id="order-{hib.public_id}"') :]
    row = row[: row.index("</tr>")]
    assert "active</span>" in row and f"last day {clock.today():%m/%d/%Y}" in row
    assert AuditEvent.objects.filter(
        entity_type="PlanDefinition", entity_id=str(rota.public_id), action=Action.UPDATE
    ).exists()


def test_ending_a_standing_order_is_refused_before_it_began_and_to_the_ma(cast, orders):
    hib = orders["Hib"]
    end = url("end-standing-order", order_id=hib.public_id)
    bob = client_for(cast.bob)
    too_early = hib.effective_from - dt.timedelta(days=1)
    refused = bob.post(end, {"last_day": too_early.isoformat()})
    assert refused.status_code == 422
    html = refused.content.decode()
    assert "would end before it began" in html[html.index(f'id="end-error-{hib.public_id}"') :]
    assert '<details class="end-order" open>' in html[html.index(f'id="order-{hib.public_id}"') :]
    assert bob.post(end, {"last_day": "2026-02-30"}).status_code == 422
    alice = client_for(cast.alice)
    assert "End this order" not in alice.get(url("standing-orders")).content.decode()
    assert alice.post(end, {}).status_code == 403
    hib.refresh_from_db()
    assert hib.active and hib.effective_to is None
    services.end_standing_order(
        actor=cast_actor(cast.bob), order=hib, last_day=clock.today() - dt.timedelta(days=1)
    )
    again = bob.post(end, {"last_day": (clock.today() + dt.timedelta(days=9)).isoformat()})
    assert again.status_code == 422 and "already ended" in again.content.decode()
    hib.refresh_from_db()
    assert not hib.active


def test_the_registry_page_is_the_managers_with_errors_first(cast, baby):
    RegistryConnection.objects.create(
        clinic=cast.north, host="127.0.0.1", port=9, sending_facility="NORTH"
    )
    dose = Immunization.objects.filter(patient=baby).first()
    assert dose is not None
    fine = RegistrySubmission.objects.create(
        clinic=cast.north, immunization=dose, control_id="OK1", status="accepted", ack_code="AA"
    )
    bad = RegistrySubmission.objects.create(
        clinic=cast.north,
        immunization=dose,
        control_id="BAD1",
        status="error",
        ack_code="AE",
        ack_text="Vaccine code not recognized",
        ack_errors=[{"severity": "E", "code": "103", "location": "RXA-5", "text": "unknown CVX"}],
        attempts=1,
    )
    RegistrySubmission.objects.filter(pk=fine.pk).update(created_at=clock.now())
    for user in (cast.alice, cast.bob):
        assert client_for(user).get(url("registry")).status_code == 403
    dana = client_for(cast.dana)
    html = dana.get(url("registry")).content.decode()
    assert html.index("BAD1") < html.index("OK1")
    assert "Vaccine code not recognized" in html and "RXA-5" in html and "unknown CVX" in html
    assert "needs review" in html
    reviewed = url("mark-reviewed", submission_id=bad.public_id)
    assert client_for(cast.alice).post(reviewed).status_code == 404  # not hers to review
    assert dana.post(reviewed).status_code == 302
    bad.refresh_from_db()
    assert bad.reviewed_by == cast.dana
    assert "needs review" not in dana.get(url("registry")).content.decode()


# -- Outsiders ------------------------------------------------------------------------------------


def test_an_outsider_gets_404_on_every_id_route_and_nothing_changes(cast, baby, orders):
    dose = _given(cast, baby, orders)
    reaction = services.record_reaction(
        actor=cast_actor(cast.alice),
        immunization=dose,
        symptoms="fever",
        onset_at=clock.now(),
        outcome=Reaction.Outcome.RESOLVED,
    )
    lot = dose.lot
    assert lot is not None
    RegistryConnection.objects.create(
        clinic=cast.north, host="127.0.0.1", port=9, sending_facility="NORTH"
    )
    submission = RegistrySubmission.objects.create(
        clinic=cast.north, immunization=dose, control_id="X1", status="error"
    )
    carol = client_for(cast.carol)
    p, d = baby.public_id, dose.public_id
    routes = [
        ("GET", url("patient", patient_id=p)),
        ("GET", url("give", patient_id=p)),
        ("POST", url("give", patient_id=p)),
        ("POST", url("scan", patient_id=p)),
        ("GET", url("add-history", patient_id=p)),
        ("POST", url("add-history", patient_id=p)),
        ("POST", url("refusal", patient_id=p)),
        ("POST", url("order", patient_id=p)),
        ("POST", url("retract", dose_id=d)),
        ("GET", url("correct", dose_id=d)),
        ("POST", url("correct", dose_id=d)),
        ("POST", url("release", dose_id=d)),
        ("POST", url("reaction", dose_id=d)),
        ("GET", url("vaers", reaction_id=reaction.public_id)),
        ("POST", url("adjust", lot_id=lot.public_id)),
        ("POST", url("retire", lot_id=lot.public_id)),
        ("POST", url("end-standing-order", order_id=orders["Hib"].public_id)),
        ("POST", url("mark-reviewed", submission_id=submission.public_id)),
    ]
    data = {
        **dose_form(baby, lot, orders["Hib"]),
        "cvx": "08",
        "occurred_on": baby.birth_date.isoformat(),
        "source": "03",
        "reason": "outsider was here",
        "version": "1",
        "counted": "0",
        "vaccine_group": "Hib",
        "symptoms": "x",
        "onset_at": clock.localtime(clock.now()).strftime("%Y-%m-%dT%H:%M"),
        "outcome": "resolved",
        "scanned": "HIB9",
        "site": "RT",
        "last_day": clock.today().isoformat(),
    }

    def state():  # type: ignore[no-untyped-def]
        return (
            Immunization.objects.count(),
            VaccineLot.objects.get(pk=lot.pk).doses_on_hand,
            Reaction.objects.count(),
            ObservationPeriod.objects.filter(released_at__isnull=True).count(),
            RegistrySubmission.objects.filter(reviewed_at__isnull=False).count(),
            list(Immunization.objects.values_list("version", "site").order_by("pk")),
            VaccineLot.objects.get(pk=lot.pk).active,
            list(StandingOrder.objects.values_list("active", "effective_to").order_by("pk")),
        )

    before = state()
    for method, path in routes:
        response = carol.get(path) if method == "GET" else carol.post(path, data)
        assert response.status_code == 404, (method, path, response.status_code)
    assert before == state()
    assert Immunization.objects.get(pk=dose.pk).status == Immunization.Status.COMPLETED
    # and the South MA's own stock page shows none of North's lots
    assert "HIB9" not in carol.get(url("stock")).content.decode()


def test_the_manager_sets_the_clinics_immunization_rules(cast):
    page = url("settings")
    assert client_for(cast.alice).get(page).status_code == 403
    assert client_for(cast.dana).get(page).status_code == 200
    bad = client_for(cast.dana).post(page, {"clinic": "north", "observation_minutes": "500"})
    assert bad.status_code == 422
    assert not ClinicSettings.objects.exists()
    saved = client_for(cast.dana).post(
        page, {"clinic": "north", "observation_minutes": "30", "assistants_may_administer": ""}
    )
    assert saved.status_code == 302
    row = ClinicSettings.objects.get(clinic=cast.north)
    assert (row.observation_minutes, row.assistants_may_administer) == (30, False)
    assert AuditEvent.objects.filter(entity_id=f"immunization-settings-{cast.north.pk}").exists()


def test_conditions_the_forecast_uses_are_recorded_and_ended_from_the_record(cast):
    adult = make_patient(cast.north, family="Ames", birth_date=dt.date(1990, 4, 2))
    page = url("patient", patient_id=adult.public_id)
    html = client_for(cast.alice).get(page).content.decode()
    assert "None recorded: the forecast is for a healthy patient." in html
    assert '<option value="160">Anatomical or functional asplenia</option>' in html
    bad = client_for(cast.alice).post(
        url("add-condition", patient_id=adult.public_id), {"code": "999"}
    )
    assert bad.status_code == 422 and "CDC&#x27;s list" in bad.content.decode()
    added = client_for(cast.alice).post(
        url("add-condition", patient_id=adult.public_id), {"code": "160", "observed_on": ""}
    )
    assert added.status_code == 302
    indication = PatientIndication.objects.get(patient=adult, active=True)
    html = client_for(cast.alice).get(page).content.decode()
    assert "Anatomical or functional asplenia" in html.split('id="conditions"')[1]
    outsider = client_for(cast.carol).post(url("end-condition", indication_id=indication.public_id))
    assert outsider.status_code == 404
    indication.refresh_from_db()
    assert indication.active
    client_for(cast.alice).post(url("end-condition", indication_id=indication.public_id))
    indication.refresh_from_db()
    assert not indication.active
