"""The schedule engine: HAI pump fills projected from a therapy plan.

A pure module (no Django): dataclasses in, dataclasses out, dates not datetimes.
It implements rules S1-S12 (docs/schedule-rules.md); tests/test_engine.py has a named test per rule.

Identity: every fill of a plan has a ``sequence`` number (0 = the implant fill at surgery,
1 = the next fill, ...). Recorded fills take the sequence numbers in date order and planned
fills continue from there, so the n-th fill of a plan keeps its number when a late or early
refill moves it. The stored projection (and calendar feeds) address fills by this number;
holds name a chemo fill by (cycle, attempt), which survives an earlier fill being held.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta


class Infusate(enum.StrEnum):
    FUDR = "fudr"
    FUDR_DEX = "fudr_dex"
    HEPARINIZED_SALINE = "heparinized_saline"
    SALINE = "saline"
    GLYCERIN = "glycerin"

    @property
    def is_chemo(self) -> bool:
        return self in (Infusate.FUDR, Infusate.FUDR_DEX)


class FillKind(enum.StrEnum):
    IMPLANT = "implant"  # S1: the heparinized-saline fill at surgery
    CHEMO = "chemo"  # a cycle's chemo step, given (or planned to be)
    REST = "rest"  # a cycle's rest step
    HELD = "held"  # S6: a chemo fill replaced by a non-chemo infusate
    MAINTENANCE = "maintenance"  # S4: after the last cycle, until therapy ends


@dataclass(frozen=True)
class Step:
    infusate: Infusate
    days: int  # days until the next fill


@dataclass(frozen=True)
class Protocol:
    first_chemo_after_days: int = 14
    # The cycle's first step is its chemo step; rest steps follow.
    cycle: tuple[Step, ...] = (
        Step(Infusate.FUDR, 14),
        Step(Infusate.HEPARINIZED_SALINE, 14),
    )
    cycles: int | None = 6  # None: open-ended, repeats until staff end the therapy
    maintenance: Step = Step(Infusate.HEPARINIZED_SALINE, 14)


@dataclass(frozen=True)
class Pump:
    reservoir_ml: float = 30.0
    flow_ml_per_day: float = 1.0

    @property
    def capacity_days(self) -> float:
        """S11: how many days one fill lasts."""
        return self.reservoir_ml / self.flow_ml_per_day


@dataclass(frozen=True)
class Plan:
    surgery_date: date
    protocol: Protocol = Protocol()
    pump: Pump = Pump()
    # S8, two ends. Chemotherapy ended (completed, toxicity, progression, the patient's choice): from
    # this date on every planned fill is a maintenance fill, because the pump stays in and must still
    # be refilled or its catheter clots.
    chemo_end: date | None = None
    end_date: date | None = None  # S8, therapy over (pump removed, care moved, death): nothing planned after it


@dataclass(frozen=True)
class ClinicCalendar:
    open_weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # date.weekday(): Monday is 0
    closures: frozenset[date] = frozenset()
    flow_tolerance: float = 0.20  # S12: allowed relative deviation from the nominal flow

    def is_open(self, day: date) -> bool:
        return day.weekday() in self.open_weekdays and day not in self.closures


@dataclass(frozen=True)
class RecordedFill:
    date: date
    infusate: Infusate
    volume_in_ml: float | None = None
    volume_returned_ml: float | None = None


@dataclass(frozen=True)
class Fill:
    sequence: int
    date: date
    infusate: Infusate
    kind: FillKind
    cycle: int | None  # the cycle this fill belongs to (chemo, its rest steps, a held attempt)
    phase_days: int  # planned days until the next fill
    phase_end: date | None  # date of the next fill (None for the last fill projected)
    recorded: bool = False
    overdue: bool = False  # S10: planned, its date passed, nothing recorded
    held: bool = False  # S6: a chemo fill that was (recorded) or will be (hold) given as rest
    moved_from: date | None = None  # S7: the closed day this planned fill was moved from
    closed_day: bool = False  # S7: on a closed day and no open day qualified: staff must act
    capacity_warning: bool = False  # S11: the phase this fill starts outlasts the pump
    measured_flow_ml_per_day: float | None = None  # S12: of the phase this fill ends
    flow_deviation: bool = False  # S12: measured flow outside the clinic's tolerance


DEFAULT_HORIZON_DAYS = 365

_ONE_DAY = timedelta(days=1)


def project(
    plan: Plan,
    calendar: ClinicCalendar,
    *,
    today: date,
    recorded: tuple[RecordedFill, ...] = (),
    holds: frozenset[tuple[int, int]] = frozenset(),
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> list[Fill]:
    """All fills of the plan, recorded and planned, in date order.

    ``holds`` are the care team's holds of future chemo fills (S6), each as (cycle, attempt): the
    attempt-th time that cycle's chemo fill is due (1 for the first, 2 after one hold, ...). Named
    so, a hold stays on its appointment when an earlier fill is recorded late, early or as held.

    Raises ValueError for a protocol the engine cannot walk (steps of less than a day, a chemo step
    without chemo, ...) and for recorded fills before surgery or two on one date: those are input
    errors the forms and services must reject, and guessing here would silently hide them.
    """
    protocol = plan.protocol
    _check_protocol(protocol)
    facts = sorted(recorded, key=lambda r: r.date)
    _check_recorded(plan, facts)
    steps = protocol.cycle

    # S1: surgery is a fact, so the implant fill is always there and never moves; it is "recorded"
    # only when staff entered the fill on the surgery date (its real infusate and volumes).
    implant = facts.pop(0) if facts and facts[0].date == plan.surgery_date else None
    infusate = implant.infusate if implant else Infusate.HEPARINIZED_SALINE
    first_days = protocol.first_chemo_after_days
    rows = [_Row(0, plan.surgery_date, infusate, FillKind.IMPLANT, None, first_days, source=implant)]

    # S5/S6: each recorded fill takes the place of the fill expected next.
    slot = _first_slot(protocol)
    chemo_given = 0
    held_attempts: Counter[int] = Counter()  # per cycle: how often its chemo fill was held so far
    for fact in facts:
        expected, cycle, step = slot
        if fact.infusate.is_chemo:
            # A FUDR fill is the next cycle's chemo fill whatever was expected (an early restart, or
            # a cycle beyond the plan's count: a fact all the same).
            chemo_given += 1
            kind, cycle, days = FillKind.CHEMO, chemo_given, steps[0].days
            slot = _after_step(protocol, cycle, 0)
        elif _chemo_over(plan, fact.date):
            kind, cycle, days = FillKind.MAINTENANCE, None, protocol.maintenance.days
            slot = _MAINTENANCE_SLOT
        elif expected is FillKind.CHEMO:
            kind, days = FillKind.HELD, steps[0].days  # the slot stays: that chemo fill comes again
        elif expected is FillKind.REST:
            kind, days = FillKind.REST, steps[step].days
            slot = _after_step(protocol, cycle, step)
        else:
            kind, days = FillKind.MAINTENANCE, protocol.maintenance.days
        held = kind is FillKind.HELD
        if held:
            held_attempts[cycle] += 1
        rows.append(_Row(len(rows), fact.date, fact.infusate, kind, cycle, days, held=held, source=fact))
    newest_fact = len(rows) - 1

    last_day = horizon_end(plan, today, horizon_days)  # S9
    if plan.end_date is not None and plan.end_date < last_day:  # S8
        last_day = plan.end_date
    capacity = plan.pump.capacity_days
    prev = rows[-1]
    while True:
        expected, cycle, step = slot
        nominal = prev.date + timedelta(days=prev.phase_days)
        day, closed = _open_day(calendar, nominal, prev, capacity)
        # The end and horizon apply to where the fill really lands: a FUDR-ending fill pulled back
        # onto the last open day before the end is still a visit the patient must make.
        if day > last_day:
            break
        seq = len(rows)
        if _chemo_over(plan, day):
            # S8: where the fill really lands decides, so no chemo or rest visit is on or after the end.
            slot = _MAINTENANCE_SLOT
            expected, cycle, step = slot
        held = expected is FillKind.CHEMO and (cycle, held_attempts[cycle] + 1) in holds
        if held:
            held_attempts[cycle] += 1
            # S6: the care team's hold; saline keeps the catheter open, the chemo fill comes again.
            kind, infusate, days = FillKind.HELD, Infusate.HEPARINIZED_SALINE, steps[0].days
        elif expected is FillKind.CHEMO:
            kind, infusate, days = FillKind.CHEMO, steps[0].infusate, steps[0].days
            slot = _after_step(protocol, cycle, 0)
        elif expected is FillKind.REST:
            kind, infusate, days = FillKind.REST, steps[step].infusate, steps[step].days
            slot = _after_step(protocol, cycle, step)
        else:
            kind, infusate, days = (
                FillKind.MAINTENANCE,
                protocol.maintenance.infusate,
                protocol.maintenance.days,
            )
        row = _Row(seq, day, infusate, kind, cycle, days, held=held)
        row.moved_from = nominal if day != nominal else None
        row.closed_day = closed
        row.overdue = day < today  # S10
        rows.append(row)
        prev = row

    return _fills(plan, calendar, rows, newest_fact)


def horizon_end(plan: Plan, today: date, horizon_days: int = DEFAULT_HORIZON_DAYS) -> date:
    """S9: the last day a fill may be planned on."""
    return max(today, plan.surgery_date) + timedelta(days=horizon_days)


def _chemo_over(plan: Plan, day: date) -> bool:
    """S8: chemotherapy has ended by ``day`` (a fill on the end date itself is already maintenance)."""
    return plan.chemo_end is not None and day >= plan.chemo_end


# A slot is the fill expected next: (CHEMO, cycle, 0), (REST, cycle, step index) or the maintenance slot.
_Slot = tuple[FillKind, int | None, int]
_MAINTENANCE_SLOT: _Slot = (FillKind.MAINTENANCE, None, 0)


class _Row:
    """A fill under construction: mutable, and cheaper than replace() on the frozen Fill."""

    __slots__ = (
        "closed_day",
        "cycle",
        "date",
        "held",
        "infusate",
        "kind",
        "moved_from",
        "overdue",
        "phase_days",
        "sequence",
        "source",
    )

    def __init__(
        self,
        sequence: int,
        day: date,
        infusate: Infusate,
        kind: FillKind,
        cycle: int | None,
        phase_days: int,
        *,
        held: bool = False,
        source: RecordedFill | None = None,
    ) -> None:
        self.sequence = sequence
        self.date = day
        self.infusate = infusate
        self.kind = kind
        self.cycle = cycle
        self.phase_days = phase_days
        self.held = held
        self.source = source
        self.moved_from: date | None = None
        self.closed_day = False
        self.overdue = False


def _first_slot(protocol: Protocol) -> _Slot:
    if protocol.cycles is None or protocol.cycles >= 1:
        return (FillKind.CHEMO, 1, 0)
    return _MAINTENANCE_SLOT


def _after_step(protocol: Protocol, cycle: int, step: int) -> _Slot:
    """S3/S4: the slot after step ``step`` of ``cycle`` was filled."""
    if step + 1 < len(protocol.cycle):
        return (FillKind.REST, cycle, step + 1)
    if protocol.cycles is None or cycle < protocol.cycles:
        return (FillKind.CHEMO, cycle + 1, 0)
    return _MAINTENANCE_SLOT


def _open_day(calendar: ClinicCalendar, nominal: date, prev: _Row, capacity: float) -> tuple[date, bool]:
    """S7: where a planned fill lands, and whether it is stuck on a closed day."""
    if calendar.is_open(nominal):
        return nominal, False
    if not prev.infusate.is_chemo:
        # Later is kinder to the patient, but only while the pump still holds enough; the search is
        # capped at one step length so a calendar with no open day stays linear.
        room = math.floor(capacity) - (nominal - prev.date).days
        day = nominal
        for _ in range(max(0, min(room, prev.phase_days))):
            day += _ONE_DAY
            if calendar.is_open(day):
                return day, False
    # A FUDR phase must not run longer than prescribed, so earlier, but never onto or before the
    # previous fill: that would swap the order of visits.
    day = nominal - _ONE_DAY
    while day > prev.date:
        if calendar.is_open(day):
            return day, False
        day -= _ONE_DAY
    return nominal, True


def _fills(plan: Plan, calendar: ClinicCalendar, rows: list[_Row], newest_fact: int) -> list[Fill]:
    capacity = plan.pump.capacity_days
    nominal_flow = plan.pump.flow_ml_per_day
    fills: list[Fill] = []
    last = len(rows) - 1
    for index, row in enumerate(rows):
        phase_end = rows[index + 1].date if index < last else None
        # S11: only phases still ahead of us are a warning; an old recorded phase is history.
        warning = False
        if index >= newest_fact:
            length = (phase_end - row.date).days if phase_end is not None else row.phase_days
            warning = length > capacity
        flow = None
        deviation = False
        before = rows[index - 1] if index else None
        if (
            row.source is not None
            and before is not None
            and before.source is not None
            and before.source.volume_in_ml is not None
            and row.source.volume_returned_ml is not None
        ):
            # S12: what left the pump over the phase that this fill ends.
            gap = (row.date - before.date).days
            flow = (before.source.volume_in_ml - row.source.volume_returned_ml) / gap
            deviation = abs(flow - nominal_flow) / nominal_flow > calendar.flow_tolerance
        fills.append(
            Fill(
                sequence=row.sequence,
                date=row.date,
                infusate=row.infusate,
                kind=row.kind,
                cycle=row.cycle,
                phase_days=row.phase_days,
                phase_end=phase_end,
                recorded=row.source is not None,
                overdue=row.overdue,
                held=row.held,
                moved_from=row.moved_from,
                closed_day=row.closed_day,
                capacity_warning=warning,
                measured_flow_ml_per_day=flow,
                flow_deviation=deviation,
            )
        )
    return fills


def _check_protocol(protocol: Protocol) -> None:
    steps = protocol.cycle
    if not steps:
        raise ValueError("a protocol's cycle needs at least its chemo step")
    if not steps[0].infusate.is_chemo:
        raise ValueError("a cycle's first step is its chemo step")
    if any(step.infusate.is_chemo for step in steps[1:]) or protocol.maintenance.infusate.is_chemo:
        # A recorded FUDR fill always counts as a chemo fill (S5), so a chemo rest step could never
        # be recorded as what it was planned to be.
        raise ValueError("rest and maintenance steps take a non-chemo infusate")
    # Every interval must move the calendar forward, or the projection would never reach the horizon.
    if protocol.first_chemo_after_days < 1 or protocol.maintenance.days < 1 or any(s.days < 1 for s in steps):
        raise ValueError("every step lasts at least one day")
    if protocol.cycles is not None and protocol.cycles < 0:
        raise ValueError("the cycle count cannot be negative")


def _check_recorded(plan: Plan, facts: list[RecordedFill]) -> None:
    if facts and facts[0].date < plan.surgery_date:
        raise ValueError(f"a fill recorded on {facts[0].date} is before surgery on {plan.surgery_date}")
    for earlier, later in itertools.pairwise(facts):
        if earlier.date == later.date:
            raise ValueError(f"two fills recorded on {later.date}")
