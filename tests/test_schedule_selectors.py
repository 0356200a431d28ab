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
