"""Writes that touch schedules. Each runs in one transaction and leaves the stored projection current.

Views and the admin call these; nothing here hides in signals or save(). Every change of an
input of the engine (a recorded fill, a plan, a hold, a clinic's closures, weekdays or
protocol) ends in recompute_plans() for the plans it affects, inside the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from patients.models import Clinic
from schedules import engine
from schedules.models import ClinicClosure, FillKind, Hold, Protocol, RecordedFill, ScheduledFill, TherapyPlan

RECOMPUTE_CHUNK = 500


@dataclass(frozen=True)
class Move:
    """A planned fill that moved when the schedule was recomputed."""

    plan_id: int
    sequence: int
    old_date: dt.date
    new_date: dt.date


@dataclass(frozen=True)
class RecomputeResult:
    plans: int
    moves: tuple[Move, ...]
    created: int
    cancelled: int


def engine_protocol(plan: TherapyPlan) -> engine.Protocol:
    protocol = plan.protocol
    cycles = None if plan.open_ended else (plan.cycle_count or protocol.cycle_count)
    return engine.Protocol(
        first_chemo_after_days=plan.first_chemo_after_days or protocol.first_chemo_after_days,
        cycle=tuple(engine.Step(engine.Infusate(s["infusate"]), s["days"]) for s in protocol.cycle_steps),
        cycles=cycles,
        maintenance=engine.Step(engine.Infusate(protocol.maintenance_infusate), protocol.maintenance_days),
    )


def engine_plan(plan: TherapyPlan) -> engine.Plan:
    patient = plan.patient
    return engine.Plan(
        surgery_date=plan.surgery_date,
        protocol=engine_protocol(plan),
        pump=engine.Pump(float(patient.pump_reservoir_ml), float(patient.pump_flow_ml_per_day)),
        chemo_end=plan.chemo_end_date,
        end_date=plan.end_date,
    )


def clinic_calendar(clinic: Clinic, closures: Iterable[dt.date]) -> engine.ClinicCalendar:
    return engine.ClinicCalendar(
        open_weekdays=clinic.open_weekday_numbers,
        closures=frozenset(closures),
        flow_tolerance=clinic.flow_tolerance_percent / 100,
    )


def engine_recorded(fills: Iterable[RecordedFill]) -> tuple[engine.RecordedFill, ...]:
    def ml(value):
        return None if value is None else float(value)

    return tuple(
        engine.RecordedFill(f.date, engine.Infusate(f.infusate), ml(f.volume_in_ml), ml(f.volume_returned_ml))
        for f in sorted(fills, key=lambda f: f.date)
    )


def project_plan(plan: TherapyPlan, *, calendar: engine.ClinicCalendar, today: dt.date) -> list[engine.Fill]:
    """The engine's fills for a plan whose recorded fills and holds are loaded (or prefetched)."""
    return engine.project(
        engine_plan(plan),
        calendar,
        today=today,
        recorded=engine_recorded(plan.recorded_fills.all()),
        holds=frozenset(h.key for h in plan.holds.all()),
        horizon_days=settings.SCHEDULE_HORIZON_DAYS,
    )


def _row_values(fill: engine.Fill, appointment_time: dt.time | None) -> dict:
    flow = fill.measured_flow_ml_per_day
    return {
        "date": fill.date,
        "infusate": fill.infusate.value,
        "kind": fill.kind.value,
        "cycle": fill.cycle,
        "phase_days": fill.phase_days,
        "phase_end": fill.phase_end,
        "recorded": fill.recorded,
        "appointment_time": appointment_time if fill.recorded else None,
        "held": fill.held,
        "moved_from": fill.moved_from,
        "closed_day": fill.closed_day,
        "capacity_warning": fill.capacity_warning,
        "measured_flow_ml_per_day": None if flow is None else round(flow, 2),
        "flow_deviation": fill.flow_deviation,
        "active": True,
    }


@transaction.atomic
def recompute_plans(plans: Iterable[TherapyPlan]) -> RecomputeResult:
    """Bring the stored projection of these plans up to date with their inputs.

    Works in chunks with prefetched inputs and bulk writes, so a clinic-wide change (closures,
    protocol) recomputes thousands of plans in a few queries per chunk.
    """
    plan_ids = [p.pk for p in plans]
    moves: list[Move] = []
    created = cancelled = 0
    now = timezone.now()
    closures_by_clinic: dict[int, engine.ClinicCalendar] = {}
    for start in range(0, len(plan_ids), RECOMPUTE_CHUNK):
        # Lock the plans (in pk order) before reading their inputs: a fill recorded meanwhile waits,
        # rather than being overwritten by a projection computed without it.
        chunk = (
            TherapyPlan.objects.filter(pk__in=plan_ids[start : start + RECOMPUTE_CHUNK])
            .select_for_update(of=("self",))
            .order_by("pk")
            .select_related("patient__clinic", "protocol")
            .prefetch_related("recorded_fills", "holds", "scheduled_fills")
        )
        to_create: list[ScheduledFill] = []
        to_update: list[ScheduledFill] = []
        projected_on: dict[dt.date, list[int]] = {}
        for plan in chunk:
            clinic = plan.patient.clinic
            if clinic.pk not in closures_by_clinic:
                closures = clinic.closures.values_list("date", flat=True)
                closures_by_clinic[clinic.pk] = clinic_calendar(clinic, closures)
            today = clinic.today()
            projected_on.setdefault(today, []).append(plan.pk)
            fills = project_plan(plan, calendar=closures_by_clinic[clinic.pk], today=today)
            existing = {row.sequence: row for row in plan.scheduled_fills.all()}
            times = {f.date: f.appointment_time for f in plan.recorded_fills.all()}
            for fill in fills:
                values = _row_values(fill, times.get(fill.date))
                row = existing.pop(fill.sequence, None)
                if row is None:
                    to_create.append(
                        ScheduledFill(plan=plan, clinic=clinic, sequence=fill.sequence, changed_at=now, **values)
                    )
                    continue
                changed = [name for name, value in values.items() if getattr(row, name) != value]
                if not changed and row.clinic_id == clinic.pk:
                    continue
                if "date" in changed and row.active and not fill.recorded:
                    moves.append(Move(plan.pk, fill.sequence, row.date, fill.date))
                for name, value in values.items():
                    setattr(row, name, value)
                row.clinic = clinic
                row.revision += 1
                row.changed_at = now
                to_update.append(row)
            # Fills the plan no longer has (therapy ended, fewer cycles) stay, inactive, for the feeds.
            for row in existing.values():
                if row.active:
                    row.active = False
                    row.revision += 1
                    row.changed_at = now
                    to_update.append(row)
                    cancelled += 1
        ScheduledFill.objects.bulk_create(to_create, batch_size=1000)
        ScheduledFill.objects.bulk_update(
            to_update, [*ScheduledFill.PROJECTED_FIELDS, "clinic", "revision", "changed_at"], batch_size=1000
        )
        for day, ids in projected_on.items():
            TherapyPlan.objects.filter(pk__in=ids).update(projected_on=day)
        created += len(to_create)
    return RecomputeResult(plans=len(plan_ids), moves=tuple(moves), created=created, cancelled=cancelled)


def _locked(plan: TherapyPlan) -> TherapyPlan:
    """Lock the plan row: writes to one plan (two nurses, a double click) run one after the other."""
    return TherapyPlan.objects.select_for_update().select_related("patient__clinic", "protocol").get(pk=plan.pk)


@transaction.atomic
def plan_save(*, plan: TherapyPlan) -> RecomputeResult:
    """Save a new or edited plan (surgery date, protocol, overrides) and recompute it."""
    plan.full_clean()
    plan.save()
    return recompute_plans([plan])


@transaction.atomic
def fill_record(
    *,
    plan: TherapyPlan,
    date: dt.date,
    infusate: str,
    by,
    appointment_time: dt.time | None = None,
    volume_in_ml=None,
    volume_returned_ml=None,
    note: str = "",
) -> tuple[RecordedFill, RecomputeResult]:
    """Record a fill that happened. The database refuses a second fill of the same plan on the same day."""
    plan = _locked(plan)
    fill = RecordedFill(
        plan=plan,
        date=date,
        infusate=infusate,
        appointment_time=appointment_time,
        volume_in_ml=volume_in_ml,
        volume_returned_ml=volume_returned_ml,
        note=note,
        recorded_by=by,
    )
    fill.full_clean()
    fill.save()
    return fill, recompute_plans([plan])


@transaction.atomic
def fill_correct(*, fill: RecordedFill, by, **changes) -> RecomputeResult:
    """Correct a recorded fill. Its history (django-simple-history) keeps the old values and who changed them."""
    plan = _locked(fill.plan)
    for name, value in changes.items():
        setattr(fill, name, value)
    fill._change_reason = "corrected"
    fill._history_user = by  # also right outside a request (a management command, the shell)
    fill.full_clean()
    fill.save()
    return recompute_plans([plan])


@transaction.atomic
def hold_add(*, plan: TherapyPlan, sequence: int, reason: str, by) -> tuple[Hold, RecomputeResult]:
    """Hold the planned chemo fill that is the plan's fill number `sequence` now."""
    plan = _locked(plan)
    row = ScheduledFill.objects.filter(
        plan=plan, sequence=sequence, active=True, recorded=False, kind=FillKind.CHEMO
    ).first()
    if row is None:  # recorded, moved or recomputed since the page was shown
        raise ValidationError("That fill is no longer a planned chemo fill: look at the schedule again.")
    held_before = ScheduledFill.objects.filter(
        plan=plan, active=True, kind=FillKind.HELD, cycle=row.cycle, sequence__lt=sequence
    ).count()
    hold = Hold(
        plan=plan, cycle=row.cycle, attempt=held_before + 1, planned_date=row.date, reason=reason, created_by=by
    )
    hold.full_clean()
    hold.save()
    return hold, recompute_plans([plan])


def holds_by_sequence(fills: Iterable[ScheduledFill], holds: Iterable[Hold]) -> dict[int, Hold]:
    """Which planned held fill each hold is on: the attempt-th held fill of its cycle."""
    by_key = {hold.key: hold for hold in holds}
    attempts: dict[int, int] = {}
    placed = {}
    for fill in sorted(fills, key=lambda f: f.sequence):
        if fill.kind == FillKind.HELD:
            attempts[fill.cycle] = attempts.get(fill.cycle, 0) + 1
            hold = by_key.get((fill.cycle, attempts[fill.cycle]))
            if hold is not None and not fill.recorded:
                placed[fill.sequence] = hold
    return placed


@transaction.atomic
def hold_remove(*, hold: Hold) -> RecomputeResult:
    plan = _locked(hold.plan)
    hold.delete()
    return recompute_plans([plan])


@transaction.atomic
def therapy_end(*, plan: TherapyPlan, end_date: dt.date, reason: str, note: str = "") -> RecomputeResult:
    """S8: the reason says which end. Chemotherapy ends (the pump stays in: maintenance refills from the
    next fill) or the therapy is over (pump removed, care moved, death: nothing planned after the date)."""
    plan = _locked(plan)
    if reason in TherapyPlan.CHEMO_ENDS:
        plan.chemo_end_date, plan.chemo_end_reason, plan.chemo_end_note = end_date, reason, note
    else:
        plan.status = TherapyPlan.Status.ENDED
        plan.end_date, plan.end_reason, plan.end_note = end_date, reason, note
    plan.full_clean()
    plan.save()
    return recompute_plans([plan])


@transaction.atomic
def therapy_reopen(*, plan: TherapyPlan) -> RecomputeResult:
    """Undo the latest end: a therapy that is over becomes active again (its chemotherapy end, if any,
    stays); otherwise an ended chemotherapy resumes."""
    plan = _locked(plan)
    if plan.status == TherapyPlan.Status.ENDED:
        plan.status = TherapyPlan.Status.ACTIVE
        plan.end_date, plan.end_reason, plan.end_note = None, "", ""
    else:
        plan.chemo_end_date, plan.chemo_end_reason, plan.chemo_end_note = None, "", ""
    plan.save()
    return recompute_plans([plan])


def clinic_plans(clinic: Clinic):
    return TherapyPlan.objects.filter(patient__clinic=clinic)


@transaction.atomic
def clinic_recompute(*, clinic: Clinic) -> RecomputeResult:
    """After a clinic's closures, open weekdays, tolerance or protocols change: every plan of the clinic."""
    return recompute_plans(list(clinic_plans(clinic).only("pk")))


@transaction.atomic
def protocol_save(*, protocol: Protocol) -> RecomputeResult:
    protocol.full_clean()
    protocol.save()
    return recompute_plans(list(protocol.plans.only("pk")))


# --- Clinic staff pages (issue 4) ---


class FillAlreadyRecorded(Exception):
    """The fill a form was recording has been recorded since (a double submit, two nurses at once)."""


@transaction.atomic
def fill_record_expected(*, plan: TherapyPlan, sequence: int | None, **fields) -> tuple[RecordedFill, RecomputeResult]:
    """Record the fill the form was opened for (``sequence``), unless someone recorded it meanwhile.

    The plan row lock serialises two submits of one plan: the second waits for the first to commit and
    then sees that fill recorded. A form for an extra visit (no sequence) only has the one-per-day rule.
    """
    plan = _locked(plan)
    if sequence is not None and ScheduledFill.objects.filter(plan=plan, sequence=sequence, recorded=True).exists():
        raise FillAlreadyRecorded
    return fill_record(plan=plan, **fields)


@transaction.atomic
def patient_save(*, patient, plan: TherapyPlan) -> RecomputeResult:
    """Save a new or edited patient with their plan, and recompute the plan (pump or plan may have changed)."""
    patient.full_clean()
    patient.save()
    plan.patient = patient
    return plan_save(plan=plan)


def plan_preview(*, plan: TherapyPlan, clinic: Clinic, count: int = 8) -> list[engine.Fill]:
    """The first fills an unsaved plan would produce, from today's clinic calendar and the plan's recorded fills."""
    calendar = clinic_calendar(clinic, clinic.closures.values_list("date", flat=True))
    recorded: tuple[engine.RecordedFill, ...] = ()
    holds: frozenset[tuple[int, int]] = frozenset()
    if plan.pk:
        recorded = engine_recorded(RecordedFill.objects.filter(plan_id=plan.pk))
        holds = frozenset(h.key for h in Hold.objects.filter(plan_id=plan.pk))
    fills = engine.project(
        engine_plan(plan),
        calendar,
        today=clinic.today(),
        recorded=recorded,
        holds=holds,
        horizon_days=settings.SCHEDULE_HORIZON_DAYS,
    )
    return fills[:count]


@transaction.atomic
def clinic_settings_save(*, clinic: Clinic) -> RecomputeResult:
    """Save a clinic's open weekdays, tolerance or default protocol, and recompute every plan of the clinic."""
    clinic.full_clean()
    clinic.save()
    return clinic_recompute(clinic=clinic)


class ClosuresChanged(Exception):
    """Someone else added one of these closure dates at the same moment: nothing was added."""


@transaction.atomic
def closures_add(*, clinic: Clinic, days: dict[dt.date, str], by=None) -> tuple[int, RecomputeResult]:
    """Add closure dates (date -> name); dates already closed are kept as they are. Returns how many were new.

    Two staff adding the same date at once: the clinic's row is locked first, so on PostgreSQL the second
    waits and then finds the date closed; where rows cannot be locked (SQLite) the unique constraint stops
    the second insert and ClosuresChanged says so.
    """
    Clinic.objects.select_for_update().filter(pk=clinic.pk).exists()
    existing = set(clinic.closures.filter(date__in=list(days)).values_list("date", flat=True))
    new = [ClinicClosure(clinic=clinic, date=day, name=name[:100]) for day, name in sorted(days.items())
           if day not in existing]
    try:
        with transaction.atomic():
            # bulk_create skips save(): this keeps the audit trail of each new closure all the same.
            bulk_create_with_history(new, ClinicClosure, default_user=by)
    except IntegrityError:
        raise ClosuresChanged from None
    return len(new), clinic_recompute(clinic=clinic)


@transaction.atomic
def closure_remove(*, closure) -> RecomputeResult:
    clinic = closure.clinic
    closure.delete()
    return clinic_recompute(clinic=clinic)
