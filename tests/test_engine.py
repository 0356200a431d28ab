"""The schedule engine: one named test per rule (S1-S12, docs/schedule-rules.md), then property tests.

Plain functions, no database. Every date is fixed: 3 March 2025 is a Monday, so with the default
protocol (14-day steps) every nominal fill lands on a Monday.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import date, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from schedules.engine import (
    ClinicCalendar,
    Fill,
    FillKind,
    Infusate,
    Plan,
    Protocol,
    Pump,
    RecordedFill,
    Step,
    horizon_end,
    project,
)

SURGERY = date(2025, 3, 3)  # a Monday
OPEN = ClinicCalendar()  # Monday to Friday, no closures
FUDR = Infusate.FUDR
SALINE = Infusate.HEPARINIZED_SALINE


def days(n: int) -> timedelta:
    return timedelta(days=n)


def after(n: int) -> date:
    return SURGERY + days(n)


def run(
    plan: Plan | None = None,
    calendar: ClinicCalendar = OPEN,
    *,
    today: date = SURGERY,
    recorded: tuple[RecordedFill, ...] = (),
    holds: frozenset[tuple[int, int]] = frozenset(),
    horizon_days: int = 365,
) -> list[Fill]:
    return project(
        plan or Plan(SURGERY),
        calendar,
        today=today,
        recorded=recorded,
        holds=holds,
        horizon_days=horizon_days,
    )


def by_seq(fills: list[Fill]) -> dict[int, Fill]:
    return {f.sequence: f for f in fills}


def kinds(fills: list[Fill]) -> list[FillKind]:
    return [f.kind for f in fills]


# S1 -------------------------------------------------------------------------------------------------


def test_s1_implant_fill_is_heparinized_saline_on_surgery_date() -> None:
    implant = run()[0]
    assert (implant.sequence, implant.date, implant.kind) == (0, SURGERY, FillKind.IMPLANT)
    assert implant.infusate is SALINE
    assert implant.phase_days == 14
    assert implant.cycle is None
    assert not implant.recorded and not implant.overdue


def test_s1_implant_is_never_overdue_even_long_after_surgery() -> None:
    implant = run(today=after(100))[0]
    assert implant.kind is FillKind.IMPLANT and not implant.overdue


def test_s1_recorded_fill_on_surgery_date_is_the_implant_fill() -> None:
    fact = RecordedFill(SURGERY, Infusate.GLYCERIN, volume_in_ml=30.0)
    fills = run(today=after(1), recorded=(fact,))
    assert fills[0].kind is FillKind.IMPLANT and fills[0].recorded
    assert fills[0].infusate is Infusate.GLYCERIN
    assert fills[1].sequence == 1 and fills[1].kind is FillKind.CHEMO


# S2 -------------------------------------------------------------------------------------------------


def test_s2_first_chemo_14_days_after_surgery_by_default() -> None:
    first = run()[1]
    assert (first.date, first.kind, first.cycle, first.infusate) == (after(14), FillKind.CHEMO, 1, FUDR)


def test_s2_first_chemo_follows_the_clinic_setting() -> None:
    plan = Plan(SURGERY, Protocol(first_chemo_after_days=28))
    fills = run(plan)
    assert fills[0].phase_days == 28
    assert fills[1].date == after(28) and fills[1].kind is FillKind.CHEMO


# S3 -------------------------------------------------------------------------------------------------


def test_s3_steps_alternate_every_14_days() -> None:
    fills = run()[1:7]
    assert [f.date for f in fills] == [after(14 * n) for n in range(1, 7)]
    assert [f.infusate for f in fills] == [FUDR, SALINE] * 3
    assert [f.cycle for f in fills] == [1, 1, 2, 2, 3, 3]
    assert all(f.phase_end == f.date + days(14) for f in fills)


def test_s3_three_step_cycle_repeats_with_each_steps_days() -> None:
    cycle = (Step(Infusate.FUDR_DEX, 14), Step(SALINE, 7), Step(Infusate.GLYCERIN, 21))
    plan = Plan(SURGERY, Protocol(first_chemo_after_days=14, cycle=cycle, cycles=None))
    fills = run(plan, ClinicCalendar(open_weekdays=frozenset(range(7))))[1:7]
    assert [f.infusate for f in fills] == [Infusate.FUDR_DEX, SALINE, Infusate.GLYCERIN] * 2
    assert [f.kind for f in fills] == [FillKind.CHEMO, FillKind.REST, FillKind.REST] * 2
    assert [(f.date - fills[0].date).days for f in fills] == [0, 14, 21, 42, 56, 63]


@pytest.mark.parametrize(
    ("protocol", "reason"),
    [
        (Protocol(cycle=()), "a protocol's cycle needs at least its chemo step"),
        (Protocol(cycle=(Step(SALINE, 14), Step(FUDR, 14))), "a cycle's first step is its chemo step"),
        (Protocol(cycle=(Step(FUDR, 14), Step(FUDR, 14))), "rest and maintenance steps take a non-chemo infusate"),
        (Protocol(maintenance=Step(FUDR, 14)), "rest and maintenance steps take a non-chemo infusate"),
        (Protocol(cycle=(Step(FUDR, 0),)), "every step lasts at least one day"),  # would never reach the horizon
        (Protocol(first_chemo_after_days=0), "every step lasts at least one day"),
        (Protocol(maintenance=Step(SALINE, 0)), "every step lasts at least one day"),
        (Protocol(cycle=(Step(FUDR, 14), Step(SALINE, 0))), "every step lasts at least one day"),
        (Protocol(cycles=-1), "the cycle count cannot be negative"),
    ],
)
def test_s3_rejects_protocols_the_engine_cannot_walk(protocol: Protocol, reason: str) -> None:
    # The reason reaches the care team (services turn it into a form error), so it must say what is wrong.
    with pytest.raises(ValueError, match=f"^{reason}$"):
        run(Plan(SURGERY, protocol))


def test_s3_a_protocol_of_one_cycle_gives_one_chemo_fill() -> None:
    fills = run(Plan(SURGERY, Protocol(cycles=1)), horizon_days=120)
    assert [(f.kind, f.cycle) for f in fills[:4]] == [
        (FillKind.IMPLANT, None), (FillKind.CHEMO, 1), (FillKind.REST, 1), (FillKind.MAINTENANCE, None),
    ]
    assert [f.kind for f in run(Plan(SURGERY, Protocol(cycles=0)), horizon_days=60)[1:]] == [FillKind.MAINTENANCE] * 4


# S4 -------------------------------------------------------------------------------------------------


def test_s4_six_cycles_then_last_rest_then_maintenance() -> None:
    fills = run(horizon_days=400)
    chemo = [f for f in fills if f.kind is FillKind.CHEMO]
    assert [f.cycle for f in chemo] == [1, 2, 3, 4, 5, 6]
    last_chemo = fills.index(chemo[-1])
    assert fills[last_chemo + 1].kind is FillKind.REST and fills[last_chemo + 1].cycle == 6
    maintenance = fills[last_chemo + 2 :]
    assert maintenance and all(f.kind is FillKind.MAINTENANCE and f.cycle is None for f in maintenance)
    # Maintenance starts where the seventh chemo fill would have been.
    assert maintenance[0].date == after(14 + 6 * 28)


def test_s4_maintenance_uses_its_own_infusate_and_interval() -> None:
    plan = Plan(SURGERY, Protocol(cycles=2, maintenance=Step(Infusate.GLYCERIN, 28)))
    fills = run(plan)
    maintenance = [f for f in fills if f.kind is FillKind.MAINTENANCE]
    assert maintenance[0].date == after(14 + 2 * 28)
    assert all(f.infusate is Infusate.GLYCERIN and f.phase_days == 28 for f in maintenance)
    assert all(b.date - a.date == days(28) for a, b in itertools.pairwise(maintenance))


def test_s4_open_ended_plan_repeats_the_cycle_to_the_horizon() -> None:
    plan = Plan(SURGERY, Protocol(cycles=None))
    fills = run(plan)
    assert FillKind.MAINTENANCE not in kinds(fills)
    assert max(f.cycle for f in fills if f.cycle) == 13
    assert fills[-1].date <= horizon_end(plan, SURGERY)


def test_s4_a_cycle_counts_only_when_given() -> None:
    # Two held attempts at cycle 1 still leave six cycles to give.
    recorded = (RecordedFill(after(14), SALINE), RecordedFill(after(28), SALINE))
    fills = run(today=after(30), recorded=recorded, horizon_days=500)
    assert [f.cycle for f in fills if f.kind is FillKind.CHEMO] == [1, 2, 3, 4, 5, 6]


# S5 -------------------------------------------------------------------------------------------------


def test_s5_late_refill_shifts_every_later_fill() -> None:
    late = RecordedFill(after(17), FUDR)  # Thursday instead of Monday
    fills = run(today=after(17), recorded=(late,))
    assert fills[1].recorded and fills[1].date == after(17) and fills[1].kind is FillKind.CHEMO
    assert fills[2].date == after(31) and not fills[2].recorded
    assert fills[3].date == after(45)


def test_s5_early_refill_shifts_every_later_fill() -> None:
    fills = run(today=after(12), recorded=(RecordedFill(after(11), FUDR),))
    assert [f.date for f in fills[1:4]] == [after(11), after(25), after(39)]


def test_s5_fudr_where_rest_was_expected_counts_as_next_cycles_chemo() -> None:
    recorded = (RecordedFill(after(14), FUDR), RecordedFill(after(28), FUDR))
    fills = run(today=after(28), recorded=recorded)
    assert (fills[2].kind, fills[2].cycle) == (FillKind.CHEMO, 2)
    # The cycle's steps restart after it: rest of cycle 2, then chemo of cycle 3.
    assert (fills[3].kind, fills[3].cycle, fills[3].date) == (FillKind.REST, 2, after(42))
    assert (fills[4].kind, fills[4].cycle) == (FillKind.CHEMO, 3)


def test_s5_non_fudr_where_rest_was_expected_is_that_rest_fill() -> None:
    recorded = (RecordedFill(after(14), FUDR), RecordedFill(after(28), Infusate.GLYCERIN))
    fills = run(today=after(28), recorded=recorded)
    assert (fills[2].kind, fills[2].cycle, fills[2].infusate) == (FillKind.REST, 1, Infusate.GLYCERIN)
    assert not fills[2].held
    assert (fills[3].kind, fills[3].cycle) == (FillKind.CHEMO, 2)


def test_s5_recorded_fudr_beyond_the_plans_cycles_is_kept_as_a_fact() -> None:
    plan = Plan(SURGERY, Protocol(cycles=1))
    recorded = (RecordedFill(after(14), FUDR), RecordedFill(after(28), FUDR))
    fills = run(plan, today=after(28), recorded=recorded)
    assert [f.cycle for f in fills if f.kind is FillKind.CHEMO] == [1, 2]
    assert kinds(fills)[3:5] == [FillKind.REST, FillKind.MAINTENANCE]


def test_s5_fudr_during_maintenance_is_a_further_cycle_then_rest_then_maintenance() -> None:
    plan = Plan(SURGERY, Protocol(cycles=1))
    recorded = (
        RecordedFill(after(14), FUDR),
        RecordedFill(after(28), SALINE),  # cycle 1's rest
        RecordedFill(after(42), SALINE),  # first maintenance fill
        RecordedFill(after(56), FUDR),  # the care team restarts chemo
    )
    fills = run(plan, today=after(56), recorded=recorded)
    assert kinds(fills)[1:7] == [
        FillKind.CHEMO,
        FillKind.REST,
        FillKind.MAINTENANCE,
        FillKind.CHEMO,
        FillKind.REST,
        FillKind.MAINTENANCE,
    ]
    assert (fills[4].cycle, fills[5].cycle, fills[5].date) == (2, 2, after(70))


def test_s5_recorded_fills_are_taken_in_date_order() -> None:
    recorded = (RecordedFill(after(28), SALINE), RecordedFill(after(14), FUDR))
    fills = run(today=after(28), recorded=recorded)
    assert [(f.date, f.kind) for f in fills[1:3]] == [(after(14), FillKind.CHEMO), (after(28), FillKind.REST)]


def test_s5_rejects_recorded_fills_before_surgery_or_on_one_date() -> None:
    with pytest.raises(ValueError, match="before surgery"):
        run(recorded=(RecordedFill(SURGERY - days(1), SALINE),))
    with pytest.raises(ValueError, match="two fills"):
        run(recorded=(RecordedFill(after(14), FUDR), RecordedFill(after(14), SALINE)))


# S6 -------------------------------------------------------------------------------------------------


def test_s6_recorded_hold_repeats_the_chemo_fill_one_chemo_step_later() -> None:
    fills = run(today=after(14), recorded=(RecordedFill(after(14), SALINE),))
    held = fills[1]
    assert (held.kind, held.cycle, held.held, held.recorded) == (FillKind.HELD, 1, True, True)
    assert held.phase_days == 14
    assert (fills[2].kind, fills[2].cycle, fills[2].date) == (FillKind.CHEMO, 1, after(28))


def test_s6_hold_lengthens_the_rest() -> None:
    recorded = (
        RecordedFill(after(14), FUDR),
        RecordedFill(after(28), SALINE),  # the rest
        RecordedFill(after(42), SALINE),  # cycle 2 held
    )
    fills = run(today=after(42), recorded=recorded)
    assert kinds(fills)[1:5] == [FillKind.CHEMO, FillKind.REST, FillKind.HELD, FillKind.CHEMO]
    assert fills[4].date - fills[2].date == days(28)  # four weeks off FUDR instead of two
    assert fills[4].cycle == 2


def test_s6_planned_hold_shows_and_keeps_the_cycle_count() -> None:
    fills = run(holds=frozenset({(2, 1)}), horizon_days=400)
    held = by_seq(fills)[3]
    assert (held.kind, held.cycle, held.held, held.infusate) == (FillKind.HELD, 2, True, SALINE)
    assert (by_seq(fills)[4].kind, by_seq(fills)[4].cycle) == (FillKind.CHEMO, 2)
    assert [f.cycle for f in fills if f.kind is FillKind.CHEMO] == [1, 2, 3, 4, 5, 6]


def test_s6_hold_of_a_cycle_that_never_comes_is_ignored() -> None:
    assert run(holds=frozenset({(9, 1)})) == run()


def test_s6_a_planned_hold_stays_on_its_appointment_when_an_earlier_chemo_fill_is_held_at_the_visit() -> None:
    # Staff hold cycle 3's chemo ahead of time; then cycle 2 is held at its visit (saline recorded).
    recorded = (RecordedFill(after(14), FUDR), RecordedFill(after(28), SALINE), RecordedFill(after(42), SALINE))
    fills = run(today=after(43), recorded=recorded, holds=frozenset({(3, 1)}), horizon_days=400)
    chemo_attempts = [(f.cycle, f.kind) for f in fills if f.cycle in (2, 3) and f.kind is not FillKind.REST]
    assert chemo_attempts == [(2, FillKind.HELD), (2, FillKind.CHEMO), (3, FillKind.HELD), (3, FillKind.CHEMO)]


def test_s6_a_second_hold_of_the_same_cycle_holds_its_next_attempt() -> None:
    fills = run(holds=frozenset({(2, 1), (2, 2)}), horizon_days=400)
    assert [f.kind for f in fills if f.cycle == 2 and f.kind is not FillKind.REST] == [
        FillKind.HELD, FillKind.HELD, FillKind.CHEMO,
    ]


# S7 -------------------------------------------------------------------------------------------------


def test_s7_fill_ending_fudr_moves_to_earlier_open_day() -> None:
    easter_monday = after(28)  # 31 March 2025 pretend closure; fill 2 ends the first FUDR phase
    fills = run(calendar=ClinicCalendar(closures=frozenset({easter_monday})))
    assert fills[2].date == after(25) and fills[2].date.weekday() == 4  # the Friday before
    assert fills[2].moved_from == easter_monday and not fills[2].closed_day
    assert fills[3].date == after(39)  # planned from the moved date


def test_s7_fill_ending_rest_moves_to_later_open_day() -> None:
    closed = after(42)  # fill 3, the chemo fill of cycle 2, ends a saline phase
    fills = run(calendar=ClinicCalendar(closures=frozenset({closed})))
    assert fills[3].date == after(43) and fills[3].moved_from == closed
    assert fills[3].kind is FillKind.CHEMO
    assert fills[4].date == after(57)


def test_s7_later_only_while_the_pump_holds_enough() -> None:
    # A 14-day pump cannot cover a 15-day saline phase: the fill goes to the Friday before instead.
    plan = Plan(SURGERY, pump=Pump(reservoir_ml=14.0, flow_ml_per_day=1.0))
    fills = run(plan, ClinicCalendar(closures=frozenset({after(42)})))
    assert fills[3].date == after(39) and fills[3].moved_from == after(42)


def test_s7_no_open_day_keeps_the_date_and_flags_it() -> None:
    closures = frozenset(after(n) for n in range(15, 29))  # everything after fill 1 up to fill 2
    fills = run(calendar=ClinicCalendar(closures=closures))
    assert fills[2].date == after(28) and fills[2].closed_day and fills[2].moved_from is None


def test_s7_uses_the_clinics_open_weekdays() -> None:
    tuesdays_and_thursdays = ClinicCalendar(open_weekdays=frozenset({1, 3}))
    fills = run(calendar=tuesdays_and_thursdays)
    assert fills[0].date == SURGERY  # surgery is a fact, even on a day the clinic is closed
    assert fills[1].date == after(15)  # saline phase: later, Tuesday
    assert fills[2].date == after(29)  # planned from the moved date: Tuesday again
    assert all(f.date.weekday() in {1, 3} for f in fills[1:])


def test_s7_surgery_on_a_closed_day_never_moves() -> None:
    saturday = date(2025, 3, 1)
    implant = run(Plan(saturday), today=saturday)[0]
    assert implant.date == saturday and implant.moved_from is None and not implant.closed_day


def test_s7_recorded_fills_never_move() -> None:
    saturday = after(19)
    fills = run(today=after(19), recorded=(RecordedFill(saturday, FUDR),))
    assert fills[1].date == saturday and fills[1].moved_from is None and not fills[1].closed_day


# S8 -------------------------------------------------------------------------------------------------


def test_s8_nothing_planned_after_the_end() -> None:
    plan = Plan(SURGERY, end_date=after(60))
    fills = run(plan)
    assert fills[-1].date == after(56) and fills[-1].phase_end is None
    assert all(f.date <= plan.end_date for f in fills)


def test_s8_recorded_fills_after_the_end_are_kept() -> None:
    plan = Plan(SURGERY, end_date=after(20))
    recorded = (RecordedFill(after(14), FUDR), RecordedFill(after(28), SALINE))
    fills = run(plan, today=after(30), recorded=recorded)
    assert [f.date for f in fills] == [SURGERY, after(14), after(28)]
    assert all(f.recorded for f in fills[1:])


def test_s8_therapy_over_keeps_the_fill_on_the_end_date() -> None:
    fills = run(Plan(SURGERY, end_date=after(28)))
    assert [f.date for f in fills] == [SURGERY, after(14), after(28)]
    assert fills[-1].kind is FillKind.REST and fills[-1].phase_end is None


def test_s8_chemo_end_continues_with_maintenance_from_the_next_fill() -> None:
    fills = run(Plan(SURGERY, chemo_end=after(30)))
    assert [(f.date, f.kind) for f in fills[:5]] == [
        (SURGERY, FillKind.IMPLANT),
        (after(14), FillKind.CHEMO),
        (after(28), FillKind.REST),
        (after(42), FillKind.MAINTENANCE),
        (after(56), FillKind.MAINTENANCE),
    ]
    later = [f for f in fills if f.date >= after(30)]
    assert all(f.kind is FillKind.MAINTENANCE and f.infusate is SALINE and f.cycle is None for f in later)
    # The pump stays in: maintenance refills run on to the horizon, a year of them.
    assert fills[-1].date > after(350)


def test_s8_chemo_end_never_cancels_a_refill() -> None:
    without_end = run(Plan(SURGERY))
    with_end = run(Plan(SURGERY, chemo_end=after(15)))
    assert [f.date for f in with_end] == [f.date for f in without_end]


def test_s8_a_fill_on_the_chemo_end_date_is_kept_as_maintenance() -> None:
    fills = run(Plan(SURGERY, chemo_end=after(14)))
    assert (fills[1].date, fills[1].kind, fills[1].infusate) == (after(14), FillKind.MAINTENANCE, SALINE)
    day_before = run(Plan(SURGERY, chemo_end=after(15)))
    assert (day_before[1].date, day_before[1].kind) == (after(14), FillKind.CHEMO)
    assert day_before[2].kind is FillKind.MAINTENANCE


def test_s8_chemo_end_uses_the_maintenance_infusate_and_interval() -> None:
    protocol = Protocol(maintenance=Step(Infusate.GLYCERIN, 28))
    fills = run(Plan(SURGERY, protocol, chemo_end=after(20)))
    assert [f.date for f in fills[:5]] == [SURGERY, after(14), after(28), after(56), after(84)]
    assert fills[2].infusate is Infusate.GLYCERIN and fills[2].phase_days == 28


def test_s8_holds_and_saline_after_the_chemo_end_are_maintenance_not_held() -> None:
    recorded = (RecordedFill(after(14), FUDR), RecordedFill(after(28), SALINE), RecordedFill(after(42), SALINE))
    fills = run(Plan(SURGERY, chemo_end=after(40)), today=after(43), recorded=recorded, holds=frozenset({(2, 1)}))
    assert fills[3].recorded and fills[3].kind is FillKind.MAINTENANCE and not fills[3].held
    assert not any(f.held or f.kind is FillKind.CHEMO for f in fills[4:])


def test_s8_chemo_end_then_therapy_over() -> None:
    fills = run(Plan(SURGERY, chemo_end=after(20), end_date=after(70)))
    assert [(f.date, f.kind) for f in fills[2:]] == [
        (after(28), FillKind.MAINTENANCE),
        (after(42), FillKind.MAINTENANCE),
        (after(56), FillKind.MAINTENANCE),
        (after(70), FillKind.MAINTENANCE),
    ]


# S9 -------------------------------------------------------------------------------------------------


def test_s9_horizon_bounds_an_open_ended_plan() -> None:
    plan = Plan(SURGERY, Protocol(cycles=None))
    today = after(100)
    fills = run(plan, today=today, horizon_days=56)
    assert fills[-1].date == after(154) == today + days(54)
    assert horizon_end(plan, today, 56) == today + days(56)


def test_s9_horizon_counts_from_surgery_when_it_is_ahead() -> None:
    today = SURGERY - days(30)
    assert horizon_end(Plan(SURGERY), today, 365) == SURGERY + days(365)


# S10 ------------------------------------------------------------------------------------------------


def test_s10_missed_fill_is_overdue_and_keeps_its_date() -> None:
    fills = run(today=after(20))
    assert fills[1].date == after(14) and fills[1].overdue and not fills[1].recorded
    assert not fills[2].overdue and fills[2].date == after(28)  # still projected from the missed date


def test_s10_due_today_is_not_overdue() -> None:
    assert not run(today=after(14))[1].overdue


def test_s10_recording_the_fill_clears_overdue() -> None:
    fills = run(today=after(20), recorded=(RecordedFill(after(19), FUDR),))
    assert not any(f.overdue for f in fills)


# S11 ------------------------------------------------------------------------------------------------


def test_s11_default_plan_has_no_capacity_warning() -> None:
    assert not any(f.capacity_warning for f in run(horizon_days=500))


def test_s11_interval_longer_than_the_pump_lasts_is_flagged() -> None:
    plan = Plan(SURGERY, Protocol(cycles=1, maintenance=Step(Infusate.GLYCERIN, 42)))
    fills = run(plan)
    warned = [f for f in fills if f.capacity_warning]
    assert warned and all(f.kind is FillKind.MAINTENANCE for f in warned)
    assert all(f.kind is not FillKind.MAINTENANCE or f.capacity_warning for f in fills)


def test_s11_warning_follows_the_interval_after_a_closure_move() -> None:
    # 31-day glycerin maintenance in a 30-day pump: a closure pulls one fill a day earlier, which
    # makes that interval safe; the others stay flagged.
    plan = Plan(SURGERY, Protocol(cycles=0, maintenance=Step(Infusate.GLYCERIN, 31)))
    every_day = ClinicCalendar(open_weekdays=frozenset(range(7)), closures=frozenset({after(45)}))
    fills = run(plan, every_day)
    assert kinds(fills)[1:3] == [FillKind.MAINTENANCE, FillKind.MAINTENANCE]  # no cycles at all
    assert fills[2].date == after(44) and fills[2].moved_from == after(45)
    assert not fills[1].capacity_warning
    assert fills[2].capacity_warning


def test_s11_only_phases_still_ahead_are_flagged() -> None:
    # A 40-day gap between two recorded fills is history; the newest recorded fill's phase is ahead.
    plan = Plan(SURGERY, pump=Pump(reservoir_ml=12.0))
    recorded = (RecordedFill(after(14), FUDR), RecordedFill(after(54), SALINE))
    fills = run(plan, today=after(54), recorded=recorded)
    assert not fills[1].capacity_warning
    assert fills[2].capacity_warning  # its planned 14 days outlast a 12-day pump
    assert fills[3].capacity_warning


# S12 ------------------------------------------------------------------------------------------------


def test_s12_measured_flow_within_tolerance() -> None:
    recorded = (
        RecordedFill(after(14), FUDR, volume_in_ml=30.0),
        RecordedFill(after(28), SALINE, volume_in_ml=30.0, volume_returned_ml=16.0),
    )
    fills = run(today=after(28), recorded=recorded)
    assert fills[2].measured_flow_ml_per_day == pytest.approx(1.0)
    assert not fills[2].flow_deviation
    assert fills[1].measured_flow_ml_per_day is None  # the implant's volume was not recorded


def test_s12_deviation_beyond_the_clinics_tolerance_is_flagged() -> None:
    recorded = (
        RecordedFill(after(14), FUDR, volume_in_ml=30.0),
        RecordedFill(after(28), SALINE, volume_returned_ml=9.0),  # 1.5 mL/day
    )
    fills = run(today=after(28), recorded=recorded)
    assert fills[2].measured_flow_ml_per_day == pytest.approx(1.5)
    assert fills[2].flow_deviation
    lenient = run(None, ClinicCalendar(flow_tolerance=0.6), today=after(28), recorded=recorded)
    assert not lenient[2].flow_deviation


@pytest.mark.parametrize(
    ("returned", "flow", "deviation"),
    [(12.5, 1.25, True), (16.6, 0.957, False), (15.6, 1.029, False), (19.5, 0.75, True)],
)
def test_s12_tolerance_is_relative_both_ways(returned: float, flow: float, deviation: bool) -> None:
    recorded = (
        RecordedFill(after(14), FUDR, volume_in_ml=30.0),
        RecordedFill(after(28), SALINE, volume_returned_ml=returned),
    )
    fill = run(today=after(28), recorded=recorded)[2]
    assert fill.measured_flow_ml_per_day == pytest.approx(flow, abs=1e-3)
    assert fill.flow_deviation is deviation


def test_s12_needs_both_volumes() -> None:
    recorded = (
        RecordedFill(SURGERY, SALINE, volume_in_ml=30.0),
        RecordedFill(after(14), FUDR),  # nothing returned recorded
        RecordedFill(after(28), SALINE, volume_returned_ml=10.0),  # nothing put in at the previous fill
    )
    fills = run(today=after(28), recorded=recorded)
    assert all(f.measured_flow_ml_per_day is None and not f.flow_deviation for f in fills)


def test_s12_implant_fill_volume_counts() -> None:
    recorded = (
        RecordedFill(SURGERY, SALINE, volume_in_ml=30.0),
        RecordedFill(after(14), FUDR, volume_returned_ml=2.0),
    )
    fills = run(today=after(14), recorded=recorded)
    assert fills[1].measured_flow_ml_per_day == pytest.approx(2.0)
    assert fills[1].flow_deviation


# Property tests -------------------------------------------------------------------------------------

REST_INFUSATES = st.sampled_from([SALINE, Infusate.SALINE, Infusate.GLYCERIN])
ANY_INFUSATE = st.sampled_from(list(Infusate))


@st.composite
def protocols(draw: st.DrawFn) -> Protocol:
    chemo = Step(draw(st.sampled_from([FUDR, Infusate.FUDR_DEX])), draw(st.integers(1, 28)))
    rests = draw(st.lists(st.builds(Step, REST_INFUSATES, st.integers(1, 35)), min_size=0, max_size=3))
    return Protocol(
        first_chemo_after_days=draw(st.integers(1, 84)),
        cycle=(chemo, *rests),
        cycles=draw(st.none() | st.integers(0, 8)),
        maintenance=Step(draw(REST_INFUSATES), draw(st.integers(1, 60))),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> dict:
    """Keyword arguments for project(). Few, coarse draws: generation dominates the run time."""
    surgery = date(2024, 1, 1) + days(draw(st.integers(0, 1000)))
    # Closures come in blocks (a holiday, a closed week), dense enough to collide with fills.
    blocks = draw(st.lists(st.tuples(st.integers(0, 500), st.integers(1, 12)), max_size=8))
    calendar = ClinicCalendar(
        open_weekdays=draw(st.frozensets(st.integers(0, 6))),
        closures=frozenset(surgery + days(start + n) for start, length in blocks for n in range(length)),
    )
    # Plausible recorded fills: increasing dates from surgery on (or from the first visit), any infusate.
    visits = draw(st.lists(st.tuples(st.integers(1, 40), ANY_INFUSATE), max_size=10))
    offset = 0
    recorded = [RecordedFill(surgery, draw(ANY_INFUSATE))] if draw(st.booleans()) else []
    for gap, infusate in visits:
        offset += gap
        recorded.append(RecordedFill(surgery + days(offset), infusate))
    end = draw(st.none() | st.integers(-5, 600))
    chemo_end = draw(st.none() | st.integers(0, 400))
    return {
        "plan": Plan(
            surgery,
            draw(protocols()),
            Pump(draw(st.integers(10, 60)), draw(st.sampled_from([0.5, 1.0, 2.0]))),
            chemo_end=None if chemo_end is None else surgery + days(chemo_end),
            end_date=None if end is None else surgery + days(end),
        ),
        "calendar": calendar,
        "today": surgery + days(draw(st.integers(-30, offset + 120))),
        "recorded": tuple(recorded),
        "holds": draw(st.frozensets(st.tuples(st.integers(1, 8), st.integers(1, 2)), max_size=6)),
        "horizon_days": draw(st.integers(0, 400)),
    }


def planned(fills: list[Fill]) -> list[Fill]:
    """Fills the engine placed: neither recorded nor the implant (surgery is a fact)."""
    return [f for f in fills if not f.recorded and f.kind is not FillKind.IMPLANT]


# Generating a scenario costs far more than projecting it, so every invariant is checked on each one.
@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_property_invariants(s: dict) -> None:
    fills = project(**s)
    check_date_order_and_sequences(fills)
    check_no_planned_phase_longer_than_its_step(fills, s["plan"].pump.capacity_days)
    check_no_planned_fill_on_a_closed_day_unless_flagged(fills, s["calendar"])
    check_chemo_never_exceeds_the_plans_cycles(fills, s["plan"].protocol.cycles)
    check_recorded_fills_kept_as_recorded(fills, s["recorded"])
    check_nothing_planned_past_the_end(fills, s["plan"], s["today"], s["horizon_days"])


def check_date_order_and_sequences(fills: list[Fill]) -> None:
    assert [f.sequence for f in fills] == list(range(len(fills)))
    assert all(a.date < b.date for a, b in itertools.pairwise(fills))
    assert all(a.phase_end == b.date for a, b in itertools.pairwise(fills))
    assert fills[-1].phase_end is None


def check_no_planned_phase_longer_than_its_step(fills: list[Fill], capacity: float) -> None:
    for fill, nxt in itertools.pairwise(fills):
        if nxt.recorded:
            continue  # a phase that already happened is a fact, whatever its length
        length = (nxt.date - fill.date).days
        if fill.infusate.is_chemo:
            assert length <= fill.phase_days, fill
        elif length > fill.phase_days:
            # Only a closure may stretch a rest phase, and never beyond the pump.
            assert nxt.moved_from is not None, nxt
            assert length <= capacity, fill
        assert fill.capacity_warning == (length > capacity), fill


def check_no_planned_fill_on_a_closed_day_unless_flagged(fills: list[Fill], calendar: ClinicCalendar) -> None:
    for fill in planned(fills):
        assert calendar.is_open(fill.date) or fill.closed_day, fill
        assert not (fill.closed_day and fill.moved_from), fill


def check_chemo_never_exceeds_the_plans_cycles(fills: list[Fill], cycles: int | None) -> None:
    given_chemo = sum(1 for f in fills if f.recorded and f.kind is FillKind.CHEMO)
    planned_chemo = sum(1 for f in planned(fills) if f.kind is FillKind.CHEMO)
    if cycles is not None:
        assert planned_chemo <= max(0, cycles - given_chemo)
    chemo_cycles = [f.cycle for f in fills if f.kind is FillKind.CHEMO]
    assert chemo_cycles == list(range(1, len(chemo_cycles) + 1))


def check_recorded_fills_kept_as_recorded(fills: list[Fill], recorded: tuple[RecordedFill, ...]) -> None:
    facts = [f for f in fills if f.recorded]
    assert [(f.date, f.infusate) for f in facts] == [(r.date, r.infusate) for r in recorded]
    assert all(f.moved_from is None and not f.closed_day and not f.overdue for f in facts)
    # Held means a non-chemo infusate where chemo was expected; a chemo infusate is never held.
    assert all(f.held == (f.kind is FillKind.HELD) for f in fills)
    assert not any(f.held and f.infusate.is_chemo for f in fills)


def check_nothing_planned_past_the_end(fills: list[Fill], plan: Plan, today: date, horizon: int) -> None:
    limit = horizon_end(plan, today, horizon)
    assert fills[0].date == plan.surgery_date and fills[0].kind is FillKind.IMPLANT
    for fill in planned(fills):
        assert fill.date <= limit, fill
        assert plan.end_date is None or fill.date <= plan.end_date, fill
        if plan.chemo_end is not None and fill.date >= plan.chemo_end:
            assert fill.kind is FillKind.MAINTENANCE, fill  # S8: no chemo or rest once chemotherapy ended
        assert fill.overdue == (fill.date < today), fill




# Exact outcomes (issue 16): each of these failed against a one-line change to the engine ----------


def test_s6_a_hold_planned_ahead_and_then_recorded_at_the_visit_is_used_once() -> None:
    # Staff hold cycle 2's chemo ahead; at that visit the nurse records the saline the hold asked for.
    # The hold is then spent: cycle 2's chemo comes at the next visit, not held a second time.
    hold = frozenset({(2, 1)})
    planned_ahead = run(holds=hold, horizon_days=120)
    assert [(f.date, f.kind, f.cycle) for f in planned_ahead[3:5]] == [
        (after(42), FillKind.HELD, 2),
        (after(56), FillKind.CHEMO, 2),
    ]
    recorded = (RecordedFill(after(14), FUDR), RecordedFill(after(28), SALINE), RecordedFill(after(42), SALINE))
    fills = run(today=after(42), recorded=recorded, holds=hold, horizon_days=120)
    assert [(f.date, f.kind, f.cycle, f.infusate) for f in fills[3:6]] == [
        (after(42), FillKind.HELD, 2, SALINE),
        (after(56), FillKind.CHEMO, 2, FUDR),
        (after(70), FillKind.REST, 2, SALINE),
    ]


def test_s12_measured_flow_uses_the_actual_days_between_fills() -> None:
    # The refill came 3 days late (17 days, not 14): 17 mL left the pump, exactly 1 mL/day, no deviation.
    recorded = (
        RecordedFill(after(14), FUDR, volume_in_ml=30.0),
        RecordedFill(after(31), SALINE, volume_returned_ml=13.0),
    )
    fill = run(today=after(31), recorded=recorded)[2]
    assert fill.measured_flow_ml_per_day == pytest.approx(1.0)
    assert not fill.flow_deviation
    # And 3 days early (11 days): 11 mL is 1 mL/day too, where 14 planned days would read 0.79.
    early = (
        RecordedFill(after(14), FUDR, volume_in_ml=30.0),
        RecordedFill(after(25), SALINE, volume_returned_ml=19.0),
    )
    fill = run(today=after(25), recorded=early)[2]
    assert fill.measured_flow_ml_per_day == pytest.approx(1.0)
    assert not fill.flow_deviation


def test_s8_a_fill_due_on_the_end_date_is_kept() -> None:
    plan = Plan(SURGERY, end_date=after(56))  # fill 4 is due that very day
    fills = run(plan)
    assert [f.date for f in fills] == [SURGERY, after(14), after(28), after(42), after(56)]
    assert fills[-1].phase_end is None


@st.composite
def plain_scenarios(draw: st.DrawFn) -> dict:
    """A plan from surgery on, nothing recorded yet: what the care team sees on the first day."""
    surgery = date(2024, 1, 1) + days(draw(st.integers(0, 1000)))
    blocks = draw(st.lists(st.tuples(st.integers(0, 300), st.integers(1, 10)), max_size=5))
    calendar = ClinicCalendar(
        open_weekdays=draw(st.frozensets(st.integers(0, 6), min_size=1)),
        closures=frozenset(surgery + days(start + n) for start, length in blocks for n in range(length)),
    )
    protocol = draw(protocols())
    plan = Plan(surgery, protocol, Pump(draw(st.integers(10, 60)), draw(st.sampled_from([0.5, 1.0, 2.0]))))
    # Holds on the first cycles, so most examples reach one (a hold on cycle 9 proves little).
    holds = draw(st.frozensets(st.tuples(st.integers(1, 3), st.integers(1, 2)), min_size=1, max_size=3))
    return {"plan": plan, "calendar": calendar, "today": surgery, "holds": holds, "horizon_days": 300}


def appointments(fills: list[Fill]) -> list[tuple]:
    return [(f.sequence, f.date, f.infusate, f.kind, f.cycle, f.phase_days, f.held) for f in fills]


@settings(max_examples=150, deadline=None)
@given(plain_scenarios(), st.data())
def test_property_recording_the_fills_as_planned_changes_nothing_ahead(s: dict, data: st.DataObject) -> None:
    """Holds planned ahead and then recorded at their visits are used once: the schedule stays exactly as it was."""
    fills = project(**s)
    visited = data.draw(st.integers(0, len(fills) - 1), label="fills recorded")
    recorded = tuple(RecordedFill(f.date, f.infusate) for f in fills[: visited + 1])
    after_visits = project(**{**s, "today": fills[visited].date, "recorded": recorded})
    # Recording moves today (and so the horizon) forward: compare what the first projection covered.
    assert appointments(after_visits[: len(fills)]) == appointments(fills)


@settings(max_examples=150, deadline=None)
@given(plain_scenarios(), st.data())
def test_property_a_fill_due_on_the_end_date_is_kept(s: dict, data: st.DataObject) -> None:
    fills = project(**s)
    last = data.draw(st.integers(0, len(fills) - 1), label="last fill")
    end = fills[last].date
    ended = project(**{**s, "plan": dataclasses.replace(s["plan"], end_date=end)})
    assert [(f.date, f.kind, f.cycle) for f in ended] == [(f.date, f.kind, f.cycle) for f in fills[: last + 1]]


@settings(max_examples=100, deadline=None)
@given(
    late=st.integers(-10, 10),
    put_in=st.floats(5, 60),
    flow=st.floats(0.1, 3.0),
    tolerance=st.floats(0.05, 0.5),
)
def test_property_measured_flow_is_what_left_the_pump_over_the_actual_days(
    late: int, put_in: float, flow: float, tolerance: float
) -> None:
    gap = 14 + late
    returned = put_in - flow * gap
    recorded = (
        RecordedFill(after(14), FUDR, volume_in_ml=put_in),
        RecordedFill(after(14 + gap), SALINE, volume_returned_ml=returned),
    )
    assume(abs(abs(flow - 1.0) - tolerance) > 1e-6)  # on the boundary itself rounding decides
    fill = run(None, ClinicCalendar(flow_tolerance=tolerance), today=after(14 + gap), recorded=recorded)[2]
    assert fill.measured_flow_ml_per_day == pytest.approx(flow)
    assert fill.flow_deviation is (abs(flow - 1.0) > tolerance)


def test_flags_are_false_not_missing_on_an_ordinary_schedule() -> None:
    # The stored projection keeps every flag in a NOT NULL column: "no" must be False, never None.
    recorded = (RecordedFill(after(14), FUDR, volume_in_ml=30.0), RecordedFill(after(28), SALINE))
    for fill in run(today=after(30), recorded=recorded, horizon_days=120):
        flags = (fill.overdue, fill.held, fill.closed_day, fill.capacity_warning, fill.flow_deviation)
        assert flags == (False,) * 5 and all(flag is False for flag in flags), fill


def test_s12_flow_deviation_is_relative_to_the_pumps_own_rate() -> None:
    # A 2 mL/day pump measured at 2.3 mL/day is 15% off: within 20%, not flagged (0.3 mL/day off is not 30%).
    plan = Plan(SURGERY, pump=Pump(reservoir_ml=60.0, flow_ml_per_day=2.0))
    recorded = (
        RecordedFill(after(14), FUDR, volume_in_ml=60.0),
        RecordedFill(after(24), SALINE, volume_returned_ml=37.0),  # 23 mL over 10 days
    )
    fill = run(plan, today=after(24), recorded=recorded)[2]
    assert fill.measured_flow_ml_per_day == pytest.approx(2.3)
    assert not fill.flow_deviation


def test_s12_a_flow_exactly_at_the_tolerance_is_within_it() -> None:
    recorded = (
        RecordedFill(after(14), FUDR, volume_in_ml=30.0),
        RecordedFill(after(28), SALINE, volume_returned_ml=12.5),  # 17.5 mL over 14 days: 1.25 mL/day
    )
    fill = run(None, ClinicCalendar(flow_tolerance=0.25), today=after(28), recorded=recorded)[2]
    assert fill.measured_flow_ml_per_day == 1.25
    assert not fill.flow_deviation


def test_s12_the_implant_fill_ends_no_phase_so_has_no_measured_flow() -> None:
    # Everything recorded and nothing planned after (the therapy ended): the implant fill has no phase before it.
    plan = Plan(SURGERY, end_date=after(14))
    recorded = (
        RecordedFill(SURGERY, SALINE, volume_in_ml=30.0, volume_returned_ml=5.0),
        RecordedFill(after(14), FUDR, volume_in_ml=30.0, volume_returned_ml=16.0),
    )
    fills = run(plan, today=after(14), recorded=recorded)
    assert [f.measured_flow_ml_per_day for f in fills] == [None, pytest.approx(1.0)]


def test_s6_two_holds_of_one_cycle_planned_ahead_are_each_used_once_as_they_are_recorded() -> None:
    holds = frozenset({(2, 1), (2, 2)})
    given = (RecordedFill(after(14), FUDR), RecordedFill(after(28), SALINE))

    def cycle_2(recorded: tuple[RecordedFill, ...]) -> list[tuple[date, FillKind]]:
        fills = run(today=recorded[-1].date, recorded=recorded, holds=holds, horizon_days=120)
        return [(f.date, f.kind) for f in fills if f.cycle == 2 and f.kind is not FillKind.REST]

    expected = [(after(42), FillKind.HELD), (after(56), FillKind.HELD), (after(70), FillKind.CHEMO)]
    assert cycle_2(given) == expected
    assert cycle_2((*given, RecordedFill(after(42), SALINE))) == expected
    assert cycle_2((*given, RecordedFill(after(42), SALINE), RecordedFill(after(56), SALINE))) == expected
