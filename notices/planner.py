"""The notices planner: one unit of work per call, turning the stored projection into notice rows.

It never touches the write path. Every input change already goes through schedules/services.py, which
stores the projection as ScheduledFill rows whose ``revision`` rises with each change. The planner
compares each upcoming fill with what it last saw (FillWatch) once the patient's rows have been quiet
for NOTICES_QUIET_MINUTES, so a nurse fixing a mistake makes one notice, and a change undone in time
compares equal and sends nothing. Reminders and overdue notices are made shortly before they are due,
from the current rows and preferences, so a new caregiver or a changed preference needs no replanning.

Safe to run in several processes at once: every notice and change has a uniqueness rule, and rows are
created with ``ignore_conflicts``, so a second planner seeing the same thing adds nothing.
"""

import datetime as dt
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from notices.followers import followers_of
from notices.models import Change, FillWatch, Notice
from patients.models import Clinic
from schedules.models import ClinicClosure, FillKind, ScheduledFill, TherapyPlan
from schedules.selectors import planned_fills

logger = logging.getLogger(__name__)

CHANGE_WINDOW_DAYS = 28  # followers hear of changes to fills in the next four weeks
WATCH_DAYS = 56  # fills watched: a fill moving into the four weeks from further than this is not announced
SEND_HOUR = 9  # reminders and overdue notices: 09:00 in the clinic's zone
# A reminder whose 09:00 passed while no worker ran still goes out that morning, not later.
REMINDER_GRACE = dt.timedelta(hours=3)
DAILY_PASS_SECONDS = 600
LOOKBACK = dt.timedelta(days=2)
PLANS_PER_TRANSACTION = 50
DAY_STARTS, DAY_ENDS = 8, 20  # change notices wait for the morning outside 08:00-20:00 local


def local_time(clinic: Clinic, day: dt.date, hour: int) -> dt.datetime:
    """``hour``:00 on ``day`` in the clinic's zone (zoneinfo resolves the UTC offset of that day: DST-safe)."""
    return dt.datetime.combine(day, dt.time(hour), tzinfo=clinic.zone)


def daytime(clinic: Clinic, when: dt.datetime) -> dt.datetime:
    """``when`` if it is daytime at the clinic, else the next 08:00 there: no email wakes anyone at night."""
    if settings.NOTICES_SEND_NOW:
        return when
    local = when.astimezone(clinic.zone)
    if DAY_STARTS <= local.hour < DAY_ENDS:
        return when
    day = local.date() if local.hour < DAY_STARTS else local.date() + dt.timedelta(days=1)
    return local_time(clinic, day, DAY_STARTS)


def plan_notices(*, limit: int = 200, now: dt.datetime | None = None) -> int:
    """Plan what is due: change notices, reminders, overdue notices. Returns how many notices were made."""
    now = now or timezone.now()
    made = plan_changes(limit=limit, now=now)
    for clinic in Clinic.objects.all():
        # Reminders are made a day ahead: one pass per clinic every few minutes is plenty, shared by every
        # worker through the cache (Redis in production), rather than reading a clinic's week at each turn.
        if cache.add(f"notices:daily-pass:{clinic.pk}", True, timeout=DAILY_PASS_SECONDS):
            made += plan_reminders(clinic=clinic, now=now) + plan_overdue(clinic=clinic, now=now)
    return made


# --- Changes ---


def _stale_filter() -> Q:
    """Plans whose stored projection is current. A clinic-wide change may leave plans to the worker's
    recompute (schedules.jobs: projected_version behind inputs_version); their rows are not yet the new
    schedule, so the planner waits for them rather than announce a half-done change."""
    field_names = {f.name for f in TherapyPlan._meta.get_fields()}
    if "inputs_version" in field_names:
        return Q(plan__projected_version__gte=F("plan__inputs_version"))
    return Q()


def _watch_range(now: dt.datetime) -> tuple[dt.date, dt.date]:
    """The dates of fills the planner watches. "Today" differs by clinic; a day either side of UTC's covers
    every zone, and the same range both picks and watches fills, so no fill is picked again and again."""
    return (now - dt.timedelta(days=1)).date(), (now + dt.timedelta(days=WATCH_DAYS + 1)).date()


def changed_plans(*, now: dt.datetime, limit: int) -> list[int]:
    """Plans with a fill the planner has not seen in its current revision, quiet for the last few minutes.

    Two narrow questions rather than one over the whole projection (this runs at every worker turn): upcoming
    fills not watched yet (the partial index of planned fills by date), and fills changed lately whose watch
    has another revision.
    """
    quiet_since = now - dt.timedelta(minutes=settings.NOTICES_QUIET_MINUTES)
    earliest, latest = _watch_range(now)
    watch = FillWatch.objects.filter(plan=OuterRef("plan"), sequence=OuterRef("sequence"))
    rows = ScheduledFill.objects.exclude(kind=FillKind.IMPLANT).filter(_stale_filter())
    unseen = rows.filter(active=True, recorded=False, date__range=(earliest, latest)).exclude(Exists(watch))
    # Changed lately: older changes were seen already, unless the planner was down for longer than LOOKBACK.
    changed = rows.filter(changed_at__gte=now - LOOKBACK).filter(Exists(watch.exclude(revision=OuterRef("revision"))))
    candidates = sorted(
        set(unseen.values_list("plan_id", flat=True).distinct())
        | set(changed.values_list("plan_id", flat=True).distinct())
    )
    ready: list[int] = []
    for start in range(0, len(candidates), 500):
        chunk = candidates[start : start + 500]
        busy = set(
            ScheduledFill.objects.filter(plan_id__in=chunk, changed_at__gt=quiet_since)
            .values_list("plan_id", flat=True)
        )
        ready += [plan_id for plan_id in chunk if plan_id not in busy]
        if len(ready) >= limit:
            break
    return ready[:limit]


def plan_changes(*, limit: int, now: dt.datetime) -> int:
    made = 0
    plan_ids = changed_plans(now=now, limit=limit)
    # A few dozen plans per transaction: one commit (an fsync) per plan would dominate a clinic-wide change.
    for start in range(0, len(plan_ids), PLANS_PER_TRANSACTION):
        with transaction.atomic():
            for plan_id in plan_ids[start : start + PLANS_PER_TRANSACTION]:
                made += _plan_changes_of(plan_id, now=now)
    FillWatch.objects.filter(date__lt=(now - dt.timedelta(days=7)).date()).delete()
    return made


def _reason(row: ScheduledFill, watch: FillWatch, *, plan: TherapyPlan, closed: set[dt.date],
            newly_recorded: list[ScheduledFill], lines: list[dict]) -> dict:
    """Why a fill changed, as a code and a date that notices.wording puts in plain words for each reader."""
    if not row.active:
        if plan.status != TherapyPlan.Status.ENDED:
            return {"reason": "plan"}
        return {"reason": "moved_care" if plan.end_reason == TherapyPlan.EndReason.MOVED_CARE else "ended"}
    if watch.date != row.date and watch.date in closed:
        return {"reason": "closed", "reason_date": watch.date.isoformat()}
    before = [r for r in newly_recorded if r.sequence < row.sequence]
    if before:
        return {"reason": "recorded", "reason_date": before[-1].date.isoformat()}
    if any(line["what"] == "moved" for line in lines):
        return {"reason": "follows"}  # each visit is planned from the one before it
    if row.moved_from is not None:
        return {"reason": "closed", "reason_date": row.moved_from.isoformat()}
    return {"reason": "clinic"}


def _closed_days(clinic: Clinic, days: set[dt.date]) -> set[dt.date]:
    """Which of these days the clinic is closed now (a closure, or not an open weekday)."""
    closures = set(ClinicClosure.objects.filter(clinic=clinic, date__in=days).values_list("date", flat=True))
    return {d for d in days if d in closures or d.weekday() not in clinic.open_weekday_numbers}


@transaction.atomic
def _plan_changes_of(plan_id: int, *, now: dt.datetime) -> int:
    # The plan's row lock, as services take it: two planners take turns on a plan, and a write to it waits.
    plan = (
        TherapyPlan.objects.select_for_update(of=("self",))
        .select_related("patient__clinic", "patient__user").get(pk=plan_id)
    )
    clinic = plan.patient.clinic
    today = clinic.today()
    rows = list(
        ScheduledFill.objects.filter(plan=plan).exclude(kind=FillKind.IMPLANT).filter(
            Q(date__gte=today - dt.timedelta(days=7))
            | Q(sequence__in=FillWatch.objects.filter(plan=plan).values("sequence"))
        ).order_by("sequence")
    )
    watches = {w.sequence: w for w in FillWatch.objects.filter(plan=plan)}
    # Refills recorded in the same recompute as the changes seen now: the usual cause of a move (late, early).
    changed = [r.changed_at for r in rows if r.sequence in watches and watches[r.sequence].revision != r.revision]
    newly_recorded = [r for r in rows if r.recorded and changed and r.changed_at >= min(changed)]
    window_end = today + dt.timedelta(days=CHANGE_WINDOW_DAYS)
    earliest, latest = _watch_range(now)
    closed = _closed_days(clinic, {w.date for w in watches.values()})
    lines, first, new_watches = [], None, []
    stale_reminders = Q(pk__in=[])
    for row in rows:
        watch = watches.get(row.sequence)
        if watch is None:
            if row.active and not row.recorded and earliest <= row.date <= latest:
                new_watches.append(FillWatch(plan=plan, sequence=row.sequence, date=row.date, held=row.held,
                                             active=True, revision=row.revision))
            continue
        if watch.revision == row.revision:
            continue
        if row.recorded:  # given: nothing to announce; its reminders are moot
            stale_reminders |= Q(sequence=row.sequence)
            watch.delete()
            continue
        announced = (watch.date, watch.held, watch.active) != (row.date, row.held, row.active)
        in_window = today <= watch.date <= window_end or (row.active and today <= row.date <= window_end)
        if announced and in_window and watch.active:
            lines.append({
                "sequence": row.sequence,
                "old_date": watch.date.isoformat(),
                "new_date": row.date.isoformat() if row.active else None,
                "what": _what(watch, row),
                **_reason(row, watch, plan=plan, closed=closed, newly_recorded=newly_recorded, lines=lines),
            })
            first = first or row
        if announced:
            stale_reminders |= Q(sequence=row.sequence) & (~Q(fill_date=row.date) if row.active else Q())
        if row.active:
            watch.date, watch.held, watch.active, watch.revision = row.date, row.held, True, row.revision
            watch.save()
        else:
            watch.delete()
    FillWatch.objects.bulk_create(new_watches)
    # A reminder for a date the fill left, or a fill that no longer happens, is never sent.
    Notice.objects.filter(stale_reminders, plan=plan, kind__in=[Notice.Kind.REMINDER, Notice.Kind.OVERDUE],
                          status=Notice.Status.PENDING).update(status=Notice.Status.CANCELLED)
    # After a death nobody is emailed about cancelled visits: staff speak to the family.
    if not lines or (plan.status == TherapyPlan.Status.ENDED and plan.end_reason == TherapyPlan.EndReason.DEATH):
        return 0
    change, created = Change.objects.get_or_create(
        plan=plan, sequence=first.sequence, revision=first.revision,
        defaults={"clinic": clinic, "patient": plan.patient, "lines": lines, "detected_at": now},
    )
    if not created:
        return 0
    due_at = daytime(clinic, now)
    notices = [
        Notice(patient=plan.patient, recipient_key=f.key, caregiver=f.caregiver, plan=plan, sequence=first.sequence,
               fill_date=first.date, kind=Notice.Kind.CHANGE, fill_revision=first.revision, change=change,
               due_at=due_at)
        for f in followers_of([plan.patient])[plan.patient.pk]
        if f.wants(Notice.Kind.CHANGE)
    ]
    Notice.objects.bulk_create(notices, ignore_conflicts=True)
    return len(notices)


def _what(watch: FillWatch, row: ScheduledFill) -> str:
    if not row.active:
        return "cancelled"
    if watch.date != row.date:
        return "moved"
    return "held" if row.held else "unheld"


# --- Reminders and overdue notices, made shortly before they are due ---


def _missing(notices: list[Notice]) -> list[Notice]:
    """The notices of this list not yet made (one query), so the count of new ones is exact."""
    if not notices:
        return []
    existing = set(
        Notice.objects.filter(
            plan_id__in={n.plan_id for n in notices}, kind=notices[0].kind,
            fill_date__in={n.fill_date for n in notices},
        ).values_list("recipient_key", "plan_id", "sequence", "fill_date", "days_before")
    )
    return [n for n in notices
            if (n.recipient_key, n.plan_id, n.sequence, n.fill_date, n.days_before) not in existing]


def _create(notices: list[Notice]) -> int:
    new = _missing(notices)
    Notice.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)
    return len(new)


def plan_reminders(*, clinic: Clinic, now: dt.datetime) -> int:
    """Reminders due at 09:00 today (until noon) or tomorrow, for each follower who wants them."""
    today = clinic.today()
    fills = list(
        planned_fills().filter(clinic=clinic, date__range=(today + dt.timedelta(days=1), today + dt.timedelta(days=8)))
        .filter(_stale_filter()).select_related("plan__patient__user")
    )
    followers = followers_of({f.plan.patient for f in fills})
    notices = []
    for fill in fills:
        for follower in followers[fill.plan.patient_id]:
            if not follower.wants(Notice.Kind.REMINDER):
                continue
            for days in follower.preference.reminder_days():
                due_day = fill.date - dt.timedelta(days=days)
                due_at = local_time(clinic, due_day, SEND_HOUR)
                in_time = now < due_at + REMINDER_GRACE or settings.NOTICES_SEND_NOW
                if due_day in (today, today + dt.timedelta(days=1)) and in_time:
                    if settings.NOTICES_SEND_NOW:  # the local demo: show it now rather than at 09:00
                        due_at = min(due_at, now)
                    notices.append(Notice(
                        patient=fill.plan.patient, recipient_key=follower.key, caregiver=follower.caregiver,
                        plan_id=fill.plan_id, sequence=fill.sequence, fill_date=fill.date,
                        kind=Notice.Kind.REMINDER, days_before=days, due_at=due_at,
                    ))
    return _create(notices)


def plan_overdue(*, clinic: Clinic, now: dt.datetime) -> int:
    """The morning after a planned refill passed with nothing recorded (S10): tell the patient to call."""
    today = clinic.today()
    fills = list(
        planned_fills().filter(clinic=clinic, date__range=(today - dt.timedelta(days=2), today - dt.timedelta(days=1)))
        .select_related("plan__patient__user")
    )
    followers = followers_of({f.plan.patient for f in fills})
    due_at = daytime(clinic, max(now, local_time(clinic, today, SEND_HOUR)))
    notices = [
        Notice(patient=fill.plan.patient, recipient_key=follower.key, caregiver=follower.caregiver,
               plan_id=fill.plan_id, sequence=fill.sequence, fill_date=fill.date, kind=Notice.Kind.OVERDUE,
               due_at=due_at)
        for fill in fills
        for follower in followers[fill.plan.patient_id]
        if follower.wants(Notice.Kind.OVERDUE)
    ]
    return _create(notices)
