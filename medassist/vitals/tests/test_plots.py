"""plots.py: the geometry and markup of the trend and growth charts (pure, no browser), and
one request of the trends page."""

import datetime as dt
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.urls import reverse

from medassist.vitals import growth, plots
from medassist.vitals.models import Measure, VitalSet, VitalSign
from medassist.vitals.selectors import Row, Trend

T0 = dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)


def _row(text, *, flag="", unit="kg", interpretation="", source="", range_text="", pct=None):
    sign = VitalSign(unit=unit, percentile=pct, effective=T0)
    return Row(sign, text, flag, interpretation, source, range_text)


def _weight_trend(values=(70.0, 70.4, 69.8, 71.2, 70.3), flags=None, band=None, **row_kw):
    flags = flags or [""] * len(values)
    points: list[tuple[dt.datetime, float, float | None]] = [
        (T0 + dt.timedelta(days=30 * i), v, None) for i, v in enumerate(values)
    ]
    rows = [_row(f"{v:g} kg", flag=f, **row_kw) for v, f in zip(values, flags, strict=True)]
    return Trend(Measure.WEIGHT, "Weight", points, "kg", band, rows)


def _bp_trend():
    readings = [(142, 91, "H"), (128, 82, ""), (181, 121, "HH")]
    points: list[tuple[dt.datetime, float, float | None]] = [
        (T0 + dt.timedelta(days=7 * i), float(s), float(d)) for i, (s, d, _) in enumerate(readings)
    ]
    rows = [_row(f"{s}/{d} mmHg", flag=f, unit="mm[Hg]") for s, d, f in readings]
    return Trend(Measure.BLOOD_PRESSURE, "Blood pressure", points, "", None, rows)


# ------------------------------------------------------------------ trends


def test_points_inside_plot_area_and_in_order():
    g = plots.trend_geometry(_weight_trend())
    assert len(g.points) == 5
    for p in g.points:
        assert g.box.contains(p.x, p.y)
    xs = [p.x for p in g.points]
    assert xs == sorted(xs) and len(set(xs)) == 5
    by_value = sorted(g.points, key=lambda p: p.value)
    assert [p.y for p in by_value] == sorted((p.y for p in by_value), reverse=True)  # up = more
    for t in g.y_ticks + g.x_ticks:
        assert g.box.top - 1e-6 <= t.at <= g.box.bottom + 1e-6 or g.box.left <= t.at <= g.box.right
    assert g.x_ticks and all(g.box.left <= t.at <= g.box.right for t in g.x_ticks)
    assert all(g.box.top <= t.at <= g.box.bottom for t in g.y_ticks)


def test_y_ticks_are_round_and_cover_the_values():
    g = plots.trend_geometry(_weight_trend())
    labels = [float(t.label) for t in g.y_ticks]
    assert labels[0] <= 69.8 and labels[-1] >= 71.2
    steps = {round(b - a, 6) for a, b in zip(labels, labels[1:], strict=False)}
    assert len(steps) == 1 and steps.pop() in (0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5)


def test_one_reading_still_draws():
    g = plots.trend_geometry(_weight_trend(values=(70.3,)))
    (p,) = g.points
    assert g.box.contains(p.x, p.y)
    assert g.y_ticks[0].label != g.y_ticks[-1].label
    svg = plots.trend_svg(_weight_trend(values=(70.3,)))
    assert "<path" not in svg  # no line through a single point
    assert svg.count('class="dot"') == 1


def test_band_drawn_when_given_with_its_source():
    trend = _weight_trend(band=(60.0, 80.0), source="Test authority 2026", range_text="60–80 kg")
    g = plots.trend_geometry(trend)
    assert g.band is not None
    assert g.box.top <= g.band.y_top < g.band.y_bottom <= g.box.bottom
    assert "Test authority 2026" in g.band.title and "60–80 kg" in g.band.title
    svg = plots.trend_svg(trend)
    band = re.search(r'<rect [^>]*class="ref-band"><title>([^<]*)</title>', svg)
    assert band and "Test authority 2026" in band.group(1)
    # The band widens the axis to show itself.
    assert float(g.y_ticks[0].label) <= 60 and float(g.y_ticks[-1].label) >= 80


def test_no_band_without_one():
    g = plots.trend_geometry(_weight_trend())
    assert g.band is None
    assert "ref-band" not in plots.trend_svg(_weight_trend())


def test_blood_pressure_draws_two_series():
    trend = _bp_trend()
    g = plots.trend_geometry(trend)
    assert [s.key for s in g.series] == ["systolic", "diastolic"]
    systolic, diastolic = g.series
    assert [p.value for p in systolic.points] == [142, 128, 181]
    assert [p.value for p in diastolic.points] == [91, 82, 121]
    for s, d in zip(systolic.points, diastolic.points, strict=True):
        assert s.x == d.x and s.y < d.y  # same moment, systolic above
        assert g.box.contains(s.x, s.y) and g.box.contains(d.x, d.y)
    svg = plots.trend_svg(trend)
    assert 'class="line series-systolic"' in svg and 'class="line series-diastolic"' in svg
    assert ">Systolic</text>" in svg and ">Diastolic</text>" in svg
    assert g.unit == "mmHg"


def test_abnormal_points_marked_by_shape_and_text():
    trend = _weight_trend(flags=["", "H", "", "LL", ""])
    g = plots.trend_geometry(trend)
    assert [p.abnormal for p in g.points] == [False, True, False, True, False]
    svg = plots.trend_svg(trend)
    assert svg.count('class="flag-ring"') == 2
    assert re.search(r'class="flag-text">H</text>', svg)
    assert re.search(r'class="flag-text">LL</text>', svg)
    # a critical value gets a square, not a ring
    assert re.search(r'<g class="reading [^"]*critical"><title>[^<]*</title><rect ', svg)
    assert svg.count('class="dot"') == 5  # every reading is still a circle
    titles = re.findall(r"<title>([^<]*)</title>", svg)
    assert any("high (H)" in t for t in titles) and any("critically low (LL)" in t for t in titles)


def test_point_titles_give_date_value_and_interpretation():
    trend = _weight_trend(values=(70.3,), interpretation="Normal weight")
    svg = plots.trend_svg(trend)
    (title,) = re.findall(r'<g class="reading[^"]*"><title>([^<]*)</title>', svg)
    assert "2026" in title and "70.3 kg" in title and "Normal weight" in title


def test_accessible_name():
    svg = plots.trend_svg(_weight_trend())
    assert 'role="img"' in svg
    assert 'aria-label="Weight, 5 readings, latest 70.3 kg' in svg
    bp = plots.trend_geometry(_bp_trend())
    assert bp.aria_label.startswith("Blood pressure, 3 readings, latest 181/121 mmHg")
    assert "2 flagged" in bp.aria_label


def test_text_is_escaped():
    evil = '<script>alert("x")</script>'
    trend = Trend(
        Measure.WEIGHT,
        'Weight "&" <b>',
        [(T0, 70.0, None), (T0 + dt.timedelta(days=1), 71.0, None)],
        "kg",
        (60.0, 80.0),
        [
            _row(evil, flag="H", interpretation=evil, source=evil, range_text=evil),
            _row("71 kg"),
        ],
    )
    svg = str(plots.trend_svg(trend))
    assert "<script" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg
    assert 'aria-label="Weight &quot;&amp;&quot; &lt;b&gt;, 2 readings' in svg


def test_time_ticks_pick_calendar_steps():
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    scale = plots.Scale(start.timestamp(), end.timestamp(), 0, 700)
    ticks = plots.time_ticks(start, end, scale)
    assert 2 <= len(ticks) <= 7
    assert all(0 <= t.at <= 700 for t in ticks)
    short = plots.time_ticks(start, start + dt.timedelta(hours=1), scale)
    assert all(re.search(r"\d\d:\d\d", t.label) for t in short)


@pytest.mark.parametrize(
    ("lo", "hi"), [(0, 1), (36.4, 39.1), (58.0, 182.0), (5, 5), (-3, 0.2), (0.001, 0.004)]
)
def test_nice_range(lo, hi):
    a, b, step = plots.nice_range(lo, hi)
    assert a <= min(lo, hi) and b >= max(lo, hi) and b > a
    assert (b - a) / step <= 10


# ------------------------------------------------------------------ growth charts

BIRTH = dt.date(2025, 1, 1)


def _at(days: int) -> dt.datetime:
    return dt.datetime.combine(BIRTH + dt.timedelta(days=days), dt.time(17), tzinfo=dt.UTC)


def _trend(measure, unit, readings, pct=None):
    points: list[tuple[dt.datetime, float, float | None]] = [(_at(d), v, None) for d, v in readings]
    rows = [_row(f"{v:g} {unit}", unit=unit, pct=pct) for _, v in readings]
    return Trend(measure, Measure(measure).label, points, unit, None, rows)


def _child(birth=BIRTH, sex="female", birth_sex="F"):
    return SimpleNamespace(birth_date=birth, sex=sex, birth_sex=birth_sex)


INFANT_WEIGHTS = [(3, 3.2), (61, 5.1), (182, 7.3), (365, 8.9)]
INFANT_LENGTHS = [(3, 49.5), (61, 57.4), (182, 65.7), (365, 74.0)]


def _infant_charts(today_days=400):
    trends = [
        _trend(Measure.WEIGHT, "kg", INFANT_WEIGHTS, pct=45.0),
        _trend(Measure.HEIGHT, "cm", INFANT_LENGTHS),
        _trend(Measure.HEAD, "cm", [(61, 38.3), (182, 42.2)]),
    ]
    return plots.growth_charts(_child(), trends, today=BIRTH + dt.timedelta(days=today_days))


def test_infant_gets_who_charts_for_what_was_measured():
    charts = _infant_charts()
    assert [c.chart for c in charts] == ["who_wfa", "who_lhfa", "who_hcfa", "who_wfl"]
    assert charts[0].title == "WHO 2006 weight-for-age, girls 0–2 y"
    assert charts[2].title == "WHO 2007 head circumference-for-age, girls 0–2 y"
    assert charts[3].title.startswith("WHO 2006 weight-for-length, girls")
    assert "WHO Multicentre Growth Reference Study Group" in charts[0].source
    for c in charts:
        assert [cv.percentile for cv in c.curves] == [3, 5, 10, 25, 50, 75, 90, 95, 97]
        assert [cv.emphasised for cv in c.curves].count(True) == 1
        assert c.curves[4].emphasised and c.curves[4].label == "P50"
        assert 'role="img"' in c.svg and c.svg.count('class="centile p50"') == 1
        assert ">P97</text>" in c.svg and ">P3</text>" in c.svg


def _curve_at(data, x):
    for (x0, v0), (x1, v1) in zip(data, data[1:], strict=False):
        if x0 <= x <= x1:
            return v0 + (v1 - v0) * (x - x0) / (x1 - x0)
    raise AssertionError(f"{x} is not on the curve")


def test_p50_passes_through_m():
    chart = next(c for c in _infant_charts() if c.chart == "who_wfa")
    p50 = next(cv for cv in chart.curves if cv.percentile == 50)
    for x, value in p50.data:
        _, m, _ = growth.lms_at("who_wfa", "female", x * growth.DAYS_PER_MONTH)
        assert value == pytest.approx(m, rel=1e-9)
    # At given ages (birth, 2, 6 and 12 months), read along the drawn curve.
    assert dict(p50.data)[0.0] == pytest.approx(growth.lms_at("who_wfa", "female", 0)[1])
    for months in (2, 6, 12):
        m = growth.lms_at("who_wfa", "female", months * growth.DAYS_PER_MONTH)[1]
        assert _curve_at(p50.data, months) == pytest.approx(m, rel=2e-3)
    # ... and the drawn path goes through the same pixels.
    first = p50.path.split(" L ")[0].removeprefix("M ").split()
    assert float(first[0]) == pytest.approx(chart.x_scale(p50.data[0][0]), abs=0.06)
    assert float(first[1]) == pytest.approx(chart.y_scale(p50.data[0][1]), abs=0.06)


def test_cdc_p50_passes_through_m():
    older = dt.date(2020, 3, 1)
    today = dt.date(2026, 3, 1)
    days = [(older + dt.timedelta(days=d), v) for d, v in [(800, 12.9), (1500, 15.8), (2100, 19.5)]]
    trend = Trend(
        Measure.WEIGHT,
        "Weight",
        [(dt.datetime.combine(d, dt.time(17), tzinfo=dt.UTC), v, None) for d, v in days],
        "kg",
        None,
        [_row(f"{v} kg") for _, v in days],
    )
    (chart,) = plots.growth_charts(_child(older, "male", ""), [trend], today=today)
    assert chart.chart == "cdc_wtage"
    assert chart.title == "CDC 2000 weight-for-age, boys 2–20 y"
    p50 = next(cv for cv in chart.curves if cv.emphasised)
    for x, value in p50.data:
        assert value == pytest.approx(growth.lms_at("cdc_wtage", "male", x)[1], rel=1e-9)
    assert dict(p50.data)[24.5] == pytest.approx(12.74154396)


def test_patient_points_at_age_in_months():
    chart = next(c for c in _infant_charts() if c.chart == "who_wfa")
    assert [p.x_value for p in chart.points] == pytest.approx(
        [d / growth.DAYS_PER_MONTH for d, _ in INFANT_WEIGHTS]
    )
    for p, (d, kg) in zip(chart.points, INFANT_WEIGHTS, strict=True):
        assert p.x == pytest.approx(chart.x_scale(d / growth.DAYS_PER_MONTH))
        assert p.y == pytest.approx(chart.y_scale(kg))
        assert chart.box.contains(p.x, p.y)
        assert p.percentile == 45.0
    # the x range covers the points
    assert chart.x_scale.lo <= 3 / growth.DAYS_PER_MONTH
    assert chart.x_scale.hi >= 365 / growth.DAYS_PER_MONTH
    assert chart.svg.count('class="dot"') == len(INFANT_WEIGHTS)


def test_weight_for_length_pairs_the_same_day():
    trends = [
        _trend(Measure.WEIGHT, "kg", [*INFANT_WEIGHTS, (200, 7.6)]),  # no length that day
        _trend(Measure.HEIGHT, "cm", [*INFANT_LENGTHS, (250, 69.0)]),  # no weight that day
    ]
    charts = plots.growth_charts(_child(), trends, today=BIRTH + dt.timedelta(days=400))
    wfl = next(c for c in charts if c.chart == "who_wfl")
    assert [(p.x_value, p.value) for p in wfl.points] == [
        (cm, kg) for (_, kg), (_, cm) in zip(INFANT_WEIGHTS, INFANT_LENGTHS, strict=True)
    ]
    for p in wfl.points:
        assert p.x == pytest.approx(wfl.x_scale(p.x_value))
    assert wfl.x_title == "Length (cm)"


def test_bmi_from_the_bmi_trend():
    trends = [_trend(Measure.BMI, "kg/m2", [(182, 16.9), (365, 16.3)])]
    (chart,) = plots.growth_charts(_child(), trends, today=BIRTH + dt.timedelta(days=400))
    assert chart.chart == "who_bfa" and chart.unit == "kg/m²"
    assert [p.value for p in chart.points] == [16.9, 16.3]


def test_no_weight_for_length_after_two_and_earlier_points_counted_outside():
    trends = [
        _trend(Measure.WEIGHT, "kg", [(365, 9.0), (800, 12.5), (1200, 14.4)]),
        _trend(Measure.HEIGHT, "cm", [(365, 74.0), (800, 88.0), (1200, 96.0)]),
    ]
    charts = plots.growth_charts(_child(), trends, today=BIRTH + dt.timedelta(days=1300))
    assert [c.chart for c in charts] == ["cdc_wtage", "cdc_statage"]
    weight = charts[0]
    assert weight.outside == 1  # the 12-month weight is not on the 2-20 y chart
    assert [round(p.x_value, 3) for p in weight.points] == [
        round(800 / growth.DAYS_PER_MONTH, 3),
        round(1200 / growth.DAYS_PER_MONTH, 3),
    ]


def test_nothing_for_an_adult_or_unknown_sex():
    adult = _child(birth=dt.date(1980, 3, 4))
    trends = [_trend(Measure.WEIGHT, "kg", [(16000, 70.0)])]
    assert plots.growth_charts(adult, trends, today=dt.date(2026, 1, 1)) == []
    unknown = _child(sex="unknown", birth_sex="")
    assert plots.growth_charts(unknown, [_trend(Measure.WEIGHT, "kg", INFANT_WEIGHTS)]) == []


def test_percentile_labels_do_not_overlap():
    for chart in _infant_charts():
        ys = sorted(c.label_y for c in chart.curves)
        assert all(b - a >= 10.9 for a, b in zip(ys, ys[1:], strict=False))
        assert all(chart.box.top <= y <= chart.box.bottom for y in ys)


# ------------------------------------------------------------------ the page


@pytest.mark.django_db
def test_trends_page(client, cast):
    from medassist.core import clock
    from medassist.patients.tests.factories import make_patient

    born = clock.today() - dt.timedelta(days=400)
    child = make_patient(cast.north, family="Lee", given="Ava <Jo>", birth_date=born, sex="female")
    vital_set = VitalSet.objects.create(patient=child, clinic=cast.north)
    for days, kg in INFANT_WEIGHTS:
        when = dt.datetime.combine(born + dt.timedelta(days=days), dt.time(17), tzinfo=dt.UTC)
        VitalSign.objects.create(
            vital_set=vital_set,
            patient=child,
            clinic=cast.north,
            measure=Measure.WEIGHT,
            effective=when,
            value=Decimal(str(kg)),
            unit="kg",
            flag="L" if days == 3 else "N",
        )
    VitalSign.objects.create(
        vital_set=vital_set,
        patient=child,
        clinic=cast.north,
        measure=Measure.BLOOD_PRESSURE,
        value=Decimal(92),
        value2=Decimal(55),
        unit="mm[Hg]",
    )
    client.force_login(cast.bob)
    response = client.get(reverse("vitals:trends", kwargs={"patient_id": child.public_id}))
    assert response.status_code == 200
    html = response.content.decode()
    assert reverse("patients:chart", kwargs={"patient_id": child.public_id}) in html
    assert "Back to chart" in html
    assert "Ava &lt;Jo&gt;" in html and "<Jo>" not in html
    assert "WHO 2006 weight-for-age, girls 0–2 y" in html
    assert html.index("Growth charts") < html.index('id="trend-weight"')
    assert 'aria-label="Weight, 4 readings, latest 8.9 kg' in html
    assert "series-diastolic" in html
    assert html.count("<table") >= 3  # growth chart, weight, blood pressure
    assert "<style" not in html
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))
