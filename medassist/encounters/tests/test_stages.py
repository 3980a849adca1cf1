"""The stage table: every pair of stages, and what FHIR sees."""

import pytest

from medassist.encounters.stages import (
    APPOINTMENT_STATUS,
    ENCOUNTER_STATUS,
    FINAL,
    TRANSITIONS,
    Stage,
    can_move,
    why_not,
)

S = Stage
FORWARD = [
    (S.SCHEDULED, S.ARRIVED),
    (S.ARRIVED, S.ROOMED),
    (S.ROOMED, S.READY_FOR_PROVIDER),
    (S.READY_FOR_PROVIDER, S.WITH_PROVIDER),
    (S.WITH_PROVIDER, S.READY_FOR_CHECKOUT),
    (S.READY_FOR_CHECKOUT, S.DONE),
]


@pytest.mark.parametrize("current, to", FORWARD)
def test_the_day_moves_forward_one_stage_at_a_time(current, to):
    assert can_move(current, to) and why_not(current, to) == ""


@pytest.mark.parametrize("current, to", [(a, b) for a in S for b in S])
def test_every_refused_move_says_why(current, to):
    assert can_move(current, to) == (why_not(current, to) == "")


@pytest.mark.parametrize("final", sorted(FINAL))
def test_done_no_show_and_cancelled_are_final(final):
    assert not TRANSITIONS[final]
    assert "cannot change" in why_not(final, S.ARRIVED)


def test_skipping_rooming_is_refused():
    assert not can_move(S.ARRIVED, S.WITH_PROVIDER)
    assert "roomed" in why_not(S.ARRIVED, S.WITH_PROVIDER)


def test_only_a_scheduled_visit_can_be_a_no_show():
    assert [s for s in S if can_move(s, S.NO_SHOW)] == [S.SCHEDULED]


@pytest.mark.parametrize(
    "stage, encounter, appointment",
    [
        (S.SCHEDULED, "planned", "booked"),
        (S.ARRIVED, "arrived", "checked-in"),
        (S.ROOMED, "triaged", "checked-in"),
        (S.READY_FOR_PROVIDER, "triaged", "checked-in"),
        (S.WITH_PROVIDER, "in-progress", "checked-in"),
        (S.READY_FOR_CHECKOUT, "in-progress", "checked-in"),
        (S.DONE, "finished", "fulfilled"),
        (S.NO_SHOW, "cancelled", "noshow"),
        (S.CANCELLED, "cancelled", "cancelled"),
    ],
)
def test_fhir_statuses_are_derived_from_the_one_stage(stage, encounter, appointment):
    assert (ENCOUNTER_STATUS[stage], APPOINTMENT_STATUS[stage]) == (encounter, appointment)
