"""Reads of the notices app for staff: who gets what, what was sent, and who a clinic-wide change moved."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from notices.followers import Follower, followers_of
from notices.models import Change, FillWatch, Notice
from patients.models import Clinic, Patient
from schedules.models import ScheduledFill

AFFECTED_DAYS = 30


def patient_followers(patient: Patient) -> list[Follower]:
    return followers_of([patient])[patient.pk]


def patient_notices(patient: Patient, *, limit: int = 100) -> list[Notice]:
    return list(
        Notice.objects.filter(patient=patient).select_related("caregiver").order_by("-due_at", "-pk")[:limit]
    )


def sent_notices(patient: Patient, *, limit: int = 200) -> list[Notice]:
    """Every email sent about this patient, newest first: part of the patient's history."""
    return list(
        Notice.objects.filter(patient=patient, status=Notice.Status.SENT)
        .select_related("caregiver").order_by("-sent_at")[:limit]
    )


@dataclass(frozen=True)
class Affected:
    change: Change
    patient: Patient
    emails: tuple[str, ...]
    sent: int
    waiting: int
    failed: int

    @property
    def must_call(self) -> bool:
        """Nobody was (or will be) emailed: staff call the patient."""
        return self.sent + self.waiting == 0


def affected_patients(*, clinic: Clinic, days: int = AFFECTED_DAYS) -> list[Affected]:
    """Changes the planner announced for this clinic's patients, newest first, with how each was told."""
    since = timezone.now() - dt.timedelta(days=days)
    changes = list(
        Change.objects.filter(clinic=clinic, detected_at__gte=since)
        .select_related("patient__user")
        .annotate(
            sent=Count("notices", filter=Q(notices__status=Notice.Status.SENT)),
            waiting=Count("notices", filter=Q(notices__status__in=[Notice.Status.PENDING, Notice.Status.SENDING])),
            failed=Count("notices", filter=Q(notices__status=Notice.Status.FAILED)),
        )
        .order_by("-detected_at", "patient__name")[:500]
    )
    followers = followers_of({c.patient for c in changes})
    return [
        Affected(c, c.patient, tuple(f.email for f in followers[c.patient_id] if f.email), c.sent, c.waiting,
                 c.failed)
        for c in changes
    ]


TOLD_DAYS = 7  # overdue notices the dashboard lists: of refills due in the last week
TOLD_SHOWN = 10  # the dashboard names the first of them and links to them all (told_notices)
FAILED_DAYS = 14  # failed notices the dashboard names: due in the last two weeks, the newest FAILED_SHOWN
FAILED_SHOWN = 50


def _told_since(today: dt.date) -> Q:
    return Q(kind=Notice.Kind.OVERDUE, fill_date__gte=today - dt.timedelta(days=TOLD_DAYS)) & ~Q(
        status=Notice.Status.CANCELLED
    )


def _failed_since(now: dt.datetime) -> Q:
    return Q(status=Notice.Status.FAILED, due_at__gte=now - dt.timedelta(days=FAILED_DAYS))


def overdue_told(*, clinic: Clinic, today: dt.date) -> list[Notice]:
    """Overdue notices of the last few days at this clinic: the dashboard shows who was told."""
    return list(told_notices(clinic=clinic, today=today))


def told_notices(*, clinic: Clinic, today: dt.date) -> QuerySet[Notice]:
    """Overdue notices of the last TOLD_DAYS at this clinic, by patient name (the whole list: its own page)."""
    return (
        Notice.objects.filter(_told_since(today), patient__clinic=clinic)
        .select_related("patient").order_by("patient__name", "-fill_date", "-pk")
    )


def failed_notices(*, clinic: Clinic) -> list[Notice]:
    """Notices the sender gave up on: staff must reach these people another way."""
    return list(
        Notice.objects.filter(_failed_since(timezone.now()), patient__clinic=clinic)
        .select_related("patient").order_by("-due_at", "-pk")[:FAILED_SHOWN]
    )


def dashboard_notices(*, clinic: Clinic, today: dt.date) -> tuple[list[Notice], int, list[Notice]]:
    """The first TOLD_SHOWN of told_notices(), how many there are, and failed_notices(), in one query (the
    dashboard has a budget of queries; a week of overdue notices at a big clinic is hundreds).

    Told and failed notices are each numbered in their list's order (windows), and only a list's first are
    fetched; the told ones' count comes along as another window. A failed overdue notice is in both lists.
    """
    from django.db.models import BooleanField, Case, ExpressionWrapper, IntegerField, Value, When, Window
    from django.db.models.functions import Least, RowNumber

    told, failed = _told_since(today), _failed_since(timezone.now())
    beyond = Value(TOLD_SHOWN + FAILED_SHOWN + 1)  # the place of a notice that is not in a list
    rows = list(
        Notice.objects.filter(told | failed, patient__clinic=clinic)
        .annotate(
            is_told=ExpressionWrapper(told, output_field=BooleanField()),
            is_failed=ExpressionWrapper(failed, output_field=BooleanField()),
        )
        .annotate(
            told_place=Case(When(told, then=Window(
                RowNumber(), partition_by=[F("is_told")],
                order_by=[F("patient__name"), F("fill_date").desc(), F("pk").desc()])), default=beyond,
                output_field=IntegerField()),
            told_count=Window(Count("pk"), partition_by=[F("is_told")]),
            failed_place=Case(When(failed, then=Window(
                RowNumber(), partition_by=[F("is_failed")], order_by=[F("due_at").desc(), F("pk").desc()])),
                default=beyond, output_field=IntegerField()),
        )
        # In the told list's first TOLD_SHOWN, or the failed list's first FAILED_SHOWN (no OR over windows).
        .annotate(keep=Least(F("told_place") - TOLD_SHOWN, F("failed_place") - FAILED_SHOWN))
        .filter(keep__lte=0)
        .select_related("patient")
        .order_by("patient__name", "-fill_date", "-pk")  # the told list's order (names in the database's collation)
    )
    told_rows = [n for n in rows if n.is_told and n.told_place <= TOLD_SHOWN]
    failed_rows = sorted((n for n in rows if n.is_failed and n.failed_place <= FAILED_SHOWN),
                         key=lambda n: (n.due_at, n.pk), reverse=True)
    return told_rows, (told_rows[0].told_count if told_rows else 0), failed_rows


@dataclass(frozen=True)
class PendingMove:
    patient: Patient
    old_date: dt.date
    new_date: dt.date | None  # None: cancelled
    emails: tuple[str, ...]


def pending_moves(*, clinic: Clinic, limit: int = 500) -> list[PendingMove]:
    """Fills whose date moved (or that were cancelled) since followers were last told: the change notices
    wait for the schedule to be quiet for a few minutes, and staff see the list at once meanwhile."""
    watch = FillWatch.objects.filter(plan=OuterRef("plan"), sequence=OuterRef("sequence"))
    rows = list(
        ScheduledFill.objects.filter(clinic=clinic, recorded=False)
        .annotate(seen_date=Subquery(watch.values("date")[:1]), seen_revision=Subquery(watch.values("revision")[:1]))
        .filter(seen_revision__isnull=False).exclude(seen_revision=F("revision"))
        .filter(Q(active=False) | ~Q(seen_date=F("date")))
        .select_related("plan__patient__user").order_by("plan__patient__name", "sequence")[:limit]
    )
    followers = followers_of({r.plan.patient for r in rows})
    return [
        PendingMove(r.plan.patient, r.seen_date, r.date if r.active else None,
                    tuple(f.email for f in followers[r.plan.patient_id] if f.email and f.wants(Notice.Kind.CHANGE)))
        for r in rows
    ]
