import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from medassist.encounters.models import Encounter
from medassist.history.models import Allergy, Condition
from medassist.patients.tests.factories import make_allergy, record_no_known_allergies
from medassist.rooming import screening
from medassist.rooming.models import MedicationReview, RoomingProgress, ScreeningResponse
from medassist.rooming.tests.factories import (
    HRSN_NONE,
    PHQ2_POSITIVE,
    make_medication,
    roomed_visit,
)

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def visit(cast):
    return roomed_visit(cast)


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def save_url(visit, action):  # type: ignore[no-untyped-def]
    return reverse("rooming:save", kwargs={"visit_id": visit.public_id, "action": action})


def test_the_worklist_shows_every_step_for_a_roomed_visit(cast, visit):
    response = client_for(cast.alice).get(
        reverse("rooming:worklist", kwargs={"visit_id": visit.public_id})
    )
    assert response.status_code == 200
    html = response.content.decode()
    for heading in (
        "Visit agenda and chief complaint",
        "Allergies",
        "Medication reconciliation",
        "Histories and social history",
        "Screenings",
        "Vital signs",
        "Ready for provider",
    ):
        assert heading in html
    assert "PHQ-2 depression screen" in html
    assert "Save vital signs" in html


def test_a_visit_not_in_the_room_shows_why_the_worklist_is_closed(cast):
    visit = roomed_visit(cast, stage="arrived")
    response = client_for(cast.alice).get(
        reverse("rooming:worklist", kwargs={"visit_id": visit.public_id})
    )
    assert response.status_code == 200
    assert "open only while the patient is roomed" in response.content.decode()
    assert "Save chief complaint" not in response.content.decode()


def test_front_desk_cannot_open_the_worklist_and_a_provider_reads_the_summary(cast, visit):
    gwen = client_for(cast.gwen)
    assert (
        gwen.get(reverse("rooming:worklist", kwargs={"visit_id": visit.public_id})).status_code
        == 404
    )
    bob = client_for(cast.bob)
    assert (
        bob.get(reverse("rooming:summary", kwargs={"visit_id": visit.public_id})).status_code == 200
    )


def test_saving_the_chief_complaint_returns_the_step_and_updates_the_progress(cast, visit):
    response = client_for(cast.alice).post(
        save_url(visit, "agenda"), {"reason": "headache since Monday", "version": "1"}, headers=HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="step-agenda"' in html and "headache since Monday" in html
    assert 'id="rooming-progress"' in html and 'hx-swap-oob="true"' in html
    assert 'name="version" value="2"' in html  # the next save names the new version
    assert Encounter.objects.get(pk=visit.pk).reason == "headache since Monday"


def test_a_stale_chief_complaint_gets_409_with_the_reason(cast, visit):
    Encounter.objects.filter(pk=visit.pk).update(version=5)
    response = client_for(cast.alice).post(
        save_url(visit, "agenda"), {"reason": "x", "version": "1"}, headers=HTMX
    )
    assert response.status_code == 409
    assert "Someone else changed this visit" in response.content.decode()
    assert Encounter.objects.get(pk=visit.pk).reason == ""


def test_nka_with_active_allergies_is_refused_with_a_message(cast, visit):
    make_allergy(visit.patient, "Penicillin")
    response = client_for(cast.alice).post(save_url(visit, "no-known-allergies"), {}, headers=HTMX)
    assert response.status_code == 422
    assert "Mark each one inactive first" in response.content.decode()
    assert not Allergy.objects.filter(code="716186003").exists()


def test_adding_and_inactivating_allergies_from_the_worklist(cast, visit):
    alice = client_for(cast.alice)
    alice.post(
        save_url(visit, "allergy"),
        {"substance": "Latex", "severity": "moderate", "verification": "unconfirmed"},
        headers=HTMX,
    )
    latex = Allergy.objects.get(substance="Latex")
    assert latex.severity == "moderate"
    response = alice.post(
        save_url(visit, "allergy-inactivate"), {"allergy": str(latex.public_id)}, headers=HTMX
    )
    assert response.status_code == 200
    latex.refresh_from_db()
    assert not latex.active


def test_an_allergy_of_another_patient_cannot_be_touched(cast, visit):
    other = roomed_visit(cast, family="Other")
    theirs = make_allergy(other.patient, "Codeine")
    response = client_for(cast.alice).post(
        save_url(visit, "allergy-inactivate"), {"allergy": str(theirs.public_id)}, headers=HTMX
    )
    assert response.status_code == 422
    theirs.refresh_from_db()
    assert theirs.active


def test_reconciling_medications_from_the_form(cast, visit):
    med = make_medication(visit.patient, "Metformin")
    key = str(med.public_id)
    response = client_for(cast.alice).post(
        save_url(visit, "medications"),
        {f"answer-{key}": "differently", f"dose-{key}": "500 mg", f"frequency-{key}": "once daily"},
        headers=HTMX,
    )
    assert response.status_code == 200
    review = MedicationReview.objects.get()
    assert (review.answer, review.actual_dose) == ("differently", "500 mg")
    assert "For the provider" in response.content.decode()


def test_screenings_are_saved_from_the_form_and_a_positive_phq2_offers_the_phq9(cast, visit):
    response = client_for(cast.alice).post(
        save_url(visit, "screening"), {"instrument": screening.PHQ2, **PHQ2_POSITIVE}, headers=HTMX
    )
    assert response.status_code == 200
    assert "PHQ-9 depression questionnaire" in response.content.decode()
    assert ScreeningResponse.objects.get().total_score == 3


def test_the_hrsn_housing_problems_are_a_multiple_choice(cast, visit):
    data = {**HRSN_NONE, "96778-6": ["mold", "leaks"], "instrument": screening.AHC_HRSN}
    client_for(cast.alice).post(save_url(visit, "screening"), data, headers=HTMX)
    response = ScreeningResponse.objects.get()
    assert response.answers["96778-6"] == ["mold", "leaks"]
    assert response.positive_domains == ["housing"]


def test_finish_is_disabled_until_the_required_steps_are_done(cast, visit):
    html = (
        client_for(cast.alice)
        .get(reverse("rooming:worklist", kwargs={"visit_id": visit.public_id}))
        .content.decode()
    )
    assert (
        "Still to do: Visit agenda and chief complaint, Allergies, Medication reconciliation, "
        "Screenings." in html
    )
    response = client_for(cast.alice).post(
        reverse("rooming:finish", kwargs={"visit_id": visit.public_id}),
        {"version": "1"},
        headers=HTMX,
    )
    assert response.status_code == 422
    assert "Finish these steps first" in response.content.decode()
    assert Encounter.objects.get(pk=visit.pk).stage == "roomed"


def test_finishing_hands_the_patient_to_the_provider(cast, visit):
    for step in ("agenda", "allergies", "medications", "screenings"):
        RoomingProgress.objects.create(encounter=visit, step=step, by=cast.alice)
    response = client_for(cast.alice).post(
        reverse("rooming:finish", kwargs={"visit_id": visit.public_id}), {"version": "1"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("rooming:summary", kwargs={"visit_id": visit.public_id})
    assert Encounter.objects.get(pk=visit.pk).stage == "ready_for_provider"


def test_unknown_actions_and_junk_never_fail(cast, visit):
    alice = client_for(cast.alice)
    assert alice.post(save_url(visit, "nonsense"), {}).status_code == 404
    for action in (
        "agenda",
        "allergy",
        "allergy-inactivate",
        "medications",
        "medication-new",
        "history",
        "social",
        "screening",
    ):
        response = alice.post(
            save_url(visit, action), {"version": "-1", "allergy": "x", "instrument": "\x00"}
        )
        assert response.status_code in (200, 302, 422), action


def test_without_htmx_a_saved_step_returns_to_the_worklist_at_that_step(cast, visit):
    response = client_for(cast.alice).post(
        save_url(visit, "agenda"), {"reason": "rash", "version": "1"}
    )
    assert response.status_code == 302
    assert response["Location"].endswith("#step-agenda")


def _fill_summary(cast, visit, n):  # type: ignore[no-untyped-def]
    record_no_known_allergies(visit.patient)
    for i in range(n):
        make_allergy(visit.patient, f"Substance {i}", encounter=visit, active=i % 2 == 0)
        med = make_medication(visit.patient, f"Medication {i}")
        MedicationReview.objects.create(
            encounter=visit, patient=visit.patient, medication=med, answer="not_taking"
        )
        Condition.objects.create(
            patient=visit.patient,
            encounter=visit,
            category="medical-history",
            description=f"Condition {i}",
        )
    for code, positive in ((screening.PAIN, False), (screening.PHQ2, True)):
        ScreeningResponse.objects.create(
            encounter=visit,
            patient=visit.patient,
            instrument=code,
            title=code,
            interpretation="x",
            positive=positive,
        )


def _queries(client, url):  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_the_summary_puts_positive_screenings_first_and_shows_discrepancies(cast, visit):
    _fill_summary(cast, visit, 2)
    ScreeningResponse.objects.filter(instrument=screening.PHQ2).update(
        title="PHQ-2 depression screen", interpretation="Positive screen"
    )
    ScreeningResponse.objects.filter(instrument=screening.PAIN).update(
        title="Pain score", interpretation="No pain"
    )
    html = (
        client_for(cast.bob)
        .get(reverse("rooming:summary", kwargs={"visit_id": visit.public_id}))
        .content.decode()
    )
    assert html.index("PHQ-2 depression screen") < html.index("Pain score")
    assert "Medication 1</b>: not taking" in html
    assert "Condition 0" in html and "Substance 1" in html and "marked inactive" in html


@pytest.mark.parametrize("name", ["rooming:summary", "rooming:worklist"])
def test_pages_take_the_same_number_of_queries_for_few_and_many_items(cast, name):
    few, many = roomed_visit(cast, family="Few"), roomed_visit(cast, family="Many")
    _fill_summary(cast, few, 1)
    _fill_summary(cast, many, 12)
    client = client_for(cast.alice)
    _queries(client, reverse(name, kwargs={"visit_id": few.public_id}))  # sign-in bookkeeping
    counts = [
        _queries(client, reverse(name, kwargs={"visit_id": v.public_id})) for v in (few, many)
    ]
    assert counts[0] == counts[1]


ACTIONS = (
    "agenda",
    "allergy",
    "allergy-inactivate",
    "no-known-allergies",
    "allergies-reviewed",
    "medications",
    "medication-new",
    "history",
    "social",
    "screening",
    "screenings-declined",
    "vitals-skipped",
)


def test_fuzzed_posts_to_every_step_of_a_real_roomed_visit_never_fail(cast, visit):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    med = make_medication(visit.patient)
    keys = [
        "reason",
        "version",
        "allergy",
        "substance",
        "severity",
        "category",
        "instrument",
        "44250-9",
        "96778-6",
        "smoking",
        "name",
        "description",
        "relative",
        f"answer-{med.public_id}",
    ]
    values = st.one_of(
        st.sampled_from(
            [
                "",
                "0",
                "-1",
                "9" * 30,
                "\x00",
                "<b>",
                "differently",
                "55757-9",
                "96777-8",
                "266919005",
                "family-history",
            ]
        ),
        st.text(max_size=20),
    )
    client = Client(raise_request_exception=False)
    client.force_login(cast.alice)

    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        action=st.sampled_from(ACTIONS),
        form=st.dictionaries(st.sampled_from(keys), values, max_size=6),
        htmx=st.booleans(),
    )
    def check(action, form, htmx):  # type: ignore[no-untyped-def]
        extra = HTMX if htmx else {}
        response = client.post(save_url(visit, action), form, headers=extra)
        assert response.status_code < 500, (action, form, response.status_code)

    check()


def test_revisiting_the_worklist_shows_what_was_saved(cast, visit):
    alice = client_for(cast.alice)
    med = make_medication(visit.patient, "Metformin")
    alice.post(save_url(visit, "medications"), {f"answer-{med.public_id}": "not_taking"})
    alice.post(
        save_url(visit, "social"),
        {
            "smoking": "266919005",
            "alcohol": "rarely",
            "audit-68518-0": "1",
            "audit-68519-8": "0",
            "audit-68520-6": "0",
        },
    )
    alice.post(save_url(visit, "screening"), {"instrument": screening.PAIN, "72514-3": "6"})
    html = alice.get(
        reverse("rooming:worklist", kwargs={"visit_id": visit.public_id})
    ).content.decode()
    assert f'name="answer-{med.public_id}" value="not_taking" checked' in html
    assert '<option value="266919005" selected>Never smoker</option>' in html
    assert '<option value="1" selected>Monthly or less</option>' in html
    assert 'value="rarely"' in html
    assert 'name="72514-3" value="6" checked' in html
    assert "Moderate pain · score 6" in html
