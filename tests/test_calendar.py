"""The month grid and the progress words: pure functions over engine fills, no database."""

import datetime as dt
import itertools

import pytest

from portal import month_calendar, timeline
from schedules import engine, progress
from schedules.engine import ClinicCalendar, Infusate, Plan, RecordedFill

SURGERY = dt.date(2026, 2, 18)  # a Wednesday
TODAY = dt.date(2026, 3, 10)


def fills(*, today=TODAY, recorded=(), holds=frozenset(), end=None, closures=frozenset(), protocol=None):
    plan = Plan(surgery_date=SURGERY, end_date=end, protocol=protocol or engine.Protocol())
    return engine.project(
        plan, ClinicCalendar(closures=closures), today=today, recorded=tuple(recorded), holds=holds
    )


def day_of(month, day: dt.date):
    return next(d for week in month.weeks for d in week if d.date == day)


def test_grid_is_whole_weeks_monday_first():
    month = month_calendar.month_grid(2026, 3, fills=fills(), today=TODAY)
    assert month.state == "in"
    assert month.weekday_names[0] == ("Monday", "Mon") and month.weekday_names[-1] == ("Sunday", "Sun")
    assert all(len(week) == 7 for week in month.weeks)
    assert month.weeks[0][0].date == dt.date(2026, 2, 23)  # the Monday before 1 March
    assert month.weeks[-1][-1].date == dt.date(2026, 4, 5)
    assert not day_of(month, dt.date(2026, 2, 23)).in_month
    assert month.title == "March 2026"


def test_each_day_has_its_phase_and_refill_days_their_fill():
    month = month_calendar.month_grid(2026, 3, fills=fills(), today=TODAY)
    assert day_of(month, dt.date(2026, 3, 3)).phase == "implant"  # saline since surgery
    chemo_day = day_of(month, dt.date(2026, 3, 4))
    assert chemo_day.fill is not None and chemo_day.phase == "chemo" and chemo_day.phase_label == "FUDR"
    assert chemo_day.refill_words == "FUDR (chemotherapy)"
    assert chemo_day.overdue  # planned on 4 March, nothing recorded by the 10th
    assert "refill overdue: FUDR (chemotherapy)" in chemo_day.description
    rest = day_of(month, dt.date(2026, 3, 18))
    assert rest.fill is not None and rest.phase == "rest" and not rest.overdue
    assert rest.description == "Wednesday 18 March, refill: heparinized saline (rest)."
    assert day_of(month, dt.date(2026, 3, 17)).fill is None


def test_today_is_marked_once():
    month = month_calendar.month_grid(2026, 3, fills=fills(), today=TODAY)
    todays = [d for week in month.weeks for d in week if d.is_today]
    assert [d.date for d in todays] == [TODAY]
    assert "today" in todays[0].description


def test_closures_are_shown_with_their_name():
    closures = {dt.date(2026, 3, 16): "Clinic training day", dt.date(2026, 3, 20): ""}
    month = month_calendar.month_grid(2026, 3, fills=fills(), today=TODAY, closures=closures)
    assert day_of(month, dt.date(2026, 3, 16)).closure == "Clinic training day"
    assert day_of(month, dt.date(2026, 3, 20)).closure == "Clinic closed"
    assert day_of(month, dt.date(2026, 3, 17)).closure is None
    assert "clinic closed (Clinic training day)" in day_of(month, dt.date(2026, 3, 16)).description


def test_held_and_maintenance_phases():
    all_fills = fills(holds=frozenset({(2, 1)}))  # the first attempt at cycle 2
    month = month_calendar.month_grid(2026, 4, fills=all_fills, today=TODAY)
    held = day_of(month, dt.date(2026, 4, 1))
    assert held.phase == "held" and held.refill_words.startswith("Chemotherapy is on hold")
    late = month_calendar.month_grid(2026, 9, fills=all_fills, today=TODAY)
    assert any(d.phase == "maintenance" for week in late.weeks for d in week)


def test_month_before_surgery_says_so():
    month = month_calendar.month_grid(2026, 1, fills=fills(), today=TODAY)
    assert month.state == "before" and month.weeks == []


def test_month_of_surgery_is_shown_with_nothing_before_it():
    month = month_calendar.month_grid(2026, 2, fills=fills(), today=TODAY)
    assert month.state == "in"
    assert day_of(month, dt.date(2026, 2, 17)).phase == "none"
    surgery = day_of(month, SURGERY)
    assert surgery.fill is not None and surgery.refill_words == "pump surgery, filled with heparinized saline"


def test_month_after_the_end_of_therapy_says_so():
    ended = fills(end=dt.date(2026, 4, 20))
    assert month_calendar.month_grid(2026, 5, fills=ended, today=TODAY, end_date=dt.date(2026, 4, 20)).state == "after"
    april = month_calendar.month_grid(2026, 4, fills=ended, today=TODAY, end_date=dt.date(2026, 4, 20))
    assert april.state == "in"
    assert day_of(april, dt.date(2026, 4, 21)).phase == "none"


def test_month_beyond_the_horizon_says_so():
    month = month_calendar.month_grid(2028, 1, fills=fills(), today=TODAY)
    assert month.state == "beyond"


def test_no_plan_is_before_everything():
    assert month_calendar.month_grid(2026, 3, fills=[], today=TODAY).state == "before"


def test_shift_month_crosses_years():
    assert month_calendar.shift_month(2026, 12, 1) == (2027, 1)
    assert month_calendar.shift_month(2026, 1, -1) == (2025, 12)
    assert month_calendar.shift_month(2026, 3, 3) == (2026, 6)


def test_fills_of_the_month_are_listed():
    month = month_calendar.month_grid(2026, 3, fills=fills(), today=TODAY)
    assert [f.date for f in month.fills] == [dt.date(2026, 3, 4), dt.date(2026, 3, 18)]


# progress: where the pump is, and the words


def test_relative_days():
    assert progress.relative_day(TODAY, TODAY) == "today"
    assert progress.relative_day(TODAY + dt.timedelta(days=1), TODAY) == "tomorrow"
    assert progress.relative_day(TODAY + dt.timedelta(days=5), TODAY) == "in 5 days"
    assert progress.relative_day(TODAY - dt.timedelta(days=1), TODAY) == "yesterday"
    assert progress.relative_day(TODAY - dt.timedelta(days=6), TODAY) == "6 days ago"


def test_where_the_pump_is_through_a_cycle():
    given = fills(recorded=[RecordedFill(dt.date(2026, 3, 4), Infusate.FUDR)])
    where = progress.where(given, TODAY, cycles_total=6, end_date=None)
    assert where.headline == "Day 7 of 14: FUDR" and where.cycle == "Cycle 1 of 6"
    # The refill day itself, before it is recorded: the new phase starts.
    rest = progress.where(given, dt.date(2026, 3, 18), cycles_total=6, end_date=None)
    assert rest.headline == "Rest" and rest.cycle == "Cycle 1 of 6, day 1 of 14"
    open_ended = progress.where(given, TODAY, cycles_total=None, end_date=None)
    assert open_ended.cycle == "Cycle 1"


def test_where_before_surgery_after_the_end_and_overdue():
    assert progress.where(fills(), dt.date(2026, 2, 1), cycles_total=6, end_date=None).state == "before_surgery"
    assert progress.where(fills(), dt.date(2026, 2, 20), cycles_total=6, end_date=None).headline == "Rest after surgery"
    ended = progress.where(fills(), TODAY, cycles_total=6, end_date=dt.date(2026, 3, 2))
    assert ended.headline == "Therapy ended on Monday 2 March"
    overdue = progress.where(fills(), TODAY, cycles_total=6, end_date=None)  # 4 March never recorded
    assert overdue.state == "overdue" and overdue.cycle == "The pump still holds heparinized saline."
    assert progress.where([], TODAY, cycles_total=6, end_date=None).state == "unknown"


def test_where_in_maintenance():
    protocol = engine.Protocol(cycles=1)
    given = fills(
        protocol=protocol,
        today=dt.date(2026, 4, 10),
        recorded=[
            RecordedFill(dt.date(2026, 3, 4), Infusate.FUDR),
            RecordedFill(dt.date(2026, 3, 18), Infusate.SALINE),
        ],
    )
    where = progress.where(given, dt.date(2026, 4, 1), cycles_total=1, end_date=None)
    assert where.headline == "Maintenance" and where.cycle == "Day 1 of 14"


def test_what_goes_in_words():
    held = next(f for f in fills(holds=frozenset({(2, 1)})) if f.held)
    assert progress.what_goes_in(held) == "Chemotherapy is on hold: heparinized saline goes in instead"
    dex = fills(recorded=[RecordedFill(dt.date(2026, 3, 4), Infusate.FUDR_DEX)])[1]
    assert progress.what_goes_in(dex) == "FUDR with dexamethasone (chemotherapy)"


def test_next_fill_skips_surgery_and_recorded_fills():
    all_fills = fills(recorded=[RecordedFill(dt.date(2026, 3, 4), Infusate.FUDR)])
    assert progress.next_fill(all_fills, TODAY).date == dt.date(2026, 3, 18)
    assert progress.next_fill(fills(), TODAY).date == dt.date(2026, 3, 4)  # overdue first
    assert progress.next_fill(fills(), dt.date(2026, 2, 1)).date == dt.date(2026, 3, 4)  # surgery is not a refill


def test_tel_href():
    assert progress.tel_href("+1 555 010 0199") == "tel:+15550100199"
    assert progress.tel_href("(555) 010-0199") == "tel:5550100199"


# timeline


def test_timeline_has_a_bar_per_phase_from_surgery_to_the_end():
    all_fills = fills(end=dt.date(2026, 6, 1), holds=frozenset({(2, 1)}), closures=frozenset({dt.date(2026, 4, 29)}))
    line = timeline.build(all_fills, today=TODAY, end_date=dt.date(2026, 6, 1), cycles_total=6)
    assert line.start == SURGERY and line.end == dt.date(2026, 6, 1)
    assert [b.start for b in line.bars] == [f.date for f in all_fills]
    assert line.bars[0].x == timeline.MARGIN
    assert line.bars[-1].x + line.bars[-1].width == pytest.approx(timeline.VIEW_WIDTH - timeline.MARGIN, abs=0.2)
    assert all(a.x + a.width == pytest.approx(b.x, abs=0.2) for a, b in itertools.pairwise(line.bars))
    assert [b.phase for b in line.bars][:4] == ["implant", "chemo", "rest", "held"]
    assert line.held_cycles == 1
    assert line.moved == 1 and any(b.moved_from == dt.date(2026, 4, 29) for b in line.bars)
    assert [b.is_current for b in line.bars].count(True) == 1
    assert line.today_x is not None and line.bars[1].x < line.today_x < line.bars[2].x
    assert [t.label for t in line.ticks] == ["Mar 2026", "Apr", "May", "Jun"]


def test_timeline_without_fills_is_none_and_today_outside_has_no_marker():
    assert timeline.build([], today=TODAY) is None
    line = timeline.build(fills(), today=dt.date(2025, 1, 1))
    assert line.today_x is None
