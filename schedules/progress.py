"""Where a patient is in their therapy, read from the stored projection (ScheduledFill rows).

Small pure helpers equivalent to the engine's ``next_fill`` and ``current_phase``, so a page reads
the rows it already loaded instead of re-running the engine per request. They take any objects with
the ScheduledFill attributes (date, kind, infusate, cycle, phase_days, phase_end, recorded, held),
in sequence order, and return plain values and words for the templates.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol as TypingProtocol

from schedules.engine import FillKind, Infusate

NAMES = {
    Infusate.FUDR: "FUDR",
    Infusate.FUDR_DEX: "FUDR with dexamethasone",
    Infusate.HEPARINIZED_SALINE: "heparinized saline",
    Infusate.SALINE: "saline",
    Infusate.GLYCERIN: "glycerin",
}


class FillLike(TypingProtocol):
    sequence: int
    date: dt.date
    infusate: str
    kind: str
    cycle: int | None
    phase_days: int
    phase_end: dt.date | None
    recorded: bool
    held: bool
    moved_from: dt.date | None


def infusate_name(infusate: str) -> str:
    return NAMES[Infusate(infusate)]


def what_goes_in(fill: FillLike) -> str:
    """What the pump is filled with, in the words patients are taught."""
    name = infusate_name(fill.infusate)
    if fill.held:
        return f"Chemotherapy is on hold: {name} goes in instead"
    if Infusate(fill.infusate).is_chemo:
        return f"{name} (chemotherapy)"
    if fill.kind == FillKind.MAINTENANCE:
        return f"{name} (maintenance)"
    return f"{name} (rest)"


def is_overdue(fill: FillLike, today: dt.date) -> bool:
    """S10: a planned refill whose date has passed with nothing recorded (surgery itself never is)."""
    return not fill.recorded and fill.kind != FillKind.IMPLANT and fill.date < today


def next_fill(fills: Sequence[FillLike], today: dt.date) -> FillLike | None:
    """The refill the patient must come in for next, an overdue one included; never the surgery."""
    for fill in fills:
        if fill.recorded or fill.kind == FillKind.IMPLANT:
            continue
        return fill
    return None


def upcoming(fills: Sequence[FillLike], today: dt.date, count: int) -> list[FillLike]:
    """The next ``count`` refills after the next one."""
    planned = [f for f in fills if not f.recorded and f.kind != FillKind.IMPLANT]
    return planned[1 : 1 + count]


def recorded(fills: Sequence[FillLike]) -> list[FillLike]:
    """Fills that happened, newest first (what a patient scrolls back through)."""
    return [f for f in reversed(fills) if f.recorded]


def phase_length(fill: FillLike) -> int:
    """Days the phase this fill starts really lasts: a moved next fill shortens or lengthens it."""
    if fill.phase_end is not None:
        return (fill.phase_end - fill.date).days
    return fill.phase_days


def fill_on_or_before(fills: Sequence[FillLike], day: dt.date) -> FillLike | None:
    index = bisect.bisect_right(fills, day, key=lambda f: f.date) - 1
    return fills[index] if index >= 0 else None


def relative_day(day: dt.date, today: dt.date) -> str:
    """"today", "tomorrow", "in 5 days", "yesterday", "3 days ago"."""
    delta = (day - today).days
    if delta == 0:
        return "today"
    if delta == 1:
        return "tomorrow"
    if delta == -1:
        return "yesterday"
    if delta > 1:
        return f"in {delta} days"
    return f"{-delta} days ago"


@dataclass(frozen=True)
class Overdue:
    """S10, told the same way on every page: the refill not recorded, what is in the pump, what will move."""

    due: FillLike  # the first planned refill whose date has passed
    holding: FillLike | None  # the newest fill that really happened: its infusate is still in the pump

    @property
    def in_pump(self) -> str:
        return infusate_name(self.holding.infusate) if self.holding is not None else "what the last refill put in"

    @property
    def sentences(self) -> tuple[str, str, str]:
        since = f", put in on {long_date(self.holding.date)}" if self.holding is not None else ""
        return (
            f"The refill planned for {long_date(self.due.date)} has not been recorded.",
            f"The pump still holds {self.in_pump}{since}.",
            "The dates after it are planned from that refill and will move once it is recorded.",
        )


def overdue(fills: Sequence[FillLike], today: dt.date) -> Overdue | None:
    """The overdue refill of the schedule, if there is one (S10), with what the pump holds meanwhile."""
    due = next_fill(fills, today)
    if due is None or not is_overdue(due, today):
        return None
    # The surgery's fill is a fact too; a planned fill that was missed is not what is in the pump.
    happened = [f for f in fills if (f.recorded or f.kind == FillKind.IMPLANT) and f.date <= today]
    return Overdue(due, happened[-1] if happened else None)


@dataclass(frozen=True)
class Where:
    """Where the pump is today, in words: a headline and an optional line about the cycle."""

    state: str  # before_surgery, chemo, rest, held, maintenance, implant, ended, overdue, unknown
    headline: str
    cycle: str = ""
    day: int | None = None
    days: int | None = None


def cycle_words(cycle: int | None, total: int | None) -> str:
    if cycle is None:
        return ""
    return f"Cycle {cycle} of {total}" if total else f"Cycle {cycle}"


def where(
    fills: Sequence[FillLike],
    today: dt.date,
    *,
    cycles_total: int | None,
    end_date: dt.date | None,
) -> Where:
    """Where the pump is on ``today``: "Day 5 of 14: FUDR", "Rest", "Maintenance", "Therapy ended on ..."."""
    if end_date is not None and today > end_date:
        return Where("ended", f"Therapy ended on {long_date(end_date)}")
    fill = fill_on_or_before(fills, today)
    if fill is None:
        if fills:
            return Where("before_surgery", f"Pump surgery is planned for {long_date(fills[0].date)}")
        return Where("unknown", "No therapy plan yet")
    late = overdue(fills, today)
    if late is not None:
        # The refill did not happen: the pump still runs what the last real fill put in, past its phase.
        return Where("overdue", "Refill overdue", f"The pump still holds {late.in_pump}.")
    days = phase_length(fill)
    day = (today - fill.date).days + 1
    cycle = cycle_words(fill.cycle, cycles_total)
    if fill.held:
        return Where("held", f"Day {day} of {days}: chemotherapy on hold (rest)", cycle, day, days)
    if fill.kind == FillKind.CHEMO:
        return Where("chemo", f"Day {day} of {days}: {infusate_name(fill.infusate)}", cycle, day, days)
    if fill.kind == FillKind.MAINTENANCE:
        return Where("maintenance", "Maintenance", f"Day {day} of {days}", day, days)
    if fill.kind == FillKind.IMPLANT:
        return Where("implant", "Rest after surgery", f"Day {day} of {days}: chemotherapy not started yet", day, days)
    return Where("rest", "Rest", f"{cycle}, day {day} of {days}" if cycle else f"Day {day} of {days}", day, days)


def long_date(day: dt.date) -> str:
    """"Monday 2 March": how the clinic says a date on the phone (pages add the year where it matters)."""
    return f"{day:%A} {day.day} {day:%B}"


def short_date(day: dt.date) -> str:
    """"Mon 2 Mar 2026": the date style of the pages, for messages that name a date."""
    return f"{day:%a} {day.day} {day:%b %Y}"


def tel_href(phone: str) -> str:
    """A tel: URI for a phone number as clinics write it ("+1 555 010 0199")."""
    return "tel:" + re.sub(r"[^0-9+]", "", phone)
