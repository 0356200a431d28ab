"""iCalendar feeds of one patient's fills, written with the `icalendar` library.

build_calendar() is a pure function of the stored projection (ScheduledFill rows, which carry the
appointment times of recorded fills), the clinic's time zone and the detail level: the same inputs give the same
bytes, so a calendar app that polls every few hours sees an unchanged body (and a 304) until a fill
really changes. feed_state() answers "has anything changed?" with one aggregate query.

Privacy: a discreet feed says "Clinic visit" and nothing else; a detailed one names the
infusate and the phases. Neither carries the patient's name, record number, date of birth or clinic:
UIDs are HMACs of (plan, sequence), so they identify the appointment without revealing whose it is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import icalendar
from django.db.models import Count, Max, Sum
from django.utils.crypto import salted_hmac

from patients.models import Patient
from schedules.models import FillKind, Infusate, ScheduledFill, TherapyPlan

# Bump when the shape of the body changes, so every ETag changes with it.
FEED_FORMAT = 1
WINDOW_BACK_DAYS = 30
REFRESH = dt.timedelta(hours=4)
# A refill takes about ten minutes; the half hour leaves room for the wait and the check-in.
VISIT_LENGTH = dt.timedelta(minutes=30)
PRODID = "-//PumpCare//Calendar//EN"
CALENDAR_NAMES = {False: "Clinic visits", True: "Pump refills"}
DISCREET_SUMMARY = "Clinic visit"
PLANNED_NOTE = "Planned date: it may still change."

INFUSATE_WORDS = {
    Infusate.FUDR: "FUDR",
    Infusate.FUDR_DEX: "FUDR with dexamethasone",
    Infusate.HEPARINIZED_SALINE: "heparinized saline",
    Infusate.SALINE: "saline",
    Infusate.GLYCERIN: "glycerin",
}


@dataclass(frozen=True)
class FeedState:
    etag: str
    last_modified: dt.datetime


def window_start(today: dt.date) -> dt.date:
    return today - dt.timedelta(days=WINDOW_BACK_DAYS)


def fill_uid(plan_id: int, sequence: int) -> str:
    """Stable for the life of the appointment; says nothing about whose it is."""
    return salted_hmac("pumpcare.feeds.fill-uid", f"{plan_id}:{sequence}", algorithm="sha256").hexdigest()[
        :32
    ] + "@pumpcare"


def phase_uid(plan_id: int, sequence: int) -> str:
    return salted_hmac("pumpcare.feeds.phase-uid", f"{plan_id}:{sequence}", algorithm="sha256").hexdigest()[
        :32
    ] + "@pumpcare"


def _words(infusate: str) -> str:
    return INFUSATE_WORDS[Infusate(infusate)]


def _is_held(row: ScheduledFill) -> bool:
    return row.held or row.kind == FillKind.HELD


def fill_summary(row: ScheduledFill, *, detailed: bool) -> str:
    if not detailed:
        return DISCREET_SUMMARY
    if row.kind == FillKind.IMPLANT:
        return "Pump implant surgery"
    if row.kind == FillKind.CHEMO:
        return f"Pump refill: start {_words(row.infusate)}"
    if _is_held(row):
        return f"Pump refill: {_words(row.infusate)} (chemo on hold)"
    return f"Pump refill: {_words(row.infusate)}"


def phase_summary(row: ScheduledFill) -> str:
    days = (row.phase_end - row.date).days
    if row.is_chemo:
        return f"{_words(row.infusate)} infusing, day 1-{days}"
    words = _words(row.infusate).capitalize()
    if _is_held(row):
        return f"{words} (chemo on hold), day 1-{days}"
    if row.kind == FillKind.REST:
        return f"{words} (rest), day 1-{days}"
    return f"{words}, day 1-{days}"


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC)


def _calendar(*, detailed: bool) -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("name", CALENDAR_NAMES[detailed])
    calendar.add("x-wr-calname", CALENDAR_NAMES[detailed])
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar["X-PUBLISHED-TTL"] = icalendar.vDuration(REFRESH)
    return calendar


def empty_calendar(*, detailed: bool = False) -> bytes:
    """A valid calendar with no events: what a revoked link answers."""
    return _calendar(detailed=detailed).to_ical()


def _fill_event(row: ScheduledFill, zone: ZoneInfo, *, detailed: bool):
    event = icalendar.Event()
    stamp = _utc(row.changed_at)
    event.add("uid", fill_uid(row.plan_id, row.sequence))
    event.add("dtstamp", stamp)
    event.add("last-modified", stamp)
    event.add("sequence", row.revision)
    event.add("summary", fill_summary(row, detailed=detailed))
    if row.appointment_time is not None:
        start = dt.datetime.combine(row.date, row.appointment_time, tzinfo=zone)
        event.add("dtstart", start)
        event.add("dtend", start + VISIT_LENGTH)
    else:
        event.add("dtstart", row.date)
        event.add("dtend", row.date + dt.timedelta(days=1))
        # An all-day marker should not make the whole day look busy to people booking meetings.
        event.add("transp", "TRANSPARENT")
    if not row.recorded:
        event.add("description", PLANNED_NOTE)
    return event


def _phase_event(row: ScheduledFill):
    event = icalendar.Event()
    stamp = _utc(row.changed_at)
    event.add("uid", phase_uid(row.plan_id, row.sequence))
    event.add("dtstamp", stamp)
    event.add("last-modified", stamp)
    event.add("sequence", row.revision)
    event.add("summary", phase_summary(row))
    event.add("dtstart", row.date)
    event.add("dtend", row.phase_end)
    event.add("transp", "TRANSPARENT")
    return event


def build_calendar(*, fills: Sequence[ScheduledFill], time_zone: str, detailed: bool) -> bytes:
    """The VCALENDAR of these fills (active rows of one plan, in the window), deterministic."""
    calendar = _calendar(detailed=detailed)
    zone = ZoneInfo(time_zone)
    for row in sorted(fills, key=lambda r: (r.date, r.sequence)):
        if not row.active:
            continue
        calendar.add_component(_fill_event(row, zone, detailed=detailed))
        if detailed and row.phase_end is not None and row.phase_end > row.date:
            calendar.add_component(_phase_event(row))
    if any(row.appointment_time is not None for row in fills):
        # The VTIMEZONE covers the events' years only, so it (and the body) stays the same day to day.
        years = [row.date.year for row in fills]
        calendar.add_missing_timezones(
            first_date=dt.date(min(years) - 1, 1, 1), last_date=dt.date(max(years) + 2, 1, 1)
        )
    return calendar.to_ical()


def patient_calendar(patient: Patient, *, detailed: bool, today: dt.date | None = None) -> bytes:
    """The feed body for a patient (patient.clinic loaded): their active fills from the window start on."""
    clinic = patient.clinic
    today = today or clinic.today()
    plan = TherapyPlan.objects.filter(patient=patient).first()
    if plan is None:
        return build_calendar(fills=[], time_zone=clinic.time_zone, detailed=detailed)
    fills = list(
        ScheduledFill.objects.filter(plan=plan, active=True, date__gte=window_start(today)).order_by("date", "sequence")
    )
    return build_calendar(fills=fills, time_zone=clinic.time_zone, detailed=detailed)


def feed_state(patient: Patient, *, detailed: bool, today: dt.date | None = None) -> FeedState:
    """ETag and Last-Modified of a patient's feed, from one aggregate query (patient.clinic loaded).

    Covers everything the body depends on: the rows (their count, revisions and newest change,
    appointment times included), the window (it moves at the clinic's midnight), the clinic's zone, the detail level and
    the format.
    """
    clinic = patient.clinic
    today = today or clinic.today()
    state = (
        TherapyPlan.objects.filter(patient=patient)
        .values("pk")
        .annotate(
            rows=Count("scheduled_fills"),
            # Every change of a row raises its revision: the sum moves even when two changes share a timestamp.
            revisions=Sum("scheduled_fills__revision"),
            changed=Max("scheduled_fills__changed_at"),
        )
        .values("pk", "rows", "revisions", "changed")
        .first()
    ) or {"pk": None, "rows": 0, "revisions": 0, "changed": None}
    midnight = dt.datetime.combine(today, dt.time(), tzinfo=clinic.zone)
    moments = [_utc(m) for m in (state["changed"], midnight) if m is not None]
    last_modified = max(moments).replace(microsecond=0)
    key = "|".join(
        str(part)
        for part in (
            FEED_FORMAT, detailed, state["pk"], state["rows"], state["revisions"], state["changed"],
            window_start(today), clinic.time_zone,
        )
    )
    return FeedState(etag=f'"{hashlib.sha256(key.encode()).hexdigest()[:32]}"', last_modified=last_modified)
