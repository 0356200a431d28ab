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

from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext

from schedules.engine import FillKind, Infusate

# The words patients are taught, in the active language (glossary: docs/glossary-es.md).
NAMES = {
    Infusate.FUDR: "FUDR",
    Infusate.FUDR_DEX: gettext_lazy("FUDR with dexamethasone"),
    Infusate.HEPARINIZED_SALINE: gettext_lazy("heparinized saline"),
    Infusate.SALINE: gettext_lazy("saline"),
    Infusate.GLYCERIN: gettext_lazy("glycerin"),
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
    return str(NAMES[Infusate(infusate)])


def what_goes_in(fill: FillLike) -> str:
    """What the pump is filled with, in the words patients are taught."""
    name = infusate_name(fill.infusate)
    if fill.held:
        return _("Chemotherapy is on hold: %(name)s goes in instead") % {"name": name}
    if Infusate(fill.infusate).is_chemo:
        return _("%(name)s (chemotherapy)") % {"name": name}
    if fill.kind == FillKind.MAINTENANCE:
        return _("%(name)s (maintenance)") % {"name": name}
    return _("%(name)s (rest)") % {"name": name}


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
        return _("today")
    if delta == 1:
        return _("tomorrow")
    if delta == -1:
        return _("yesterday")
    if delta > 1:
        return ngettext("in %(count)d day", "in %(count)d days", delta) % {"count": delta}
    return ngettext("%(count)d day ago", "%(count)d days ago", -delta) % {"count": -delta}


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
    if total:
        return _("Cycle %(cycle)d of %(total)d") % {"cycle": cycle, "total": total}
    return _("Cycle %(cycle)d") % {"cycle": cycle}


def where(
    fills: Sequence[FillLike],
    today: dt.date,
    *,
    cycles_total: int | None,
    end_date: dt.date | None,
) -> Where:
    """Where the pump is on ``today``: "Day 5 of 14: FUDR", "Rest", "Maintenance", "Therapy ended on ..."."""
    if end_date is not None and today > end_date:
        return Where("ended", _("Therapy ended on %(date)s") % {"date": long_date(end_date)})
    fill = fill_on_or_before(fills, today)
    if fill is None:
        if fills:
            planned = _("Pump surgery is planned for %(date)s") % {"date": long_date(fills[0].date)}
            return Where("before_surgery", planned)
        return Where("unknown", _("No therapy plan yet"))
    if is_overdue(fill, today):
        # The refill did not happen: the pump still runs what the last real fill put in, past its phase.
        # The newest fill that really happened (the surgery's is a fact) says what is in the pump, not a
        # planned one that was missed too.
        happened = (f for f in reversed(fills) if (f.recorded or f.kind == FillKind.IMPLANT) and f.date <= today)
        before = next(happened, None)
        still = _("The pump still holds %(name)s.") % {"name": infusate_name(before.infusate)} if before else ""
        return Where("overdue", _("Refill overdue"), still)
    days = phase_length(fill)
    day = (today - fill.date).days + 1
    cycle = cycle_words(fill.cycle, cycles_total)
    numbers = {"day": day, "days": days}
    day_of = _("Day %(day)d of %(days)d") % numbers
    if fill.held:
        return Where("held", _("Day %(day)d of %(days)d: chemotherapy on hold (rest)") % numbers, cycle, day, days)
    if fill.kind == FillKind.CHEMO:
        headline = _("Day %(day)d of %(days)d: %(name)s") % {**numbers, "name": infusate_name(fill.infusate)}
        return Where("chemo", headline, cycle, day, days)
    if fill.kind == FillKind.MAINTENANCE:
        return Where("maintenance", pgettext("phase", "Maintenance"), day_of, day, days)
    if fill.kind == FillKind.IMPLANT:
        not_yet = _("Day %(day)d of %(days)d: chemotherapy not started yet") % numbers
        return Where("implant", _("Rest after surgery"), not_yet, day, days)
    if cycle:
        in_cycle = _("%(cycle)s, day %(day)d of %(days)d") % {**numbers, "cycle": cycle}
        return Where("rest", pgettext("phase", "Rest"), in_cycle, day, days)
    return Where("rest", pgettext("phase", "Rest"), day_of, day, days)


def long_date(day: dt.date) -> str:
    """"Monday 2 March", "lunes 2 de marzo": how the clinic says a date on the phone, in the active language."""
    return date_format(day, "WEEKDAY_DAY_MONTH_FORMAT")


def short_date(day: dt.date) -> str:
    """"Mon 2 Mar 2026", "lun 2 mar 2026": the date style of the pages, for messages that name a date."""
    return date_format(day, "SHORT_WEEKDAY_DAY_MONTH_YEAR_FORMAT")


def tel_href(phone: str) -> str:
    """A tel: URI for a phone number as clinics write it ("+1 555 010 0199")."""
    return "tel:" + re.sub(r"[^0-9+]", "", phone)
