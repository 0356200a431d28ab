"""iCalendar feeds of one patient's fills, written with the `icalendar` library.

Two layers. `events_of()` and `render()` are pure: the stored projection (ScheduledFill rows), the clinic's
day and zone and the wording in, the events a person sees and the bytes out. `patient_feed()` keeps what must
survive between fetches: each event's SEQUENCE and LAST-MODIFIED (they rise only when what the event shows
changes) and the built body of each variant (FeedSnapshot), rebuilt only when an input changes.

Interoperability choices (issue 12):
- Timed visits are written in UTC (`DTSTART:20270314T133000Z`), with no VTIMEZONE: every parser reads a UTC
  instant the same way, while a VTIMEZONE's transition rules are read differently by different parsers (ical.js
  and vobject read only the first of a list of RDATEs). The calendar app shows the instant in the viewer's zone,
  which is the clinic's local time for anyone near the clinic. All-day events carry dates, which need no zone.
- UIDs derive from a random per-plan seed (FeedKey), the wording and the fill's sequence: the same appointment
  keeps its UID for its whole life, a discreet and a detailed copy never share one (Google treats UIDs as
  account-wide), and rotating SECRET_KEY changes nothing.
- No METHOD property: a published feed is not an iTIP message (RFC 5546 wants an ORGANIZER with PUBLISH), and
  without METHOD, DTSTAMP is when the event's information last changed (RFC 5545 3.8.7.2).

Privacy: a discreet feed shows the patient's chosen title ("Clinic visit") and whether a visit is planned,
overdue or moved, nothing else: no name, record number, drug, clinic or link to the patient's page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from zoneinfo import ZoneInfo

import icalendar
from dateutil.relativedelta import relativedelta
from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import get_language, gettext, gettext_lazy

from feeds.models import FeedEvent, FeedKey, FeedSettings, FeedSnapshot
from patients.models import Patient
from schedules.models import FillKind, Infusate, ScheduledFill, TherapyPlan

# Bump when the shape of the body changes, so every snapshot is rebuilt.
FEED_FORMAT = 3
# Recorded visits stay in the calendar for a year: people look back at when the last refills were.
WINDOW_BACK = relativedelta(months=12)
REFRESH = dt.timedelta(hours=4)
# A refill takes about ten minutes; the half hour leaves room for the wait and the check-in.
VISIT_LENGTH = dt.timedelta(minutes=30)
PRODID = "-//PumpCare//Calendar//EN"
# Words of the feed, in the language its subscriber chose (patient_feed activates it; see the README).
CALENDAR_NAMES = {False: gettext_lazy("Clinic visits"), True: gettext_lazy("Pump refills")}
STOPPED_SUFFIX = gettext_lazy(" (stopped)")
# The stored default of FeedSettings.discreet_title: shown in the subscriber's language until the patient
# chooses their own words.
DISCREET_SUMMARY = "Clinic visit"
PLANNED_NOTE = gettext_lazy("Planned date: it may still change.")
OVERDUE_NOTE = gettext_lazy("Overdue: call the clinic.")
OVERDUE_SUFFIX = gettext_lazy(" (overdue: call the clinic)")
CLOSED_DAY_NOTE = gettext_lazy("The clinic is closed on this date: it will agree a new date with you.")
WORDINGS = {False: "discreet", True: "detailed"}

INFUSATE_WORDS = {
    Infusate.FUDR: "FUDR",
    Infusate.FUDR_DEX: gettext_lazy("FUDR with dexamethasone"),
    Infusate.HEPARINIZED_SALINE: gettext_lazy("heparinized saline"),
    Infusate.SALINE: gettext_lazy("saline"),
    Infusate.GLYCERIN: gettext_lazy("glycerin"),
}


@dataclass(frozen=True)
class ClinicCard:
    """What a detailed feed says about the clinic: where it is and how to call it."""

    name: str
    address: str
    phone: str


@dataclass(frozen=True)
class Shown:
    """One event as a calendar shows it: when any field changes, its SEQUENCE rises."""

    uid: str
    summary: str
    start: dt.date | dt.datetime
    end: dt.date | dt.datetime
    status: str
    description: str = ""
    location: str = ""
    url: str = ""
    transparent: bool = False

    @property
    def digest(self) -> str:
        return hashlib.sha256(repr(astuple(self)).encode()).hexdigest()


@dataclass(frozen=True)
class Stamp:
    sequence: int
    modified: dt.datetime


@dataclass(frozen=True)
class Snapshot:
    etag: str
    last_modified: dt.datetime
    body: bytes


def window_start(today: dt.date) -> dt.date:
    return today - WINDOW_BACK


def event_uid(seed: uuid.UUID, *, detailed: bool, kind: str, sequence: int) -> str:
    """Stable for the life of the appointment, distinct per wording and language; says nothing about whose it is.

    The language is the active one (patient_feed's): an English and a Spanish calendar of one patient are two
    calendars, so their events must not share a UID (nor its SEQUENCE).
    """
    language = get_language()
    wording = WORDINGS[detailed] if language == django_settings.LANGUAGE_CODE else f"{WORDINGS[detailed]}-{language}"
    return f"{uuid.uuid5(seed, f'{wording}/{kind}/{sequence}').hex}@pumpcare"


def calendar_name(settings: FeedSettings | None, *, detailed: bool) -> str:
    chosen = settings.calendar_name if settings is not None else ""
    return chosen or str(CALENDAR_NAMES[detailed])


def discreet_title(settings: FeedSettings | None) -> str:
    chosen = settings.discreet_title if settings is not None else ""
    # The default words are the site's, so they follow the reader's language; the patient's own words do not.
    return gettext("Clinic visit") if chosen in ("", DISCREET_SUMMARY) else chosen


def _words(infusate: str) -> str:
    return str(INFUSATE_WORDS[Infusate(infusate)])


def _is_held(row: ScheduledFill) -> bool:
    return row.held or row.kind == FillKind.HELD


def fill_summary(row: ScheduledFill, *, detailed: bool, title: str = DISCREET_SUMMARY) -> str:
    if not detailed:
        return title
    if row.kind == FillKind.IMPLANT:
        return gettext("Pump implant surgery")
    if row.kind == FillKind.CHEMO:
        return gettext("Pump refill: start %(name)s") % {"name": _words(row.infusate)}
    if _is_held(row):
        return gettext("Pump refill: %(name)s (chemo on hold)") % {"name": _words(row.infusate)}
    return gettext("Pump refill: %(name)s") % {"name": _words(row.infusate)}


def phase_summary(row: ScheduledFill) -> str:
    days = (row.phase_end - row.date).days
    if row.is_chemo:
        return gettext("%(name)s infusing, day 1-%(days)d") % {"name": _words(row.infusate), "days": days}
    words = {"name": _words(row.infusate).capitalize(), "days": days}
    if _is_held(row):
        return gettext("%(name)s (chemo on hold), day 1-%(days)d") % words
    if row.kind == FillKind.REST:
        return gettext("%(name)s (rest), day 1-%(days)d") % words
    return gettext("%(name)s, day 1-%(days)d") % words


def _is_fact(row: ScheduledFill) -> bool:
    # A recorded refill happened; the implant is the surgery, a fact that never moves (S7) and is never recorded.
    return row.recorded or row.kind == FillKind.IMPLANT


def _is_overdue(row: ScheduledFill, today: dt.date) -> bool:
    return not _is_fact(row) and row.date < today


def _notes(row: ScheduledFill, today: dt.date) -> list[str]:
    """What a person needs to know about this visit, in both wordings (none of it is medical)."""
    if _is_fact(row):
        return []
    if _is_overdue(row, today):
        return [str(OVERDUE_NOTE)]
    notes = [str(PLANNED_NOTE)]
    if row.moved_from is not None:
        day = date_format(row.moved_from, "WEEKDAY_DAY_MONTH_FORMAT")
        notes.append(gettext("Moved from %(day)s: clinic closed.") % {"day": day})
    if row.closed_day:
        notes.append(str(CLOSED_DAY_NOTE))
    return notes


def _clinic_lines(clinic: ClinicCard, page_url: str) -> list[str]:
    lines = [gettext("%(clinic)s, phone %(phone)s") % {"clinic": clinic.name, "phone": clinic.phone}
             if clinic.phone else clinic.name]
    if page_url:
        lines.append(gettext("Your schedule: %(url)s") % {"url": page_url})
    return lines


def _fill_event(row, *, seed, today, zone, detailed, title, clinic, page_url) -> Shown:
    summary = fill_summary(row, detailed=detailed, title=title)
    if _is_overdue(row, today):
        summary += str(OVERDUE_SUFFIX)
    lines = _notes(row, today)
    if detailed and clinic is not None:
        lines += _clinic_lines(clinic, page_url)
    if row.appointment_time is not None:
        start = dt.datetime.combine(row.date, row.appointment_time, tzinfo=zone).astimezone(dt.UTC)
        end, transparent = start + VISIT_LENGTH, False
    else:
        # An all-day marker should not make the whole day look busy to people booking meetings.
        start, end, transparent = row.date, row.date + dt.timedelta(days=1), True
    return Shown(
        uid=event_uid(seed, detailed=detailed, kind="fill", sequence=row.sequence),
        summary=summary,
        start=start,
        end=end,
        status="CONFIRMED" if _is_fact(row) else "TENTATIVE",
        description="\n".join(lines),
        location=", ".join(p for p in (clinic.name, clinic.address) if p) if detailed and clinic else "",
        url=page_url if detailed else "",
        transparent=transparent,
    )


def _phase_event(row, *, seed) -> Shown:
    return Shown(
        uid=event_uid(seed, detailed=True, kind="phase", sequence=row.sequence),
        summary=phase_summary(row),
        start=row.date,
        end=row.phase_end,
        status="CONFIRMED" if _is_fact(row) else "TENTATIVE",
        transparent=True,
    )


def events_of(
    fills: Sequence[ScheduledFill],
    *,
    seed: uuid.UUID,
    today: dt.date,
    time_zone: str,
    detailed: bool,
    title: str = DISCREET_SUMMARY,
    clinic: ClinicCard | None = None,
    page_url: str = "",
) -> list[Shown]:
    """The events of these fills (rows of one plan) as the calendar shows them, in date order."""
    zone = ZoneInfo(time_zone)
    shown = []
    for row in sorted(fills, key=lambda r: (r.date, r.sequence)):
        if not row.active or row.date < window_start(today):
            continue
        shown.append(
            _fill_event(
                row, seed=seed, today=today, zone=zone, detailed=detailed, title=title, clinic=clinic,
                page_url=page_url,
            )
        )
        if detailed and row.phase_end is not None and row.phase_end > row.date:
            shown.append(_phase_event(row, seed=seed))
    return shown


def _calendar(name: str) -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("name", name)
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar["X-PUBLISHED-TTL"] = icalendar.vDuration(REFRESH)
    return calendar


def render(shown: Sequence[Shown], stamps: dict[str, Stamp], *, name: str) -> bytes:
    """The VCALENDAR of these events: deterministic, so an unchanged schedule gives the same bytes."""
    calendar = _calendar(name)
    for item in shown:
        stamp = stamps[item.uid]
        event = icalendar.Event()
        event.add("uid", item.uid)
        event.add("dtstamp", stamp.modified)
        event.add("last-modified", stamp.modified)
        event.add("sequence", stamp.sequence)
        event.add("summary", item.summary)
        event.add("dtstart", item.start)
        event.add("dtend", item.end)
        event.add("status", item.status)
        if item.transparent:
            event.add("transp", "TRANSPARENT")
        if item.description:
            event.add("description", item.description)
        if item.location:
            event.add("location", item.location)
        if item.url:
            event.add("url", item.url)
        calendar.add_component(event)
    return calendar.to_ical()


def stopped_calendar(name: str) -> bytes:
    """What a stopped or replaced link answers for a while: no events (so apps clear them), a name that says why."""
    return _calendar(name + str(STOPPED_SUFFIX)).to_ical()


def _second(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(microsecond=0)


def later_than(previous: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """Now, to the second (iCalendar and HTTP dates have no fractions), but always after `previous`."""
    now = _second(now)
    if previous is not None and now <= previous:
        return _second(previous) + dt.timedelta(seconds=1)
    return now


def stamp_events(plan: TherapyPlan, shown: Sequence[Shown], *, now: dt.datetime) -> dict[str, Stamp]:
    """Each event's SEQUENCE and LAST-MODIFIED: kept while its content is the same, raised when it changes.

    The caller holds the plan's FeedKey lock, so two builds cannot raise the same event twice.
    """
    known = {event.uid: event for event in FeedEvent.objects.filter(plan=plan, uid__in=[s.uid for s in shown])}
    stamps, new, changed = {}, [], []
    for item in shown:
        event = known.get(item.uid)
        if event is None:
            event = FeedEvent(plan=plan, uid=item.uid, digest=item.digest, sequence=0, modified_at=_second(now))
            new.append(event)
        elif event.digest != item.digest:
            event.digest = item.digest
            event.sequence += 1
            event.modified_at = later_than(event.modified_at, now)
            changed.append(event)
        stamps[item.uid] = Stamp(event.sequence, _second(event.modified_at))
    FeedEvent.objects.bulk_create(new)
    FeedEvent.objects.bulk_update(changed, ["digest", "sequence", "modified_at"])
    return stamps


def settings_of(patient: Patient) -> FeedSettings | None:
    try:
        return patient.feed_settings
    except FeedSettings.DoesNotExist:
        return None


def clinic_card(patient: Patient) -> ClinicCard:
    clinic = patient.clinic
    return ClinicCard(name=clinic.name, address=clinic.address, phone=clinic.phone)


def _digest(*parts) -> str:
    return hashlib.sha256("|".join(str(part) for part in parts).encode()).hexdigest()


def content_version(patient: Patient, *, variant: str, today: dt.date) -> str:
    """A hash of every input of the body, from one aggregate query (patient.clinic loaded).

    The rows (their count, revisions and newest change: every change of a row raises its revision, so the sum
    moves even when two changes share a timestamp), the clinic's day (the window and "overdue" move with it),
    zone and card, and the variant (wording, title, name, site).
    """
    state = (
        TherapyPlan.objects.filter(patient=patient)
        .values("pk")
        .annotate(
            rows=Count("scheduled_fills"),
            revisions=Sum("scheduled_fills__revision"),
            changed=Max("scheduled_fills__changed_at"),
        )
        .values_list("pk", "rows", "revisions", "changed")
        .first()
    )
    return _digest(FEED_FORMAT, variant, state, today, patient.clinic.time_zone, clinic_card(patient))


def feed_variant(*, detailed: bool, title: str, name: str, page_url: str) -> str:
    """Which snapshot: wording, title, name, site, and the active language (other than English)."""
    parts = [WORDINGS[detailed], title if not detailed else "", name, page_url]
    if get_language() != django_settings.LANGUAGE_CODE:
        parts.append(get_language())
    return _digest(*parts)


def patient_feed(
    patient: Patient, *, detailed: bool, page_url: str = "", today: dt.date | None = None, language: str | None = None
) -> Snapshot:
    """The feed in ``language`` (the subscriber's; default the site's): titles, descriptions and the name."""
    with translation.override(language or django_settings.LANGUAGE_CODE):
        return _patient_feed(patient, detailed=detailed, page_url=page_url, today=today)


def _patient_feed(patient: Patient, *, detailed: bool, page_url: str, today: dt.date | None) -> Snapshot:
    """The feed of a patient (patient.clinic loaded): the stored snapshot while no input changed, else rebuilt.

    A rebuild whose bytes come out the same keeps the ETag and Last-Modified; otherwise Last-Modified moves to
    now, and always forward (two changes within one second still give two Last-Modified values).
    """
    today = today or patient.clinic.today()
    settings = settings_of(patient)
    title, name = discreet_title(settings), calendar_name(settings, detailed=detailed)
    page_url = page_url if detailed else ""
    variant = feed_variant(detailed=detailed, title=title, name=name, page_url=page_url)
    version = content_version(patient, variant=variant, today=today)
    snapshot = FeedSnapshot.objects.filter(patient=patient, variant=variant).first()
    if snapshot is not None and snapshot.version == version:
        return Snapshot(snapshot.etag, snapshot.last_modified, bytes(snapshot.body))
    return _rebuild(patient, detailed=detailed, title=title, name=name, page_url=page_url, variant=variant,
                    version=version, today=today)


def _rebuild(patient, *, detailed, title, name, page_url, variant, version, today) -> Snapshot:
    # A with block, not the decorator: the same transaction, and mutmut (make mutation) mutates the body.
    with transaction.atomic():
        now = timezone.now()
        plan = TherapyPlan.objects.filter(patient=patient).first()
        shown, stamps = [], {}
        if plan is not None:
            FeedKey.objects.get_or_create(plan=plan)
            key = FeedKey.objects.select_for_update().get(plan=plan)
            fills = ScheduledFill.objects.filter(plan=plan, active=True, date__gte=window_start(today))
            shown = events_of(
                list(fills), seed=key.seed, today=today, time_zone=patient.clinic.time_zone, detailed=detailed,
                title=title, clinic=clinic_card(patient), page_url=page_url,
            )
            stamps = stamp_events(plan, shown, now=now)
        body = render(shown, stamps, name=name)
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        snapshot = FeedSnapshot.objects.select_for_update().filter(patient=patient, variant=variant).first()
        if snapshot is None:
            snapshot = FeedSnapshot(patient=patient, variant=variant, etag=etag, last_modified=_second(now), body=body)
        elif snapshot.etag != etag:
            snapshot.etag, snapshot.body = etag, body
            snapshot.last_modified = later_than(snapshot.last_modified, now)
        snapshot.version = version
        snapshot.save()
        return Snapshot(snapshot.etag, _second(snapshot.last_modified), body)
