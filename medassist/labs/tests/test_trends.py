"""A patient's trend of one LOINC: the SVG (one point per numeric result, the reference band
shaded, flagged points marked with the lab's flag, title and description), the table beside
it; the MA sees only released results; the outsider's 404."""

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse

from medassist.access.actor import Actor
from medassist.labs import plots
from medassist.labs.selectors import results as selectors
from medassist.labs.tests import result_factories as f
from medassist.patients.tests.factories import make_patient
from tests.test_outsiders import db_fingerprint

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def history(cast, patient, values, *, release=(), unit="mmol/L"):  # type: ignore[no-untyped-def]
    """One report a month per (value, flag), oldest first; released where asked."""
    reports = []
    for i, (value, flag) in enumerate(values):
        when = f.T0 - dt.timedelta(days=30 * (len(values) - i))
        report = f.file(
            f.make_order(patient, cast.bob), f.result(value, flag=flag, unit=unit, observed_at=when)
        )
        if i in release:
            f.release(report, cast.bob)
        reports.append(report)
    return reports


def trends_url(patient, loinc: str = f.POTASSIUM) -> str:  # type: ignore[no-untyped-def]
    return reverse("labs:trends", kwargs={"patient_id": patient.public_id, "loinc": loinc})


def test_the_svg_has_a_point_per_result_the_band_and_the_flags(cast):
    patient = make_patient(cast.north)
    history(cast, patient, [("4.0", ""), ("5.6", "H"), ("6.8", "HH"), ("3.2", "L")])
    _, trend = selectors.trend(Actor.for_user(cast.bob), patient.public_id, f.POTASSIUM)
    g = plots.geometry(trend)
    assert len(g.points) == 4
    assert [p.flag for p in g.points] == ["", "H", "HH", "L"]
    assert g.band is not None and (g.band.low, g.band.high) == (3.5, 5.1)
    assert g.box.top <= g.band.y_top < g.band.y_bottom <= g.box.bottom
    # The band sits where 3.5 and 5.1 fall on the axis: higher values higher up.
    ys = {p.value: p.y for p in g.points}
    assert ys[6.8] < g.band.y_top < ys[4.0] < g.band.y_bottom < ys[3.2]
    svg = str(plots.render(g))
    assert svg.count('class="dot"') == 4
    assert svg.count('class="ref-band"') == 1
    assert svg.count('class="flag-ring"') == 3
    assert re.findall(r'class="flag-text">(\w+)<', svg) == ["H", "HH", "L"]
    assert "<title id=" in svg and "<desc id=" in svg and 'role="img"' in svg
    assert "4 results" in g.desc and "3 flagged by the lab" in g.desc


def test_a_one_sided_range_shades_to_the_edge_and_no_range_shades_nothing(cast):
    patient = make_patient(cast.north)
    order = f.make_order(patient, cast.bob)
    f.file(
        order, f.result("180", loinc=f.LDL, name="LDL", unit="mg/dL", reference="<100", flag="H")
    )
    _, trend = selectors.trend(Actor.for_user(cast.bob), patient.public_id, f.LDL)
    g = plots.geometry(trend)
    assert g.band is not None and g.band.low is None and g.band.y_bottom == g.box.bottom
    other = make_patient(cast.north)
    f.file(f.make_order(other, cast.bob), f.result("4.2", reference="Negative"))
    _, bare = selectors.trend(Actor.for_user(cast.bob), other.public_id, f.POTASSIUM)
    assert plots.geometry(bare).band is None


def test_results_in_another_unit_are_listed_not_plotted(cast):
    patient = make_patient(cast.north)
    history(cast, patient, [("4.0", "")], unit="mEq/L")
    history(cast, patient, [("4.1", ""), ("4.2", "")])
    _, trend = selectors.trend(Actor.for_user(cast.bob), patient.public_id, f.POTASSIUM)
    assert len(trend.rows) == 3 and len(trend.points) == 2 and trend.not_plotted == 1


def test_the_page_shows_the_chart_and_the_table(cast):
    patient = make_patient(cast.north)
    history(cast, patient, [("4.0", ""), ("6.8", "HH")])
    response = client_for(cast.bob).get(trends_url(patient))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="dot"') == 2
    assert "<table" in html and html.count("<tr><td>") == 2
    assert "Flag from Prairie Reference Laboratory: Critically high" in html


def test_the_ma_sees_only_released_results(cast):
    patient = make_patient(cast.north)
    history(cast, patient, [("4.0", ""), ("5.6", "H"), ("6.8", "HH")], release=(0, 1))
    html = client_for(cast.alice).get(trends_url(patient)).content.decode()
    assert html.count('class="dot"') == 2
    assert "6.8" not in html and "only results the provider has released" in html
    page = client_for(cast.alice).get(
        reverse("labs:patient-results", kwargs={"patient_id": patient.public_id})
    )
    assert trends_url(patient) in page.content.decode()


def test_an_unknown_loinc_shows_an_empty_trend(cast):
    patient = make_patient(cast.north)
    response = client_for(cast.bob).get(trends_url(patient, "<script>"))
    assert response.status_code == 200
    assert "No numeric results" in response.content.decode()


def test_an_outsider_gets_404_on_a_trend_and_nothing_changes(cast):
    from medassist.patients.models import Patient

    patient = Patient.objects.get(public_id=f.north_lab_patient(cast))
    carol = client_for(cast.carol)
    before = db_fingerprint()
    assert carol.get(trends_url(patient)).status_code == 404
    assert db_fingerprint() == before
