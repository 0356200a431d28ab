"""Writes that touch schedules. Each runs in one transaction and leaves the stored projection current.

Views and the admin call these; nothing here hides in signals or save(). A change of one plan's
inputs (a recorded fill, the plan, a hold, the end of therapy) recomputes that plan inside the same
transaction. A clinic-wide change (closures, open weekdays, tolerance, a protocol) only marks the
clinic's plans out of date, in one UPDATE, and returns at once: the worker (schedules.jobs) recomputes
them in short transactions, and pages say the schedule is being updated meanwhile.

Each write opens `with transaction.atomic():` around its whole body rather than wearing the decorator: the
same transaction, but mutmut (`make mutation`) skips decorated functions, and these are the writes whose
tests its score should judge.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import pickle
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from operator import attrgetter, itemgetter
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, router, transaction
from django.db.models import CharField, DecimalField, Exists, F, OuterRef, Q, TimeField, Value
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from patients.models import Clinic
from schedules import engine
from schedules.models import ClinicClosure, FillKind, Hold, Protocol, RecordedFill, ScheduledFill, TherapyPlan

# Plans per transaction when many are recomputed: each chunk holds its plans' locks for well under a second.
RECOMPUTE_CHUNK = 250
# Changed rows per UPDATE statement (PostgreSQL) or executemany call (SQLite) in _update_rows.
UPDATE_BATCH = 2000


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
    return _engine_protocol(plan.protocol, plan.first_chemo_after_days, plan.cycle_count, plan.open_ended)


def _engine_protocol(protocol: Protocol, first_chemo_after_days: int | None, cycle_count: int | None,
                     open_ended: bool) -> engine.Protocol:
    """The engine's protocol: the clinic's protocol with the plan's overrides."""
    cycles = None if open_ended else (cycle_count or protocol.cycle_count)
    return engine.Protocol(
        first_chemo_after_days=first_chemo_after_days or protocol.first_chemo_after_days,
        cycle=tuple(engine.Step(engine.Infusate(s["infusate"]), s["days"]) for s in protocol.cycle_steps),
        cycles=cycles,
        maintenance=engine.Step(engine.Infusate(protocol.maintenance_infusate), protocol.maintenance_days),
    )


def engine_plan(plan: TherapyPlan, *, protocol: engine.Protocol | None = None) -> engine.Plan:
    """The engine's plan; `protocol` when the caller has built engine_protocol(plan) already (many plans)."""
    patient = plan.patient
    return engine.Plan(
        surgery_date=plan.surgery_date,
        protocol=protocol or engine_protocol(plan),
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
    return tuple(
        engine.RecordedFill(f.date, engine.Infusate(f.infusate), _ml(f.volume_in_ml), _ml(f.volume_returned_ml))
        for f in sorted(fills, key=lambda f: f.date)
    )


# ScheduledFill.PROJECTED_FIELDS in order: a stored row and a fresh one compare as one tuple each.
_PROJECTED = (
    "date", "infusate", "kind", "cycle", "phase_days", "phase_end", "recorded", "appointment_time", "held",
    "moved_from", "closed_day", "capacity_warning", "measured_flow_ml_per_day", "flow_deviation",
    "previous_deviating_flow", "active",
)
assert ScheduledFill.PROJECTED_FIELDS == _PROJECTED, "keep _projected() in the order of PROJECTED_FIELDS"
_DATE, _RECORDED, _FLOW, _FLOW_DEVIATION, _ACTIVE = (
    _PROJECTED.index(name) for name in ("date", "recorded", "measured_flow_ml_per_day", "flow_deviation", "active")
)
_UPDATED_FIELDS = [*_PROJECTED, "clinic", "revision", "changed_at"]


def _projected(fill: engine.Fill, appointment_time: dt.time | None, previous: tuple | None) -> tuple:
    """The stored values of one engine fill, as the tuple ScheduledFill.values_list(*PROJECTED_FIELDS) reads;
    `previous`: those of the fill before it (None for the first)."""
    flow = fill.measured_flow_ml_per_day
    deviating = None
    if previous is not None and previous[_RECORDED] and previous[_FLOW_DEVIATION]:
        deviating = previous[_FLOW]
    return (  # _value_: the enum's value without its descriptor (a hot loop: every fill of every plan)
        fill.date, fill.infusate._value_, fill.kind._value_, fill.cycle, fill.phase_days, fill.phase_end,
        fill.recorded, appointment_time if fill.recorded else None, fill.held, fill.moved_from, fill.closed_day,
        fill.capacity_warning, None if flow is None else round(flow, 2), fill.flow_deviation, deviating, True,
    )


def _ml(value) -> float | None:
    return None if value is None else float(value)


def recompute_plans(plans: Iterable[TherapyPlan | int]) -> RecomputeResult:
    """Bring the stored projection of these plans (or plan ids) up to date with their inputs.

    Locks the plans chunk by chunk (in pk order) before reading their inputs, so a fill recorded meanwhile
    waits rather than being overwritten by a projection computed without it. Inside a transaction when
    called in one (the services), else one transaction per chunk.
    """
    plan_ids = sorted({p if isinstance(p, int) else p.pk for p in plans})
    results = []
    for start in range(0, len(plan_ids), RECOMPUTE_CHUNK):
        with transaction.atomic():
            chunk_ids = plan_ids[start : start + RECOMPUTE_CHUNK]
            ids = _lock_rows(TherapyPlan.objects.filter(pk__in=chunk_ids).order_by("pk"))
            # Read after the lock, in a query of its own (_locked says why).
            chunk = list(
                TherapyPlan.objects.filter(pk__in=ids).order_by("pk").select_related("patient__clinic", "protocol")
            )
            results.append(_recompute(chunk, trust_digests=False))
    return RecomputeResult(
        plans=sum(r.plans for r in results),
        moves=tuple(m for r in results for m in r.moves),
        created=sum(r.created for r in results),
        cancelled=sum(r.cancelled for r in results),
    )


def recompute_locked(plans: list[TherapyPlan | LockedPlan], *, stored=None) -> RecomputeResult:
    """Recompute plans the caller has just locked (and so read afresh): model instances loaded with their
    patient, clinic and protocol, or the worker's LockedPlan rows (lock_plans).

    A few queries however many plans: the inputs are read as plain tuples and projected; a plan whose
    projection has the digest stored with it (TherapyPlan.projection_digest) has nothing to write, and only
    the other plans' stored rows are read, compared in Python, and written where they changed (bulk). The
    clinics' calendars are read once per batch. `stored`: the plans' stored rows, when the caller has read
    them under the lock already (_stored_rows).
    """
    return _recompute(plans, trust_digests=True, stored=stored)


class LockedPlan(NamedTuple):
    """A plan's inputs as plain values: what the worker claims, hundreds at a time, without building a model
    instance for each plan and patient (lock_plans). `clinic` and `protocol` are shared by the batch's plans
    and hold only the fields the engine reads."""

    pk: int
    protocol_id: int
    first_chemo_after_days: int | None
    cycle_count: int | None
    open_ended: bool
    surgery_date: dt.date
    chemo_end_date: dt.date | None
    end_date: dt.date | None
    projection_digest: str
    clinic_id: int
    pump_reservoir_ml: Decimal
    pump_flow_ml_per_day: Decimal
    clinic: Clinic
    protocol: Protocol
    has_holds: bool  # False: no need to ask for its holds


_LOCKED_PLAN_FIELDS = (
    "pk", "protocol_id", "first_chemo_after_days", "cycle_count", "open_ended", "surgery_date", "chemo_end_date",
    "end_date", "projection_digest", "patient__clinic_id", "patient__pump_reservoir_ml",
    "patient__pump_flow_ml_per_day",
)
# Whether a plan has holds, read with it (after its lock): the recompute asks for the holds of those only.
_HAS_HOLDS = Exists(Hold.objects.filter(plan=OuterRef("pk")))
_LOCKED_CLINIC_FIELDS = ("time_zone", "open_weekdays", "flow_tolerance_percent")
_LOCKED_PROTOCOL_FIELDS = (
    "first_chemo_after_days", "cycle_steps", "cycle_count", "maintenance_infusate", "maintenance_days",
)


def lock_plans(plans, *, skip_locked: bool = False) -> list[LockedPlan]:
    """Lock these plans (a queryset, ordered and sliced as the caller wants), then read their inputs as rows, their
    clinic's and protocol's fields with them, in a second query: read in the locking one, the clinic and protocol
    would be as they were when it began, not as a change that committed while it waited left them (_locked)."""
    ids = _lock_rows(plans, skip_locked=skip_locked)
    if not ids:
        return []
    locked = TherapyPlan.objects.filter(pk__in=ids).order_by("pk").values_list(
        *_LOCKED_PLAN_FIELDS,
        *(f"patient__clinic__{name}" for name in _LOCKED_CLINIC_FIELDS),
        *(f"protocol__{name}" for name in _LOCKED_PROTOCOL_FIELDS),
        _HAS_HOLDS,
    )
    own, clinic_end = len(_LOCKED_PLAN_FIELDS), len(_LOCKED_PLAN_FIELDS) + len(_LOCKED_CLINIC_FIELDS)
    clinics: dict[int, Clinic] = {}
    protocols: dict[int, Protocol] = {}
    rows = []
    for row in locked:
        plan = row[:own]
        clinic_id, protocol_id = plan[9], plan[1]
        if clinic_id not in clinics:
            clinics[clinic_id] = Clinic(pk=clinic_id, **dict(zip(_LOCKED_CLINIC_FIELDS, row[own:clinic_end],
                                                                 strict=True)))
        if protocol_id not in protocols:
            protocols[protocol_id] = Protocol(pk=protocol_id, **dict(zip(_LOCKED_PROTOCOL_FIELDS, row[clinic_end:-1],
                                                                         strict=True)))
        rows.append(LockedPlan(*plan, clinics[clinic_id], protocols[protocol_id], row[-1]))
    return rows


def _as_locked(plan: TherapyPlan) -> LockedPlan:
    patient = plan.patient
    return LockedPlan(
        plan.pk, plan.protocol_id, plan.first_chemo_after_days, plan.cycle_count, plan.open_ended,
        plan.surgery_date, plan.chemo_end_date, plan.end_date, plan.projection_digest, patient.clinic_id,
        patient.pump_reservoir_ml, patient.pump_flow_ml_per_day, patient.clinic, plan.protocol,
        getattr(plan, "has_holds", True),  # read with the plan by _locked(holds_unchanged=True), else asked
    )


# The stored values' fingerprint is taken from the engine's fills (_fingerprint): these attributes, read in C.
# Every stored value is a function of them, the recorded fills' appointment times and the clinic (_projected):
# change _projected and _DIGEST_FORMAT together, or unchanged fills would keep rows written the old way.
_FILL_VALUES = attrgetter(
    "sequence", "date", "infusate._value_", "kind._value_", "cycle", "phase_days", "phase_end", "recorded", "held",
    "moved_from", "closed_day", "capacity_warning", "measured_flow_ml_per_day", "flow_deviation",
)
_DIGEST_FORMAT = 2
_INFUSATES = {infusate.value: infusate for infusate in engine.Infusate}  # a dict: faster than Infusate(value)


def _fingerprint(clinic_id: int, fills: list[engine.Fill], times: tuple) -> str:
    """A fingerprint of a plan's projection as stored: of the engine's fills, the recorded fills' appointment
    times ((date, time) pairs) and the clinic, the inputs from which _projected makes every stored value.

    Equal pickles mean equal values, so an equal digest means nothing to write; pickling is deterministic for
    the same code and values, so an unchanged projection gives the same digest (were it ever to differ, the
    plan's rows would only be compared one by one, as without a digest). Taken from the engine's fills rather
    than the stored tuples, so a plan whose digest matches needs no tuples built at all.
    """
    return hashlib.blake2b(
        pickle.dumps((_DIGEST_FORMAT, clinic_id, times, list(map(_FILL_VALUES, fills))), protocol=5),
        digest_size=16,
    ).hexdigest()


def _stored_rows(plan_ids: list[int]) -> dict[int, dict[int, tuple]]:
    """The stored rows of these plans: plan id -> sequence -> (pk, clinic id, revision, PROJECTED_FIELDS values)."""
    stored: dict[int, dict[int, tuple]] = {plan_id: {} for plan_id in plan_ids}
    if plan_ids:
        rows = ScheduledFill.objects.filter(plan_id__in=plan_ids).values_list(
            "pk", "plan_id", "sequence", "clinic_id", "revision", *_PROJECTED
        )
        for pk, plan_id, sequence, clinic_id, revision, *values in rows:
            stored[plan_id][sequence] = (pk, clinic_id, revision, tuple(values))
    return stored


def _recompute(
    plans: list[TherapyPlan | LockedPlan], *, trust_digests: bool, stored: dict[int, dict[int, tuple]] | None = None
) -> RecomputeResult:
    """recompute_locked; without trust_digests every plan's stored rows are compared (recompute_plans: the
    plan may just have been saved from an instance read before the worker last recomputed it, with the digest
    of that time). `stored`: the plans' stored rows (_stored_rows), when the caller has read them under the
    plans' locks already."""
    if not plans:
        return RecomputeResult(plans=0, moves=(), created=0, cancelled=0)
    # Model instances come loaded with their patient, clinic and protocol.
    rows = [_as_locked(plan) if isinstance(plan, TherapyPlan) else plan for plan in plans]
    ids = [plan.pk for plan in rows]
    clinics = {plan.clinic_id: plan.clinic for plan in rows}
    recorded: dict[int, list[tuple]] = {}
    closures: dict[int, set] = {clinic_id: set() for clinic_id in clinics}
    # The plans' recorded fills and their clinics' closure days in one statement (one round trip fewer: a
    # single plan's recompute, a fill recorded, runs a handful of statements). A closure row has no infusate.
    for owner_id, day, infusate, *fill in _recorded_and_closures(ids, list(clinics)):
        if infusate is None:
            closures[owner_id].add(day)
        else:
            recorded.setdefault(owner_id, []).append((day, infusate, *fill))
    for fills in recorded.values():
        fills.sort(key=_first)  # by date (unique per plan)
    holds: dict[int, set] = {}
    if held := [plan.pk for plan in rows if plan.has_holds]:  # most plans have none: no query
        for plan_id, cycle, attempt in Hold.objects.filter(plan_id__in=held).values_list("plan_id", "cycle", "attempt"):
            holds.setdefault(plan_id, set()).add((cycle, attempt))
    calendars = {pk: (clinic_calendar(clinic, closures[pk]), clinic.today()) for pk, clinic in clinics.items()}

    engine_protocols: dict[tuple, engine.Protocol] = {}
    horizon = settings.SCHEDULE_HORIZON_DAYS
    plan_days: list[tuple] = []  # (projected_on, digest, pk) of every plan
    changed = []  # (plan, today, fills, appointment times) of the plans whose stored rows may differ
    for plan in rows:
        calendar, today = calendars[plan.clinic_id]
        key = (plan.protocol_id, plan.first_chemo_after_days, plan.cycle_count, plan.open_ended)
        if key not in engine_protocols:
            engine_protocols[key] = _engine_protocol(plan.protocol, *key[1:])
        facts = recorded.get(plan.pk, ())
        fills = engine.project(
            engine.Plan(
                surgery_date=plan.surgery_date,
                protocol=engine_protocols[key],
                pump=engine.Pump(float(plan.pump_reservoir_ml), float(plan.pump_flow_ml_per_day)),
                chemo_end=plan.chemo_end_date,
                end_date=plan.end_date,
            ),
            calendar,
            today=today,
            recorded=tuple(engine.RecordedFill(f[0], _INFUSATES[f[1]], _ml(f[2]), _ml(f[3])) for f in facts),
            holds=frozenset(holds.get(plan.pk, ())),
            horizon_days=horizon,
        )
        times = tuple((f[0], f[4]) for f in facts if f[4] is not None)
        digest = _fingerprint(plan.clinic_id, fills, times)
        plan_days.append((today, digest, plan.pk))
        if not (trust_digests and digest == plan.projection_digest):
            changed.append((plan, fills, dict(times)))

    if stored is None:
        stored = _stored_rows([plan.pk for plan, *_ in changed])
    now = timezone.now()
    moves: list[Move] = []
    to_create: list[ScheduledFill] = []
    to_update: list[tuple] = []
    cancelled = 0
    for plan, fills, times in changed:
        clinic_id = plan.clinic_id
        existing = stored.get(plan.pk, {})
        values = None
        for index, fill in enumerate(fills):  # in sequence order (0, 1, 2, ...): each after the fill before it
            sequence = fill.sequence
            values = _projected(fill, times.get(fill.date), values if sequence == index else None)
            row = existing.pop(sequence, None)
            if row is None:
                to_create.append(ScheduledFill(
                    plan_id=plan.pk, clinic_id=clinic_id, sequence=sequence, changed_at=now,
                    **dict(zip(_PROJECTED, values, strict=True)),
                ))
                continue
            pk, stored_clinic_id, revision, old = row
            if old == values and stored_clinic_id == clinic_id:
                continue
            if old[_DATE] != values[_DATE] and old[_ACTIVE] and not values[_RECORDED]:
                moves.append(Move(plan.pk, sequence, old[_DATE], values[_DATE]))
            to_update.append(_stored_row(pk, clinic_id, revision + 1, now, values))
        # Fills the plan no longer has (therapy ended, fewer cycles) stay, inactive, for the feeds.
        for pk, stored_clinic_id, revision, old in existing.values():
            if old[_ACTIVE]:
                to_update.append(_stored_row(pk, stored_clinic_id, revision + 1, now, (*old[:_ACTIVE], False)))
                cancelled += 1
    ScheduledFill.objects.bulk_create(to_create, batch_size=1000)
    _update_rows(to_update)
    # The plans are locked: inputs_version cannot change before this transaction ends.
    _update_plans(plan_days)
    return RecomputeResult(plans=len(rows), moves=tuple(moves), created=len(to_create), cancelled=cancelled)


_first = itemgetter(0)


def _recorded_and_closures(plan_ids: list[int], clinic_ids: list[int]):
    """(plan id, date, infusate, volume in, volume returned, appointment time) of each recorded fill of these
    plans, then (clinic id, date, None, None, None, None) of each closure day of these clinics, in no order."""
    nothing = [Value(None, output_field=field) for field in (CharField(), DecimalField(), DecimalField(), TimeField())]
    return (
        RecordedFill.objects.filter(plan_id__in=plan_ids)
        .order_by()
        .values_list("plan_id", "date", "infusate", "volume_in_ml", "volume_returned_ml", "appointment_time")
        .union(
            ClinicClosure.objects.filter(clinic_id__in=clinic_ids)
            .order_by()
            .values_list("clinic_id", "date", *nothing),
            all=True,
        )
    )


def _update_plans(rows: list[tuple]) -> None:
    """Store each recomputed plan's day, digest and version: (projected_on, projection_digest, pk) per plan, in
    one statement (PostgreSQL) or one executemany call (SQLite)."""
    if not rows:
        return
    db = connections[router.db_for_write(TherapyPlan)]
    # PostgreSQL: one statement of arrays for many plans; one plan (a fill recorded) by its key, no arrays.
    many = db.vendor == "postgresql" and len(rows) > 1
    sql = _plans_statement(db.alias, db.vendor if many else "")
    with db.cursor() as cursor:
        if many:
            cursor.execute(sql, [list(column) for column in zip(*rows, strict=True)])
            return
        on = TherapyPlan._meta.get_field("projected_on")
        cursor.executemany(sql, [(on.get_db_prep_save(day, db), digest, pk) for day, digest, pk in rows])


@functools.cache
def _plans_statement(alias: str, vendor: str) -> str:
    """_update_plans' statement, built once per database: a single plan's recompute (a fill recorded) runs it
    too, and building it (or the ORM's UPDATE) each time costs more than running it. `vendor` "postgresql":
    the statement of arrays; else one row's, by its key."""
    db = connections[alias]
    meta = TherapyPlan._meta
    quote = db.ops.quote_name
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    on, digest = (meta.get_field(name) for name in ("projected_on", "projection_digest"))
    version = f"{quote(meta.get_field('projected_version').column)} = {quote(meta.get_field('inputs_version').column)}"
    # Only names and types from the model's own metadata go into the statements; every value is a parameter.
    if vendor == "postgresql":
        return (
            f"UPDATE {table} SET {quote(on.column)} = v.d, {quote(digest.column)} = v.g, {version} "  # noqa: S608
            f"FROM unnest(%s::{on.cast_db_type(db)}[], %s::{digest.cast_db_type(db)}[], "
            f"%s::{meta.pk.cast_db_type(db)}[]) AS v(d, g, i) WHERE {table}.{pk} = v.i"
        )
    return (
        f"UPDATE {table} SET {quote(on.column)} = %s, {quote(digest.column)} = %s, {version} "  # noqa: S608
        f"WHERE {pk} = %s"
    )


def _stored_row(pk: int, clinic_id: int, revision: int, now, values: tuple) -> tuple:
    """A changed row, as _update_rows() writes it: the values of _UPDATED_FIELDS, then the primary key."""
    return (*values, clinic_id, revision, now, pk)


def _update_rows(rows: list[tuple]) -> None:
    """UPDATE changed rows by primary key, many rows per statement.

    Django's bulk_update builds a CASE WHEN expression per row and field, which costs more Python time than
    the engine itself (30 s for 25,000 rows). On PostgreSQL one ``UPDATE ... FROM unnest(...)`` statement
    writes a whole batch, planned and run once. SQLite works inside this process, so a plain parametrised
    UPDATE run with executemany (a loop in C) is as fast there. Values pass through
    each field's get_db_prep_save, as the ORM would.
    """
    if not rows:
        return
    db = connections[router.db_for_write(ScheduledFill)]  # the connection itself: the proxy is slow per call
    sql, dated = _rows_statement(db.alias, db.vendor)
    fields = [ScheduledFill._meta.get_field(name) for name in _UPDATED_FIELDS]
    params = []
    for row in rows:
        values = list(row)
        for i in dated:
            values[i] = fields[i].get_db_prep_save(values[i], db)
        params.append(values)
    with db.cursor() as cursor:
        for start in range(0, len(params), UPDATE_BATCH):
            batch = params[start : start + UPDATE_BATCH]
            if db.vendor == "postgresql":
                cursor.execute(sql, [list(column) for column in zip(*batch, strict=True)])
            else:
                cursor.executemany(sql, batch)
            _check_updated(cursor.rowcount, len(batch))


@functools.cache
def _rows_statement(alias: str, vendor: str) -> tuple[str, tuple[int, ...]]:
    """_update_rows' statement, built once per database, and which of _UPDATED_FIELDS' values pass through their
    field's get_db_prep_save first."""
    db = connections[alias]
    fields = [ScheduledFill._meta.get_field(name) for name in _UPDATED_FIELDS]
    quote = db.ops.quote_name
    table, pk = quote(ScheduledFill._meta.db_table), quote(ScheduledFill._meta.pk.column)
    # Only names and types from the model's own metadata go into the statements; every value is a parameter.
    if vendor == "postgresql":
        # One statement per batch, its values as one array per column (unnest): the statement's text stays
        # short and the same, where VALUES rows would make the driver parse tens of thousands of
        # placeholders. Each array is cast to its column's type (a column may be NULL in every row).
        # psycopg adapts dates, times and aware datetimes itself (Django's adapters return them as they are).
        columns = [*fields, ScheduledFill._meta.pk]
        names = [quote(f"v_{field.column}") for field in columns]
        assignments = ", ".join(f"{quote(f.column)} = v.{name}" for f, name in zip(fields, names, strict=False))
        sql = (
            f"UPDATE {table} SET {assignments} FROM unnest("  # noqa: S608
            + ", ".join(f"%s::{field.cast_db_type(db)}[]" for field in columns)
            + f") AS v({', '.join(names)}) WHERE {table}.{pk} = v.{names[-1]}"
        )
        return sql, ()
    # Dates, times and datetimes as the backend stores them (SQLite: text; the zone of changed_at); the drivers
    # take the other values (numbers, text, booleans, None) as they are.
    dated = tuple(i for i, field in enumerate(fields)
                  if field.get_internal_type() in ("DateField", "TimeField", "DateTimeField"))
    sql = (
        f"UPDATE {table} SET "  # noqa: S608
        + ", ".join(f"{quote(field.column)} = %s" for field in fields)
        + f" WHERE {pk} = %s"
    )
    return sql, dated


class RowsVanished(RuntimeError):
    """A stored row the recompute read was gone when it wrote it (deleted meanwhile, e.g. by the prune)."""


def _check_updated(updated: int, expected: int) -> None:
    # A plan's digest says its rows are current: a write that missed a row must not commit, or every later
    # recompute would trust the digest and never put the row back. Rolled back, the plan is recomputed again.
    if updated != expected:
        raise RowsVanished(f"{expected - updated} of {expected} stored fills were gone when written")


def _locked(plan: TherapyPlan, *, holds_unchanged: bool = False) -> TherapyPlan:
    """Lock the plan row: writes to one plan (two nurses, a double click) run one after the other.

    Only the plan's row: locking the clinic row too would make every fill of a clinic wait for each other, and
    deadlock with a clinic-wide change, which locks the clinic and then its plans.

    Then the plan is read with its patient, clinic and protocol in a query of its own. Read in the locking query,
    they would be as they were when it began: having waited for a clinic-wide change to commit, PostgreSQL
    re-reads the locked row only, so the plan would be recomputed with the clinic's old settings and yet stored
    as current.

    holds_unchanged: the caller will not add or remove a hold before it recomputes (recording a fill), so whether
    the plan has any is read with it, and the recompute asks for its holds only if so.
    """
    _lock_rows(TherapyPlan.objects.filter(pk=plan.pk))
    plans = TherapyPlan.objects.select_related("patient__clinic", "protocol")
    if holds_unchanged:
        plans = plans.annotate(has_holds=_HAS_HOLDS)
    return plans.get(pk=plan.pk)


def _lock_rows(plans, *, skip_locked: bool = False) -> list[int]:
    """Lock these plans' rows (a queryset, ordered and sliced as the caller wants); return their ids."""
    return list(plans.select_for_update(skip_locked=skip_locked, of=("self",)).values_list("pk", flat=True))


def plan_save(*, plan: TherapyPlan) -> RecomputeResult:
    """Save a new or edited plan (surgery date, protocol, overrides) and recompute it.

    A clinic-wide change under way (closures, open weekdays) marks the plans of the clinic it has locked, which a
    new plan, or the plan of a patient moving into the clinic, is not among: the clinic's row is locked first, so
    the recompute waits for such a change to commit and then reads it (the change holds that lock to its end).
    """
    with transaction.atomic():
        plan.full_clean()
        _lock_clinic(plan.patient.clinic_id)
        plan.save()
        return recompute_plans([plan])


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
    with transaction.atomic():
        return _record(_locked(plan, holds_unchanged=True), date=date, infusate=infusate, by=by,
                       appointment_time=appointment_time, volume_in_ml=volume_in_ml,
                       volume_returned_ml=volume_returned_ml, note=note)


def _record(plan: TherapyPlan, *, date, infusate, by, appointment_time=None, volume_in_ml=None,
            volume_returned_ml=None, note="", stored=None) -> tuple[RecordedFill, RecomputeResult]:
    """fill_record for a plan the caller has locked; `stored`: its stored rows, if the caller read them under
    the lock (_stored_rows)."""
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
    # The unique (plan, date) rule, the volume checks and the foreign keys (the plan locked above, the signed-in
    # user) are the database's constraints: left to it rather than asked first in five more queries (callers
    # catch IntegrityError).
    fill.full_clean(exclude=["plan", "recorded_by"], validate_unique=False, validate_constraints=False)
    fill.save()
    return fill, recompute_locked([plan], stored=stored)


def fill_correct(*, fill: RecordedFill, by, **changes) -> RecomputeResult:
    """Correct a recorded fill. Its history (django-simple-history) keeps the old values and who changed them."""
    with transaction.atomic():
        plan = _locked(fill.plan)
        for name, value in changes.items():
            setattr(fill, name, value)
        fill._change_reason = "corrected"
        fill._history_user = by  # also right outside a request (a management command, the shell)
        fill.full_clean()
        fill.save()
        return recompute_locked([plan])


def hold_add(*, plan: TherapyPlan, sequence: int, reason: str, by) -> tuple[Hold, RecomputeResult]:
    """Hold the planned chemo fill that is the plan's fill number `sequence` now."""
    with transaction.atomic():
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
        return hold, recompute_locked([plan])


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


def hold_remove(*, hold: Hold) -> RecomputeResult:
    with transaction.atomic():
        plan = _locked(hold.plan)
        hold.delete()
        return recompute_locked([plan])


def therapy_end(*, plan: TherapyPlan, end_date: dt.date, reason: str, note: str = "") -> RecomputeResult:
    """S8: the reason says which end. Chemotherapy ends (the pump stays in: maintenance refills from the
    next fill) or the therapy is over (pump removed, care moved, death: nothing planned after the date)."""
    with transaction.atomic():
        plan = _locked(plan)
        if reason in TherapyPlan.CHEMO_ENDS:
            plan.chemo_end_date, plan.chemo_end_reason, plan.chemo_end_note = end_date, reason, note
        else:
            plan.status = TherapyPlan.Status.ENDED
            plan.end_date, plan.end_reason, plan.end_note = end_date, reason, note
        plan.full_clean()
        plan.save()
        return recompute_locked([plan])


def therapy_reopen(*, plan: TherapyPlan) -> RecomputeResult:
    """Undo the latest end: a therapy that is over becomes active again (its chemotherapy end, if any,
    stays); otherwise an ended chemotherapy resumes."""
    with transaction.atomic():
        plan = _locked(plan)
        if plan.status == TherapyPlan.Status.ENDED:
            plan.status = TherapyPlan.Status.ACTIVE
            plan.end_date, plan.end_reason, plan.end_note = None, "", ""
        else:
            plan.chemo_end_date, plan.chemo_end_reason, plan.chemo_end_note = None, "", ""
        plan.save()
        return recompute_locked([plan])


def clinic_plans(clinic: Clinic):
    return TherapyPlan.objects.filter(patient__clinic=clinic)


def _outdate(clinic: Clinic, plans) -> int:
    """Mark plans' projections out of date in one UPDATE; the worker (schedules.jobs) recomputes them.

    The clinic row is locked first, so two clinic-wide changes of one clinic run one after the other rather
    than locking the same plans in different orders. NO KEY: a fill recorded meanwhile writes rows that refer
    to the clinic (a KEY SHARE lock), and must not wait for us while we wait for its plan.
    Returns how many plans will be recomputed.
    """
    _lock_clinic(clinic.pk)
    return plans.update(inputs_version=F("inputs_version") + 1)


def _lock_clinic(clinic_id: int) -> None:
    """Lock a clinic's row for a change to its schedules (NO KEY: fills recorded meanwhile only refer to it)."""
    list(Clinic.objects.select_for_update(no_key=True).filter(pk=clinic_id).values_list("pk"))


def clinic_recompute(*, clinic: Clinic) -> int:
    """After a clinic's closures, open weekdays, tolerance or protocols change: every plan of the clinic is
    marked for the background recompute. Returns how many (pages say "updating N patients")."""
    with transaction.atomic():
        return _outdate(clinic, clinic_plans(clinic))


def protocol_save(*, protocol: Protocol) -> int:
    """Save a protocol; the plans that follow it are recomputed in the background. Returns how many."""
    with transaction.atomic():
        protocol.full_clean()
        protocol.save()
        return _outdate(protocol.clinic, protocol.plans.all())


# --- Clinic staff pages (issue 4) ---


class FillAlreadyRecorded(Exception):
    """The fill a form was recording has been recorded since (a double submit, two nurses at once)."""


def fill_record_expected(
    *, plan: TherapyPlan, sequence: int | None, savepoint: bool = True, **fields
) -> tuple[RecordedFill, RecomputeResult]:
    """Record the fill the form was opened for (``sequence``), unless someone recorded it meanwhile.

    The plan row lock serialises two submits of one plan: the second waits for the first to commit and
    then sees that fill recorded. A form for an extra visit (no sequence) only has the one-per-day rule.

    savepoint=False, in a caller's transaction: no savepoint around the record (two statements fewer), so a
    refused record (FillAlreadyRecorded, IntegrityError, ValidationError) leaves the caller's whole transaction
    to be rolled back; the caller lets the exception leave its atomic block.
    """
    with transaction.atomic(savepoint=savepoint):
        plan = _locked(plan, holds_unchanged=True)
        # The plan's stored rows, read once under its lock: they say whether that fill is recorded, and the
        # recompute compares the new projection with them (recording a fill writes no stored row before it).
        stored = _stored_rows([plan.pk])
        row = stored[plan.pk].get(sequence) if sequence is not None else None
        if row is not None and row[3][_RECORDED]:
            raise FillAlreadyRecorded
        return _record(plan, stored=stored, **fields)


def patient_save(*, patient, plan: TherapyPlan) -> RecomputeResult:
    """Save a new or edited patient with their plan, and recompute the plan (pump or plan may have changed)."""
    with transaction.atomic():
        patient.full_clean()
        patient.save()
        plan.patient = patient
        return plan_save(plan=plan)


def plan_preview(*, plan: TherapyPlan, clinic: Clinic, count: int) -> list[engine.Fill]:
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


def clinic_settings_save(*, clinic: Clinic) -> int:
    """Save a clinic's settings. New open weekdays or a new tolerance: every plan of the clinic is recomputed in
    the background; the address, phones or default protocol: none (no stored schedule reads them; the feeds read
    the address as they are built). Returns how many."""
    with transaction.atomic():
        clinic.full_clean()
        # The clinic's row locked first (as in _outdate), and the settings the schedules read with it.
        stored = Clinic.objects.select_for_update(no_key=True).values_list(
            "open_weekdays", "flow_tolerance_percent"
        ).get(pk=clinic.pk)
        clinic.save()
        if stored == (clinic.open_weekdays, clinic.flow_tolerance_percent):
            return 0
        return clinic_recompute(clinic=clinic)


class ClosuresChanged(Exception):
    """Someone else added one of these closure dates at the same moment: nothing was added."""


def closures_add(*, clinic: Clinic, days: dict[dt.date, str], by=None) -> tuple[int, int]:
    """Add closure dates (date -> name); dates already closed are kept as they are.

    Returns how many were new, and how many plans are recomputed in the background.

    Two staff adding the same date at once: the clinic's row is locked first, so on PostgreSQL the second
    waits and then finds the date closed; where rows cannot be locked (SQLite) the unique constraint stops
    the second insert and ClosuresChanged says so. NO KEY, as in _outdate: fills recorded meanwhile write rows
    that refer to the clinic and must not wait for it.
    """
    with transaction.atomic():
        _lock_clinic(clinic.pk)
        existing = set(clinic.closures.filter(date__in=list(days)).values_list("date", flat=True))
        new = [ClinicClosure(clinic=clinic, date=day, name=name[:100]) for day, name in sorted(days.items())
               if day not in existing]
        plans = _lock_clinic_plans(clinic)
        try:
            with transaction.atomic():
                # bulk_create skips save(): this keeps the audit trail of each new closure all the same.
                bulk_create_with_history(new, ClinicClosure, default_user=by)
        except IntegrityError:
            raise ClosuresChanged from None
        return len(new), _outdate_ids(closure_affected(clinic, plans, added={c.date for c in new}))


def closure_remove(*, closure) -> int:
    with transaction.atomic():
        clinic = closure.clinic
        _lock_clinic(clinic.pk)
        plans = _lock_clinic_plans(clinic)
        closure.delete()
        return _outdate_ids(closure_affected(clinic, plans, removed={closure.date}))


# --- Closures: only the plans whose projection a closure date can change (issue 13) ---
#
# The engine reads the closures in one place only, engine._open_day, once per planned fill (and once more for
# the fill that lands past the horizon or the end, which is not stored). It looks at days one by one and returns
# the first open one: the nominal day; else, after a non-chemo phase, up to k later days (k = max(0, min(room,
# phase)) <= floor(capacity) // 2); else the days back to the previous fill; else the nominal day, flagged.
# Every day it looked at before the one it returned was closed. So:
# - closing day D changes a fill only if the fill was returned on D (an earlier look was at a closed day, which
#   stays closed; a flagged fill looked only at closed days), and a plan whose fills are all unchanged is
#   unchanged (each fill is planned from the one before);
# - opening day D (it was closed) changes a fill only if its search looked at D: D between its nominal day
#   (moved_from) and its day, or up to k days after the nominal day of a fill moved earlier, or anywhere from
#   the day after the previous fill to k days after the nominal day of a flagged fill.
# Recorded fills and the implant fill never look at the calendar. The fill past the horizon lands within
# max(phase, floor(capacity)) days of the last stored fill, so a plan whose last fill is that close before D is
# marked too. Plans already out of date, or never projected, are always marked.

_PLANNED_ROWS = Q(active=True, recorded=False) & ~Q(kind=FillKind.IMPLANT)


class _ClinicPlan(NamedTuple):
    capacity: int  # whole days a fill lasts, as the engine floors it
    current: bool  # the stored projection is of the plan's present inputs


def _lock_clinic_plans(clinic: Clinic) -> dict[int, _ClinicPlan]:
    """Lock every plan of the clinic (the caller holds the clinic's row), then read what closure_affected needs.

    A recompute under way when we ask (a fill recorded) holds its plan's lock: we wait for it to commit, and then
    read the rows it stored. One that begins after our lock waits for this transaction, and then reads the new
    closures. So no projection made with the old closures is stored unseen by closure_affected. The plans are
    read in a query of their own, after the lock (_locked says why).
    """
    ids = list(
        clinic_plans(clinic).order_by("pk").select_for_update(no_key=True, of=("self",)).values_list("pk", flat=True)
    )
    plans = {}
    for start in range(0, len(ids), 5000):  # SQLite's limit on a statement's parameters
        for pk, reservoir, flow, projected, inputs, projected_on in TherapyPlan.objects.filter(
            pk__in=ids[start : start + 5000]
        ).values_list("pk", "patient__pump_reservoir_ml", "patient__pump_flow_ml_per_day", "projected_version",
                      "inputs_version", "projected_on"):
            capacity = math.floor(engine.Pump(float(reservoir), float(flow)).capacity_days)
            plans[pk] = _ClinicPlan(capacity, projected >= inputs and projected_on is not None)
    return plans


def closure_affected(clinic: Clinic, plans: dict[int, _ClinicPlan], *, added: Iterable[dt.date] = (),
                     removed: Iterable[dt.date] = ()) -> set[int]:
    """The plans (of `plans`, from _lock_clinic_plans) whose projection may change when these closure dates are
    added or removed (the comment above says why these); a superset, never fewer."""
    added, removed = set(added), set(removed)
    days = added | removed
    if not days:
        return set()
    marked = {pk for pk, plan in plans.items() if not plan.current}
    half = max((plan.capacity // 2 for plan in plans.values()), default=0)
    rows = ScheduledFill.objects.filter(_PLANNED_ROWS, clinic=clinic)
    if added:
        marked.update(rows.filter(date__in=sorted(added)).values_list("plan_id", flat=True))
    for day in sorted(removed):
        # Moved fills: D from min(day, nominal) to nominal + k (a fill moved later is at most k after nominal).
        moved = rows.filter(moved_from__isnull=False, moved_from__gte=day - dt.timedelta(days=half)).filter(
            Q(date__lte=day) | Q(moved_from__lte=day)
        )
        for plan_id, date, nominal in moved.values_list("plan_id", "date", "moved_from"):
            plan = plans.get(plan_id)
            if plan is None or min(date, nominal) <= day <= max(date, nominal + dt.timedelta(plan.capacity // 2)):
                marked.add(plan_id)
        # Flagged fills: D after the previous fill and at most k after the nominal day (the fill's own day).
        after_previous = Exists(ScheduledFill.objects.filter(
            plan_id=OuterRef("plan_id"), sequence=OuterRef("sequence") - 1, date__lt=day
        ))
        flagged = rows.filter(after_previous, closed_day=True, date__gte=day - dt.timedelta(days=half))
        for plan_id, date in flagged.values_list("plan_id", "date"):
            plan = plans.get(plan_id)
            if plan is None or day <= date + dt.timedelta(plan.capacity // 2):
                marked.add(plan_id)
    # The fill past the horizon or the end: within max(phase, capacity) days after the plan's last stored fill.
    last = ScheduledFill.objects.filter(clinic=clinic, active=True, phase_end__isnull=True, date__lt=max(days))
    for plan_id, date, phase_days in last.values_list("plan_id", "date", "phase_days"):
        plan = plans.get(plan_id)
        reach = date + dt.timedelta(days=max(phase_days, plan.capacity if plan else 0))
        if plan is None or any(date < day <= reach for day in days):
            marked.add(plan_id)
    return marked & plans.keys()


def _outdate_ids(ids: Iterable[int]) -> int:
    """Mark these plans (locked by the caller) out of date for the worker; returns how many."""
    ids = sorted(ids)
    for start in range(0, len(ids), 5000):
        TherapyPlan.objects.filter(pk__in=ids[start : start + 5000]).update(inputs_version=F("inputs_version") + 1)
    return len(ids)
