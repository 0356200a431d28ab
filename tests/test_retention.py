"""Retention (issue 13): `manage.py prune` deletes what the documented rules let go, and --dry-run nothing."""

import datetime as dt
from io import StringIO

from django.core.management import call_command

from notices.models import Change, Notice
from patients.models import AccessEvent
from schedules import services
from schedules.models import ScheduledFill
from tests.conftest import NOW, TODAY


def prune(*args) -> str:
    out = StringIO()
    call_command("prune", *args, stdout=out)
    return out.getvalue()


def test_feed_fetches_go_after_a_year_other_access_events_after_six(patient_a, staff_a):
    def event(action, days_ago):
        return AccessEvent.objects.create(
            patient=patient_a, user=staff_a, action=action, at=NOW - dt.timedelta(days=days_ago)
        ).pk

    kept = {event(AccessEvent.Action.FEED, 300), event(AccessEvent.Action.VIEW, 400),
            event(AccessEvent.Action.EXPORT, 6 * 365 - 1)}
    gone = {event(AccessEvent.Action.FEED, 366), event(AccessEvent.Action.VIEW, 6 * 365 + 1)}
    before = set(AccessEvent.objects.values_list("pk", flat=True))
    assert "prune_access_events: would delete 2 rows" in prune("--dry-run")
    assert set(AccessEvent.objects.values_list("pk", flat=True)) == before  # a dry run deletes nothing
    assert "prune_access_events: deleted 2 rows" in prune()
    left = set(AccessEvent.objects.values_list("pk", flat=True))
    assert kept <= left and not gone & left


def test_cancelled_fills_go_90_days_after_they_were_cancelled_and_past(patient_a, time_machine):
    services.therapy_end(plan=patient_a.plan, end_date=TODAY, reason="pump_removed")
    cancelled = ScheduledFill.objects.filter(plan=patient_a.plan, active=False)
    active = set(ScheduledFill.objects.filter(plan=patient_a.plan, active=True).values_list("pk", flat=True))
    assert cancelled.exists() and active
    time_machine.move_to(NOW + dt.timedelta(days=60), tick=False)
    assert "prune_inactive_fills: deleted 0 rows" in prune()  # too recent
    dates = sorted(cancelled.values_list("date", flat=True))
    time_machine.move_to(dt.datetime.combine(dates[0], dt.time(12), dt.UTC) + dt.timedelta(days=91), tick=False)
    output = prune()
    assert "prune_inactive_fills: deleted 1 rows" in output  # only the first is 90 days past its date
    assert set(ScheduledFill.objects.filter(plan=patient_a.plan, active=True).values_list("pk", flat=True)) == active
    assert sorted(cancelled.values_list("date", flat=True)) == dates[1:]


def test_finished_notices_go_two_years_after_their_refill_with_the_changes_they_told(patient_a):
    plan = patient_a.plan
    made = iter(range(1, 100))

    def change(days_ago):
        return Change.objects.create(clinic=patient_a.clinic, patient=patient_a, plan=plan, sequence=next(made),
                                     revision=1, detected_at=NOW - dt.timedelta(days=days_ago))

    def notice(days_ago, status, *, about=None):
        at = NOW - dt.timedelta(days=days_ago)
        kind = Notice.Kind.CHANGE if about else Notice.Kind.REMINDER
        row = Notice.objects.create(patient=patient_a, recipient_key="patient", plan=plan, sequence=next(made),
                                    fill_date=at.date(), kind=kind, due_at=at, status=status, change=about)
        Notice.objects.filter(pk=row.pk).update(created_at=at)
        return row.pk

    told, still_sending = change(800), change(800)
    gone = {notice(731, Notice.Status.SENT), notice(900, Notice.Status.CANCELLED), notice(800, "failed", about=told)}
    kept = {notice(729, Notice.Status.SENT), notice(800, Notice.Status.PENDING, about=still_sending),
            notice(10, Notice.Status.SENT, about=change(10))}
    assert "prune_notices: would delete 4 rows" in prune("--dry-run")  # three notices, one change
    assert Notice.objects.count() == 6 and Change.objects.count() == 3
    assert "prune_notices: deleted 4 rows" in prune()
    assert set(Notice.objects.values_list("pk", flat=True)) == kept and not gone & kept
    # The change whose notice is still being sent stays, and the recent one; the old one told of is gone.
    assert set(Change.objects.values_list("detected_at", flat=True)) == {
        NOW - dt.timedelta(days=800), NOW - dt.timedelta(days=10)
    }
    assert not Change.objects.filter(pk=told.pk).exists()
