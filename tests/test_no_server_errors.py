"""Bad input never gives a 500: every page route, fed hypothesis-generated query strings, form
posts and User-Agent headers by a signed-in medical assistant (on her own clinic's records, so
the views do real work). The FHIR API has its own schema-driven fuzzing in medassist/fhir/tests."""

import re

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medassist.flow.forms import CheckInForm, CheckoutForm, RoomForm, TargetsForm
from medassist.immunizations import forms as immunization_forms
from medassist.labs import forms_orders as lab_order_forms
from medassist.labs import forms_results as lab_result_forms
from medassist.patients.forms import DemographicsForm, EmergencyAccessForm
from medassist.patients.tests.factories import make_patient
from medassist.poct import forms as poct_forms
from medassist.vitals.forms import PolicyForm, VitalsForm
from tests.routes import ID_PARAM, all_routes, fill
from tests.test_outsiders import north_object_for

pytestmark = pytest.mark.django_db

SKIP = re.compile(r"^(fhir/|static/|account/logout)")

FIELD_NAMES = sorted(
    {*DemographicsForm.base_fields, *EmergencyAccessForm.base_fields}
    | {*CheckInForm.base_fields, *CheckoutForm.base_fields, *RoomForm.base_fields}
    | {*TargetsForm.base_fields, "consent_privacy_notice", "consent_financial_policy"}
    | {"q", "next", "from", "to", "user", "patient", "action", "outcome", "sort", "page"}
    | {"clinic", "day", "provider", "ma", "finished", "fp", "status", "start", "end", "find"}
    | {*VitalsForm.base_fields, *PolicyForm.base_fields, "confirm", "note", "reason"}
    | {
        name
        for form in (
            immunization_forms.ScanForm,
            immunization_forms.DoseForm,
            immunization_forms.HistoricalDoseForm,
            immunization_forms.RefusalForm,
            immunization_forms.OrderForm,
            immunization_forms.RetractForm,
            immunization_forms.CorrectDoseForm,
            immunization_forms.ReactionForm,
            immunization_forms.ReceiveLotForm,
            immunization_forms.AdjustStockForm,
            immunization_forms.RetireLotForm,
            immunization_forms.ClinicSettingsForm,
            immunization_forms.IndicationForm,
            immunization_forms.StandingOrderForm,
            immunization_forms.EndStandingOrderForm,
            lab_order_forms.OrderForm,
            lab_order_forms.CancelOrderForm,
            lab_order_forms.CollectForm,
            lab_order_forms.NotCollectedForm,
            lab_order_forms.ProcessForm,
            lab_order_forms.ManifestForm,
            lab_order_forms.HandoffForm,
            lab_order_forms.ReceivedForm,
            lab_order_forms.LabForm,
            lab_order_forms.TestForm,
            *lab_result_forms.FORMS,
            poct_forms.AddTestForm,
            poct_forms.EditTestForm,
            poct_forms.KitLotForm,
            poct_forms.RetireForm,
            poct_forms.ControlLotForm,
            poct_forms.QcForm,
            poct_forms.CorrectiveActionForm,
            poct_forms.CompetencyForm,
            poct_forms.RunForm,
            poct_forms.QcLogForm,
        )
        for name in form.base_fields
    }
)
# Values that break naive code: dates out of range, huge numbers, NUL, markup, non-ASCII.
NASTY = st.sampled_from(
    [
        "",
        "0",
        "-1",
        "99999999999999999999",
        "2026-02-30",
        "13/45/2000",
        "\x00",
        "<script>",
        "' OR 1=1 --",
        "Ω≈ç√",
        "9" * 300,
        "1e309",
    ]
)
VALUES = st.one_of(NASTY, st.text(max_size=40))
PARAMS = st.dictionaries(
    st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=8)), VALUES, max_size=6
)


def page_routes() -> list[str]:
    return [r for r in all_routes() if not SKIP.search(r)]


@pytest.mark.parametrize("route", page_routes())
def test_fuzzed_input_never_gives_a_server_error(route, cast):
    # A route with an id gets a North record of its own kind (the ones the outsider test
    # uses), so the fuzzed input reaches the form and the service, not a 404.
    if ID_PARAM.search(route) and (make := north_object_for(route)) is not None:
        url = fill(route, make(cast))
    else:
        url = fill(route, str(make_patient(cast.north, family="Fuzz", given="Target").public_id))
    client = Client(raise_request_exception=False)
    client.force_login(cast.alice)

    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(query=PARAMS, form=PARAMS, agent=VALUES)
    def check(query, form, agent):  # type: ignore[no-untyped-def]
        # The User-Agent is kept in the audit trail: a forged one must not break the page.
        headers = {"HTTP_USER_AGENT": agent}
        for response in (client.get(url, query, **headers), client.post(url, form, **headers)):
            assert response.status_code < 500, (url, query, form, response.status_code)

    check()
