"""A patient's month as a grid of weeks, built on the standard library's ``calendar``.

Pure functions over the patient's fills (ScheduledFill rows or engine Fills, in sequence order) and the
clinic's closures: no queries here, so the view decides how many it makes.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.utils.dates import WEEKDAYS, WEEKDAYS_ABBR
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from schedules import progress
from schedules.engine import FillKind

# Monday first: date.weekday() order, as clinics count open weekdays.
FIRST_WEEKDAY = calendar.MONDAY


@dataclass(frozen=True)
class Day:
    date: dt.date
    in_month: bool
    is_today: bool
    phase: str  # css-friendly: chemo, rest, held, maintenance, implant, none
    phase_label: str  # short words shown in the cell ("FUDR", "Rest")
    fill: object | None  # the fill given or planned on this day
    refill_words: str  # what goes in, when there is a fill
    overdue: bool
    closure: str | None  # the clinic is closed: its reason ("Independence Day") or "Clinic closed"

    @property
    def description(self) -> str:
        """The whole day in words, for screen readers (the cell shows abbreviations)."""
        parts = [progress.long_date(self.date)]
        if self.is_today:
            parts.append(_("today"))
        if self.fill is not None:
            if self.fill.recorded:
                parts.append(_("refill given: %(what)s") % {"what": self.refill_words})
            elif self.overdue:
                parts.append(_("refill overdue: %(what)s") % {"what": self.refill_words})
            else:
                parts.append(_("refill: %(what)s") % {"what": self.refill_words})
        elif self.phase_label:
            parts.append(self.phase_label)
        if self.closure and self.closure != _("Clinic closed"):
            parts.append(_("clinic closed (%(reason)s)") % {"reason": self.closure})
        elif self.closure:
            parts.append(_("clinic closed"))
        return ", ".join(parts) + "."


@dataclass(frozen=True)
class Month:
    year: int
    month: int
    first: dt.date
    last: dt.date
    state: str  # "in" (has therapy days), "before" surgery, "after" the end, "beyond" what is planned yet
    weeks: list[list[Day]]
    weekday_names: list[tuple[str, str]]  # (name, abbreviation) in the active language, Monday first
    fills: list  # fills in this month, for the list under the grid

    @property
    def title(self) -> str:
        """"December 2026", "diciembre de 2026"."""
        return date_format(self.first, "YEAR_MONTH_FORMAT")


def month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def schedule_end(fills: Sequence, end_date: dt.date | None) -> dt.date | None:
    """The last day the schedule covers: the therapy's end, or the end of the last phase projected."""
    if end_date is not None:
        return end_date
    if not fills:
        return None
    last = fills[-1]
    return last.date + dt.timedelta(days=progress.phase_length(last))


def phase_of(fill) -> tuple[str, str]:
    """The phase (css name, short words) a fill starts."""
    if fill.held:
        return "held", _("Chemo on hold")
    kind = FillKind(fill.kind)
    if kind is FillKind.CHEMO:
        return "chemo", "FUDR"  # with or without dexamethasone: a calendar cell has room for one word
    if kind is FillKind.MAINTENANCE:
        return "maintenance", pgettext("phase", "Maintenance")
    if kind is FillKind.IMPLANT:
        return "implant", pgettext("phase", "Rest")
    return "rest", pgettext("phase", "Rest")


def month_grid(
    year: int,
    month: int,
    *,
    fills: Sequence,
    today: dt.date,
    closures: Mapping[dt.date, str] | None = None,
    end_date: dt.date | None = None,
) -> Month:
    """The month's weeks, each day with its phase, its fill and closure; and where the month lies in the therapy."""
    closures = closures or {}
    first, last = month_bounds(year, month)
    surgery = fills[0].date if fills else None
    end = schedule_end(fills, end_date)
    by_date = {f.date: f for f in fills}
    if surgery is None or last < surgery:
        state = "before"
    elif end_date is not None and first > end_date:
        state = "after"
    elif end is not None and first > end:
        state = "beyond"
    else:
        state = "in"
    names = [(str(WEEKDAYS[(FIRST_WEEKDAY + i) % 7]), str(WEEKDAYS_ABBR[(FIRST_WEEKDAY + i) % 7])) for i in range(7)]
    weeks: list[list[Day]] = []
    if state == "in":
        for week in calendar.Calendar(FIRST_WEEKDAY).monthdatescalendar(year, month):
            weeks.append([_day(d, month, today, fills, by_date, closures, surgery, end) for d in week])
    return Month(
        year=year,
        month=month,
        first=first,
        last=last,
        state=state,
        weeks=weeks,
        weekday_names=names,
        fills=[f for f in fills if first <= f.date <= last],
    )


def _day(day, month, today, fills, by_date, closures, surgery, end) -> Day:
    fill = by_date.get(day)
    phase, label = "none", ""
    if surgery is not None and surgery <= day and (end is None or day <= end):
        started = progress.fill_on_or_before(fills, day)
        if started is not None:
            phase, label = phase_of(started)
    closure = closures.get(day)
    return Day(
        date=day,
        in_month=day.month == month,
        is_today=day == today,
        phase=phase,
        phase_label=label,
        fill=fill,
        refill_words=_refill_words(fill) if fill is not None else "",
        overdue=fill is not None and progress.is_overdue(fill, today),
        closure=(closure or _("Clinic closed")) if closure is not None else None,
    )


def _refill_words(fill) -> str:
    if fill.kind == FillKind.IMPLANT:
        return _("pump surgery, filled with %(name)s") % {"name": progress.infusate_name(fill.infusate)}
    return progress.what_goes_in(fill)
