"""The clinic-wide questions answer from the stored projection in a constant number of queries."""

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext

from schedules import selectors
from tests.conftest import TODAY, make_patient


def count_queries(fn) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as ctx:
        result = fn()
    return len(ctx.captured_queries), result


def add_patients(clinic, start: int, stop: int) -> None:
    for n in range(start, stop):
        # First chemo fills spread over the four weeks around today: some due this week, some overdue.
        make_patient(clinic, f"Patient {n}", f"R-{n}", surgery=TODAY - dt.timedelta(days=n % 28))


def test_due_between_two_dates_is_one_query_whatever_the_number_of_patients(clinic_a):
    clinic_a.open_weekdays = "0123456"  # open every day: no fill moves, so the counts below are exact
    clinic_a.save()
    week = (TODAY, TODAY + dt.timedelta(days=6))

    def due_this_week():
        rows = selectors.fills_due_between(clinic=clinic_a, start=week[0], end=week[1])
        return [(r.date, r.plan.patient.name, r.plan.patient.record_number, r.infusate) for r in rows]

    def overdue():
        return [(r.date, r.plan.patient.name) for r in selectors.overdue_fills(clinic=clinic_a)]

    counts = {}
    for size in (10, 200):
        add_patients(clinic_a, len(counts) and 10, size)
        due_queries, due = count_queries(due_this_week)
        overdue_queries, late = count_queries(overdue)
        # Surgery k = n % 28 days ago: the first chemo fill is due k - 14 days from today (this week for k in
        # 8..14, overdue for k >= 15); an overdue one's next fill follows 14 days after it (this week for k >= 22).
        assert len(due) == sum(1 for n in range(size) if 8 <= n % 28 <= 14 or n % 28 >= 22)
        assert all(week[0] <= date <= week[1] for date, *_ in due)
        assert len(late) == sum(1 for n in range(size) if n % 28 >= 15)
        assert all(date < TODAY for date, _ in late)
        counts[size] = (due_queries, overdue_queries)
    assert counts[10] == counts[200] == (1, 1)


def test_due_between_leaves_out_other_clinics_recorded_and_cancelled_fills(clinic_a, clinic_b, staff_a):
    from schedules import services

    mine = make_patient(clinic_a, "Mine", "M-1", surgery=TODAY - dt.timedelta(days=14))
    make_patient(clinic_b, "Theirs", "T-1", surgery=TODAY - dt.timedelta(days=14))
    ended = make_patient(clinic_a, "Ended", "E-1", surgery=TODAY - dt.timedelta(days=14))
    services.therapy_end(plan=ended.plan, end_date=TODAY - dt.timedelta(days=1), reason="pump_removed")
    due = list(selectors.fills_due_between(clinic=clinic_a, start=TODAY, end=TODAY))
    assert [r.plan.patient for r in due] == [mine]
    services.fill_record(plan=mine.plan, date=TODAY, infusate="fudr", by=staff_a)
    assert list(selectors.fills_due_between(clinic=clinic_a, start=TODAY, end=TODAY)) == []


def test_fills_due_tomorrow_across_clinics(clinic_a, clinic_b):
    a = make_patient(clinic_a, "A", "A-1", surgery=TODAY - dt.timedelta(days=13))
    b = make_patient(clinic_b, "B", "B-1", surgery=TODAY - dt.timedelta(days=13))
    tomorrow = TODAY + dt.timedelta(days=1)
    assert {r.plan.patient for r in selectors.fills_due_on(tomorrow)} == {a, b}


def test_the_dashboards_one_query_lists_what_each_section_lists(clinic_a, clinic_b, staff_a):
    """dashboard_sections is written in SQL (for speed) and due_section with the ORM: the same rows and counts."""
    from schedules import services
    from schedules.models import ScheduledFill

    add_patients(clinic_a, 0, 40)
    add_patients(clinic_b, 100, 110)  # another clinic's refills never count
    make_patient(clinic_a, "Sam Surgery", "R-200", surgery=TODAY + dt.timedelta(days=3))  # an implant fill
    small = make_patient(clinic_a, "Rita Reservoir", "R-201", surgery=TODAY - dt.timedelta(days=3))
    small.pump_reservoir_ml = 12  # pump may run dry: a warning
    small.save()
    services.plan_save(plan=small.plan)
    flow = make_patient(clinic_a, "Flo Flow", "R-202", surgery=TODAY - dt.timedelta(days=20))
    services.fill_record(plan=flow.plan, date=TODAY - dt.timedelta(days=20), infusate="heparinized_saline",
                         by=staff_a, volume_in_ml=30)
    services.fill_record(plan=flow.plan, date=TODAY - dt.timedelta(days=6), infusate="fudr", by=staff_a,
                         volume_returned_ml=10)  # 1.43 mL/day, out of tolerance: a warning on the next visit
    ended = make_patient(clinic_a, "Eve Ended", "R-203", surgery=TODAY - dt.timedelta(days=19))
    services.therapy_end(plan=ended.plan, end_date=TODAY, reason="pump_removed")  # its missed refill stays
    recorded = make_patient(clinic_a, "Rob Recorded", "R-204", surgery=TODAY - dt.timedelta(days=14))
    services.fill_record(plan=recorded.plan, date=TODAY, infusate="fudr", by=staff_a)
    cancelled = ScheduledFill.objects.filter(plan__patient__record_number="R-5", active=True, recorded=False)
    assert cancelled.filter(kind="chemo").update(active=False)  # rows that no longer happen

    for limit in (3, 10, 100):
        sections = selectors.dashboard_sections(clinic=clinic_a, today=TODAY, limit=limit)
        for name in selectors.DUE_SECTIONS:
            whole = list(selectors.due_section(clinic=clinic_a, today=TODAY, section=name))
            shown = sections[name]["rows"]
            assert sections[name]["count"] == len(whole), name
            assert [f.pk for f in shown] == [f.pk for f in whole[:limit]], name
            for mine, theirs in zip(shown, whole, strict=False):
                for field in ("date", "infusate", "kind", "cycle", "sequence", "recorded", "held", "moved_from",
                              "closed_day", "capacity_warning", "flow_deviation", "measured_flow_ml_per_day",
                              "deviating_flow", "patient_name", "patient_public_id", "patient_record_number"):
                    assert getattr(mine, field) == getattr(theirs, field), (name, field)
    words = {name: {f.patient_name for f in selectors.due_section(clinic=clinic_a, today=TODAY, section=name)}
             for name in selectors.DUE_SECTIONS}
    assert {"Rita Reservoir", "Flo Flow"} <= words["warnings"]
    assert "Eve Ended" not in set().union(*words.values()) and "Sam Surgery" not in set().union(*words.values())
    assert all(section["count"] for section in sections.values())  # the data reach every section
