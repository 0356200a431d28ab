"""The clinic-wide questions answer from the stored projection in a constant number of queries."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from schedules import selectors
from tests.conftest import TODAY, make_patient


def count_queries(fn) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as ctx:
        result = fn()
    return len(ctx.captured_queries), result


@pytest.mark.parametrize("patients", [10, 500])
def test_due_between_two_dates_is_constant_in_queries(clinic_a, patients):
    for n in range(patients):
        # First chemo falls on each of the next 14 days in turn.
        make_patient(clinic_a, f"Patient {n}", f"R-{n}", surgery=TODAY - dt.timedelta(days=n % 14))

    def due_this_week():
        rows = selectors.fills_due_between(clinic=clinic_a, start=TODAY, end=TODAY + dt.timedelta(days=6))
        return [(r.date, r.plan.patient.name, r.plan.patient.record_number, r.infusate) for r in rows]

    queries, rows = count_queries(due_this_week)
    assert queries == 1
    assert rows
    assert all(TODAY <= date <= TODAY + dt.timedelta(days=6) for date, *_ in rows)

    queries, overdue = count_queries(lambda: list(selectors.overdue_fills(clinic=clinic_a)))
    assert queries == 1
    assert all(r.date < TODAY for r in overdue)


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
