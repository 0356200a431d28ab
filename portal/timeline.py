"""The whole therapy at a glance, as data for an inline SVG: one bar per phase, from surgery to the end.

Pure functions over the patient's fills (in sequence order); the template draws the SVG from these
numbers (SVG attributes, so the strict Content-Security-Policy needs no inline style) and lists the
same phases in words as the text alternative.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.formats import date_format

from portal import month_calendar
from schedules import progress

VIEW_WIDTH = 1000
MARGIN = 12
BAR_TOP = 44
BAR_HEIGHT = 64


@dataclass(frozen=True)
class Bar:
    fill: object
    start: dt.date
    end: dt.date  # the day the next fill starts the next phase (exclusive)
    phase: str  # chemo, rest, held, maintenance, implant: the css class and SVG pattern
    label: str  # short words: "FUDR", "Rest"
    x: float
    width: float
    cycle: int | None
    held: bool
    moved_from: dt.date | None
    is_current: bool

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def center(self) -> float:
        return self.x + self.width / 2

    @property
    def shows_cycle(self) -> bool:
        """Numbers go on chemo and held bars wide enough to carry a digit or two."""
        return self.cycle is not None and self.phase in ("chemo", "held") and self.width >= 18


@dataclass(frozen=True)
class Tick:
    x: float
    label: str

    @property
    def anchor(self) -> str:
        """SVG text-anchor that keeps labels near either edge inside the picture."""
        if self.x < 60:
            return "start"
        if self.x > VIEW_WIDTH - 60:
            return "end"
        return "middle"


@dataclass(frozen=True)
class Row:
    """One line of the text alternative: a phase, or a run of maintenance phases told as one."""

    bars: tuple[Bar, ...]

    @property
    def first(self) -> Bar:
        return self.bars[0]

    @property
    def start(self) -> dt.date:
        return self.bars[0].start

    @property
    def end(self) -> dt.date:
        return self.bars[-1].end

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def refills(self) -> int:
        return len(self.bars)

    @property
    def moved(self) -> list[Bar]:
        return [b for b in self.bars if b.moved_from is not None]

    @property
    def is_current(self) -> bool:
        return any(b.is_current for b in self.bars)

    @property
    def recorded(self) -> bool:
        return all(b.fill.recorded for b in self.bars)


@dataclass(frozen=True)
class Timeline:
    start: dt.date
    end: dt.date
    bars: list[Bar]
    ticks: list[Tick]
    today_x: float | None
    today: dt.date
    chemo_cycles: int
    held_cycles: int
    moved: int
    rows: list[Row]
    width: int = VIEW_WIDTH
    bar_top: int = BAR_TOP
    bar_height: int = BAR_HEIGHT

    @property
    def bar_bottom(self) -> int:
        return self.bar_top + self.bar_height

    @property
    def today_label_x(self) -> float:
        """Keep the "Today" label inside the picture near either edge."""
        assert self.today_x is not None
        return min(max(self.today_x, MARGIN + 30), VIEW_WIDTH - MARGIN - 30)


def build(
    fills: Sequence, *, today: dt.date, end_date: dt.date | None = None, cycles_total: int | None = None
) -> Timeline | None:
    """The timeline of a therapy; None when there is no fill at all (no plan yet)."""
    if not fills:
        return None
    start = fills[0].date
    end = month_calendar.schedule_end(fills, end_date)
    assert end is not None
    end = max(end, start + dt.timedelta(days=1))
    span = (end - start).days

    def x_of(day: dt.date) -> float:
        return round(MARGIN + (day - start).days / span * (VIEW_WIDTH - 2 * MARGIN), 1)

    bars = []
    for index, fill in enumerate(fills):
        if fill.date >= end:
            break
        nxt = fills[index + 1].date if index + 1 < len(fills) else fill.date + dt.timedelta(
            days=progress.phase_length(fill)
        )
        bar_end = min(nxt, end)
        phase, label = month_calendar.phase_of(fill)
        if phase == "chemo":
            label = progress.infusate_name(fill.infusate)
        x = x_of(fill.date)
        bars.append(
            Bar(
                fill=fill,
                start=fill.date,
                end=bar_end,
                phase=phase,
                label=label,
                x=x,
                width=round(x_of(bar_end) - x, 1),
                cycle=fill.cycle,
                held=fill.held,
                moved_from=fill.moved_from,
                is_current=fill.date <= today < bar_end,
            )
        )
    return Timeline(
        start=start,
        end=end,
        bars=bars,
        ticks=_ticks(start, end, x_of),
        today_x=x_of(today) if start <= today <= end else None,
        today=today,
        chemo_cycles=len({f.cycle for f in fills if f.kind == "chemo"}),
        held_cycles=sum(1 for f in fills if f.held),
        moved=sum(1 for f in fills if f.moved_from is not None),
        rows=_rows(bars),
    )


def _rows(bars: list[Bar]) -> list[Row]:
    """A year of fortnightly maintenance would be two dozen identical lines: one line tells it."""
    rows: list[Row] = []
    for bar in bars:
        if rows and bar.phase == "maintenance" and rows[-1].first.phase == "maintenance":
            rows[-1] = Row((*rows[-1].bars, bar))
        else:
            rows.append(Row((bar,)))
    return rows


def _ticks(start: dt.date, end: dt.date, x_of) -> list[Tick]:
    """The first of each month in range; fewer labels for a long therapy so they never overlap."""
    months = []
    year, month = start.year, start.month
    while True:
        year, month = month_calendar.shift_month(year, month, 1)
        first = dt.date(year, month, 1)
        if first > end:
            break
        months.append(first)
    step = 1 if len(months) <= 14 else 2 if len(months) <= 28 else 3
    ticks = []
    for index, first in enumerate(months):
        if index % step:
            continue
        # "Dec", "Jan 2027" in English; "dic", "ene 2027" in Spanish.
        label = date_format(first, "MONTH_ABBR_FORMAT" if first.month != 1 and ticks else "MONTH_ABBR_YEAR_FORMAT")
        ticks.append(Tick(x_of(first), label))
    return ticks
