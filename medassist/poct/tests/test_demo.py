"""The demo's point-of-care seed (medassist/demo/poct.py): seven tests, stock, competencies and
QC history, with alice locked out of rapid strep until she runs today's controls."""

import pytest

from medassist.core import clock
from medassist.demo.poct import seed_poct
from medassist.poct import selectors, services
from medassist.poct.models import Competency, ControlLot, KitLot, PocTest, QcRun
from medassist.poct.tests.factories import run_controls

pytestmark = pytest.mark.django_db


def test_the_demo_seeds_the_menu_and_locks_rapid_strep_until_todays_controls(cast):
    seed_poct(cast.north, manager=cast.dana, staff=[cast.alice, cast.bob])
    tests = {t.kind: t for t in PocTest.objects.filter(clinic=cast.north)}
    assert len(tests) == 7
    strep = tests["rapid_strep"]
    assert strep.qc_every_days == 1
    # one expired strep lot, out of use; every test has one lot in use
    assert (
        KitLot.objects.filter(
            test=strep, retired_at__isnull=False, retired_reason="Expired"
        ).count()
        == 1
    )  # noqa: E501
    for test in tests.values():
        assert KitLot.objects.filter(test=test, retired_at__isnull=True).count() == 1
        assert set(
            ControlLot.objects.filter(test=test, retired_at__isnull=True).values_list(
                "level", flat=True
            )  # noqa: E501
        ) == {code for code, _ in test.levels}
        assert Competency.objects.filter(test=test, user=cast.alice).count() == 3
    # history on earlier days, one failure with its corrective action, nothing today
    today = clock.today()
    assert not any(clock.localtime(r.performed_at).date() == today for r in QcRun.objects.all())
    failed = QcRun.objects.get(passed=False)
    assert failed.test.kind == "glucose" and failed.corrective_action
    assert QcRun.objects.filter(test=strep).count() > 10
    status = {s.test.kind: s for s in selectors.statuses(list(tests.values()), cast.alice)}
    assert [r.code for r in status["rapid_strep"].reasons] == ["qc_due"]
    for kind in ("influenza", "covid_antigen", "urine_hcg", "urinalysis", "hba1c"):
        assert status[kind].ready, (kind, [r.text for r in status[kind].reasons])
    # running today's controls unlocks it
    lot = KitLot.objects.get(test=strep, retired_at__isnull=True)
    controls = {c.level: c for c in ControlLot.objects.filter(test=strep, retired_at__isnull=True)}
    run_controls(lot, cast.alice, controls)
    assert services.lockout_for(strep, lot, cast.alice) == []
    # a second call adds nothing
    before = QcRun.objects.count()
    seed_poct(cast.north, manager=cast.dana, staff=[cast.alice])
    assert QcRun.objects.count() == before


def test_the_demo_seeds_a_clinic_without_a_manager_directly(cast):
    seed_poct(cast.south, manager=cast.frank, staff=[cast.carol])
    assert PocTest.objects.filter(clinic=cast.south).count() == 7
