"""The iCalendar feed and the .ics download: every feed parsed back with icalendar, vobject and ical.js.

tests/feed_parsers.py reads a body with all three and fails unless they see the same events; the tests below
then assert on what they saw.
"""

import datetime as dt
import logging
import re
import uuid
from zoneinfo import ZoneInfo

import fakeredis
import icalendar
import pytest
import recurring_ical_events
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from feeds import answers, fetchlog, ical, subscriptions
from feeds.models import FeedKey
from patients.models import AccessEvent
from schedules import services
from schedules.models import CalendarSubscription, FillKind, RecordedFill, ScheduledFill, TherapyPlan
from tests import feed_parsers
from tests.conftest import NOW, TODAY, make_patient

NEW_YORK = ZoneInfo("America/New_York")
UID = re.compile(r"^[0-9a-f]{32}@pumpcare$")


def subscribe(patient, *, detail="discreet", by=None):
    subscription, token = subscriptions.subscription_create(
        patient=patient, name="Phone", detail=detail, by=by or patient.user
    )
    return subscription, token


def feed_url(token):
    return reverse("feeds:feed", kwargs={"token": token})


_READ: set[bytes] = set()


def fetch(client, token, **headers):
    """GET a feed; every distinct calendar it returns is read by all three parsers (and must conform)."""
    response = client.get(feed_url(token), headers=headers)
    if response.status_code == 200 and response.content not in _READ:
        feed_parsers.read(response.content)
        _READ.add(response.content)
    return response


def parse(body: bytes) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(body)


def events(calendar) -> list[icalendar.Event]:
    return list(calendar.walk("VEVENT"))


def by_uid(calendar) -> dict[str, icalendar.Event]:
    return {str(event["UID"]): event for event in events(calendar)}


def seen(body: bytes) -> dict[str, feed_parsers.Seen]:
    """The events as icalendar, vobject and ical.js all see them (they must agree)."""
    return {event.uid: event for event in feed_parsers.read(body).events}


def expanded(body: bytes, start=TODAY - dt.timedelta(days=400), end=TODAY + dt.timedelta(days=800)):
    """The events as recurring-ical-events expands them (what many sync tools use)."""
    return recurring_ical_events.of(icalendar.Calendar.from_ical(body)).between(start, end)


def active_rows(patient, since=TODAY - dt.timedelta(days=366)):
    return list(ScheduledFill.objects.filter(plan__patient=patient, active=True, date__gte=since).order_by("date"))


def uid(patient, row_or_sequence, *, detailed=False, kind="fill"):
    sequence = getattr(row_or_sequence, "sequence", row_or_sequence)
    seed = FeedKey.objects.get(plan__patient=patient).seed
    return ical.event_uid(seed, detailed=detailed, kind=kind, sequence=sequence)


@pytest.fixture
def discreet(patient_a):
    return subscribe(patient_a)


@pytest.fixture
def detailed(patient_a):
    return subscribe(patient_a, detail="detailed")


def test_calendar_properties(client, discreet):
    response = fetch(client, discreet[1])
    assert response.status_code == 200
    calendar = parse(response.content)
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"] == ical.PRODID
    assert calendar["CALSCALE"] == "GREGORIAN"
    # A feed is not an iTIP message: METHOD:PUBLISH without ORGANIZER breaks RFC 5546.
    assert "METHOD" not in calendar and b"METHOD" not in response.content
    assert calendar["NAME"] == calendar["X-WR-CALNAME"] == "Clinic visits"
    assert feed_parsers.read(response.content).name == "Clinic visits"
    refresh = calendar["REFRESH-INTERVAL"]
    assert refresh.params["VALUE"] == "DURATION" and refresh.dt == dt.timedelta(hours=4)
    assert b"X-PUBLISHED-TTL:PT4H" in response.content
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT4H" in response.content


def test_feed_headers(client, discreet, detailed):
    response = fetch(client, discreet[1], accept_encoding="gzip, deflate")
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"].startswith("private")
    assert "max-age=" in response["Cache-Control"]
    assert response["X-Robots-Tag"].startswith("noindex")
    assert response["ETag"].startswith('"') and response["Last-Modified"].endswith("GMT")
    assert response["Content-Disposition"] == 'inline; filename="clinic-visits.ics"'
    assert fetch(client, detailed[1])["Content-Disposition"] == 'inline; filename="pump-refills.ics"'
    assert not response.has_header("Content-Encoding")
    assert response.content.startswith(b"BEGIN:VCALENDAR")


def test_discreet_feed_has_one_neutral_all_day_event_per_fill(client, discreet, patient_a):
    body = fetch(client, discreet[1]).content
    calendar = parse(body)
    rows = active_rows(patient_a)
    found = events(calendar)
    assert len(found) == len(rows) > 5
    assert len(expanded(body)) == len(rows)
    assert len(seen(body)) == len(rows)
    overdue = 0
    for row, event in zip(rows, found, strict=True):
        fact = row.recorded or row.kind == FillKind.IMPLANT  # the surgery is never overdue and never moves
        if not fact and row.date < TODAY:
            assert event["SUMMARY"] == "Clinic visit (overdue: call the clinic)"
            assert event["DESCRIPTION"] == "Overdue: call the clinic."
            overdue += 1
        else:
            assert event["SUMMARY"] == "Clinic visit"
            assert event.get("DESCRIPTION") == (None if fact else ical.PLANNED_NOTE)
        assert event.start == row.date and not isinstance(event.start, dt.datetime)
        assert event["DTSTART"].params.get("VALUE") == "DATE"
        assert event.end == row.date + dt.timedelta(days=1)
        assert event["TRANSP"] == "TRANSPARENT", "an all-day marker leaves the day free for meetings"
        assert UID.match(str(event["UID"]))
        assert event["SEQUENCE"] == 0, "first time shown"
        assert event["DTSTAMP"].dt == NOW == event["LAST-MODIFIED"].dt
        assert event["DTSTAMP"].dt.utcoffset() == dt.timedelta(0)
        assert event["STATUS"] == ("CONFIRMED" if fact else "TENTATIVE")
        assert "LOCATION" not in event and "URL" not in event
    assert overdue == 1, "patient A's first refill is overdue (the surgery before it is not)"
    assert len({str(e["UID"]) for e in found}) == len(found)
    for event in expanded(body):
        assert str(event["SUMMARY"]).startswith("Clinic visit")


def test_discreet_feed_contains_none_of_the_patients_identifiers(client, discreet, patient_a, staff_a):
    patient_a.email = "alice.ames@example.org"
    patient_a.save()
    # A timed visit, an overdue one and a moved one: what they say must stay as discreet.
    services.fill_record(plan=patient_a.plan, date=TODAY - dt.timedelta(days=1), infusate="fudr", by=staff_a,
                         appointment_time=dt.time(9, 30))
    body = fetch(client, discreet[1]).content
    for event in feed_parsers.read(body).events:
        assert event.summary in ("Clinic visit", "Clinic visit (overdue: call the clinic)")
    body = body.lower()
    # UIDs are 32 random hex digits from the plan's seed: they match the pattern (so carry no identifier), and are
    # blanked before the search below, where a chance "a100" inside one would be a false alarm (it was, in CI).
    uids = re.findall(rb"^uid:(.*)\r$", body, flags=re.MULTILINE)
    assert uids and all(UID.match(found.decode()) for found in uids)
    body = re.sub(rb"^uid:.*\r$", b"uid:\r", body, flags=re.MULTILINE)
    # The product's own name is in PRODID, never shown: the rest must not say "pump".
    unbranded = body.replace(b"pumpcare", b"")
    dob = patient_a.date_of_birth
    identifiers = [
        "Alice", "Ames", "A-100", "A100", patient_a.email, "Clinic A", str(patient_a.public_id),
        patient_a.public_id.hex, dob.isoformat(), dob.strftime("%Y%m%d"), dob.strftime("%m/%d/%Y"),
        f"{dob.month}/{dob.day}/{dob.year}", dob.strftime("%d.%m.%Y"), dob.strftime("%d/%m/%Y"),
        "America/New_York", "555 0100", "/p/",
    ]
    for identifier in identifiers:
        assert identifier.lower().encode() not in body, identifier
    for medical in ("fudr", "saline", "chemo", "pump", "infus", "hepat", "cancer", "dexameth", "glycerin"):
        assert medical.encode() not in unbranded, medical


def test_detailed_feed_names_the_fills_and_phases(client, detailed, patient_a, staff_a):
    services.fill_record(plan=patient_a.plan, date=TODAY, infusate="fudr", by=staff_a)  # a phase that happened
    body = fetch(client, detailed[1]).content
    calendar = parse(body)
    assert calendar["X-WR-CALNAME"] == "Pump refills"
    assert b"Alice" not in body and b"A-100" not in body
    uids = by_uid(calendar)
    rows = active_rows(patient_a)
    fills = {uid(patient_a, row, detailed=True): row for row in rows}
    phases = {uid(patient_a, row, detailed=True, kind="phase"): row for row in rows if row.phase_end}
    assert set(uids) == set(fills) | set(phases)
    assert not set(fills) & set(phases)
    summaries = {str(uids[uid]["SUMMARY"]) for uid in fills}
    assert "Pump refill: start FUDR" in summaries
    assert "Pump refill: heparinized saline" in summaries
    words = {"fudr": "FUDR", "heparinized_saline": "heparinized saline", "saline": "saline", "glycerin": "glycerin"}
    for key, row in fills.items():
        name = words[row.infusate]
        expected = {FillKind.IMPLANT: "Pump implant surgery", FillKind.CHEMO: f"Pump refill: start {name}"}
        summary = str(uids[key]["SUMMARY"]).removesuffix(" (overdue: call the clinic)")
        assert summary == expected.get(row.kind, f"Pump refill: {name}"), row.kind
    assert any(row.kind == FillKind.IMPLANT for row in fills.values()), "the surgery is in the 12 months shown"
    for key, row in phases.items():
        event = uids[key]
        assert event["TRANSP"] == "TRANSPARENT"
        assert event.start == row.date and event.end == row.phase_end
        fact = row.recorded or row.kind == FillKind.IMPLANT  # a recorded phase happened; so did the surgery's
        assert event["STATUS"] == ("CONFIRMED" if fact else "TENTATIVE"), row.kind
        days = (row.phase_end - row.date).days
        if row.kind == FillKind.CHEMO:
            assert event["SUMMARY"] == f"FUDR infusing, day 1-{days}"
        elif row.kind == FillKind.REST:
            assert event["SUMMARY"] == f"Heparinized saline (rest), day 1-{days}"
        else:  # the pump's first filling at surgery, and maintenance refills: no "(rest)"
            assert row.kind in (FillKind.IMPLANT, FillKind.MAINTENANCE)
            words = {"heparinized_saline": "Heparinized saline", "saline": "Saline", "glycerin": "Glycerin"}
            assert event["SUMMARY"] == f"{words[row.infusate]}, day 1-{days}"
    assert {uids[key]["STATUS"] for key in phases} == {"CONFIRMED", "TENTATIVE"}
    assert len(expanded(body)) == len(uids) == len(seen(body))


def test_held_chemo_fill_says_so(client, detailed, patient_a, staff_a):
    plan = patient_a.plan
    chemo = ScheduledFill.objects.filter(plan=plan, kind=FillKind.CHEMO, recorded=False, date__gt=TODAY).first()
    services.hold_add(plan=plan, sequence=chemo.sequence, reason="ALP rising", by=staff_a)
    found = seen(fetch(client, detailed[1]).content)
    assert found[uid(patient_a, chemo, detailed=True)].summary == "Pump refill: heparinized saline (chemo on hold)"
    # The two weeks after it: saline in the pump, and the calendar says why there is no chemo.
    phase = found[uid(patient_a, chemo, detailed=True, kind="phase")]
    assert phase.summary == "Heparinized saline (chemo on hold), day 1-14"


def test_body_is_byte_identical_while_nothing_changed(client, detailed, time_machine):
    first = fetch(client, detailed[1]).content
    time_machine.move_to(NOW + dt.timedelta(hours=5), tick=False)  # still the same clinic day
    assert fetch(client, detailed[1]).content == first


def test_late_fill_moves_the_same_uids_with_a_higher_sequence(client, discreet, patient_a, staff_a, time_machine):
    before = by_uid(parse(fetch(client, discreet[1]).content))
    plan = patient_a.plan
    due = ScheduledFill.objects.filter(plan=plan, recorded=False, active=True).exclude(kind="implant").first()
    later = list(ScheduledFill.objects.filter(plan=plan, active=True, sequence__gt=due.sequence))
    late_day = TODAY
    assert late_day > due.date
    time_machine.move_to(NOW + dt.timedelta(hours=1), tick=False)
    services.fill_record(plan=plan, date=late_day, infusate="fudr", by=staff_a)
    after = by_uid(parse(fetch(client, discreet[1]).content))
    assert set(after) >= {uid(patient_a, row) for row in later}
    moved = 0
    for row in later:
        key = uid(patient_a, row)
        if key not in before:
            continue
        assert after[key]["SEQUENCE"] > before[key]["SEQUENCE"]
        assert after[key].start > before[key].start
        assert after[key]["DTSTAMP"].dt > before[key]["DTSTAMP"].dt
        assert after[key]["DTSTAMP"].dt == after[key]["LAST-MODIFIED"].dt == NOW + dt.timedelta(hours=1)
        moved += 1
    assert moved >= 5
    key = uid(patient_a, due)
    assert after[key].start == late_day and after[key]["SEQUENCE"] > before[key]["SEQUENCE"]
    assert after[key]["STATUS"] == "CONFIRMED" and before[key]["STATUS"] == "TENTATIVE"


def test_ended_therapy_takes_the_future_events_out(client, detailed, patient_a):
    before = by_uid(parse(fetch(client, detailed[1]).content))
    services.therapy_end(plan=patient_a.plan, end_date=TODAY, reason=TherapyPlan.EndReason.PUMP_REMOVED)
    cache.clear()  # schedule changes reach a cached answer within FEED_ANSWER_SECONDS
    body = fetch(client, detailed[1]).content
    after = by_uid(parse(body))
    assert after, "the fills up to today stay"
    assert all(event.start <= TODAY for event in after.values())
    assert any(event.start > TODAY for event in before.values())
    assert set(after) < set(before)
    assert all(event.start <= TODAY for event in expanded(body))


def test_recorded_visits_of_the_last_12_months_stay(client, discreet, clinic_a, staff_a, time_machine):
    patient = make_patient(clinic_a, "Olga Old", "A-901", surgery=TODAY - dt.timedelta(days=500))
    _, token = subscriptions.subscription_create(patient=patient, name="All", detail="discreet", by=staff_a)
    rows = ScheduledFill.objects.filter(plan__patient=patient, active=True)
    assert rows.filter(date__lt=TODAY - dt.timedelta(days=366)).exists()
    kept = rows.filter(date__gte=dt.date(2025, 3, 10), date__lt=TODAY - dt.timedelta(days=300)).count()
    assert kept > 0
    starts = [dt.date.fromisoformat(event.start) for event in feed_parsers.read(fetch(client, token).content).events]
    assert min(starts) >= dt.date(2025, 3, 10), "older than 12 months: gone"
    assert sum(1 for start in starts if start < TODAY - dt.timedelta(days=300)) == kept


def test_a_visit_exactly_12_months_ago_stays_the_day_before_is_gone(client, clinic_a, staff_a):
    patient = make_patient(clinic_a, "Olga Old", "A-901", surgery=TODAY - dt.timedelta(days=500))
    first = dt.date(2025, 3, 10)  # 12 months before TODAY, 10 March 2026
    for day in (first - dt.timedelta(days=1), first):
        services.fill_record(plan=patient.plan, date=day, infusate="heparinized_saline", by=staff_a)
    _, token = subscriptions.subscription_create(patient=patient, name="All", detail="discreet", by=staff_a)
    starts = {event.start for event in feed_parsers.read(fetch(client, token).content).events}
    assert first.isoformat() in starts
    assert min(starts) == first.isoformat(), "the visit of 9 March 2025 is more than 12 months ago"


def test_the_clinics_new_zone_address_and_phone_reach_the_feed_at_once(client, detailed, patient_a, clinic_a,
                                                                       staff_a):
    due = ScheduledFill.objects.filter(plan=patient_a.plan, recorded=False, active=True).exclude(kind="implant").first()
    services.fill_record(plan=patient_a.plan, date=TODAY, infusate="fudr", by=staff_a, appointment_time=dt.time(9, 30))
    body = fetch(client, detailed[1]).content
    key = uid(patient_a, due, detailed=True)
    before = seen(body)[key]
    assert before.start == "2026-03-10T13:30:00Z" and before.location == "Clinic A"
    assert "TRANSP" not in by_uid(parse(body))[key], "the half hour of a timed visit shows as busy"
    # Still 10 March in Chicago (NOW is 10:00 there), so the clinic's day does not change: only its zone does.
    clinic_a.time_zone = "America/Chicago"
    clinic_a.save()
    cache.clear()
    moved = seen(fetch(client, detailed[1]).content)[key]
    assert moved.start == "2026-03-10T14:30:00Z", "09:30 in Chicago"
    assert moved.sequence == before.sequence + 1
    clinic_a.address, clinic_a.phone = "1 Lake Street, Chicago", "+1 312 555 0100"
    clinic_a.save()
    cache.clear()
    card = seen(fetch(client, detailed[1]).content)[key]
    assert card.location == "Clinic A, 1 Lake Street, Chicago"
    assert "Clinic A, phone +1 312 555 0100" in card.description.split("\n")


def test_a_release_that_changes_the_feeds_shape_serves_the_new_shape_at_once(client, discreet, monkeypatch):
    """ical.FEED_FORMAT rises with every change to the shape of the body, so a stored body is built again."""
    before = fetch(client, discreet[1]).content
    monkeypatch.setattr(ical, "PRODID", "-//PumpCare//Calendar 2//EN")  # the new release's shape
    cache.clear()
    assert fetch(client, discreet[1]).content == before, "the same format: the stored body is served"
    monkeypatch.setattr(ical, "FEED_FORMAT", ical.FEED_FORMAT + 1)
    cache.clear()
    assert parse(fetch(client, discreet[1]).content)["PRODID"] == "-//PumpCare//Calendar 2//EN"


def test_two_patients_feeds_keep_their_own_last_modified(client, discreet, detailed, clinic_a, staff_a, time_machine,
                                                         monkeypatch):
    """Two patients with the same wording share no stored feed: one's build never moves the other's date."""
    other = make_patient(clinic_a, "Bea Brook", "A-102", surgery=TODAY - dt.timedelta(days=40))
    _, token = subscriptions.subscription_create(patient=other, name="Phone", detail="discreet", by=staff_a)
    mine = fetch(client, discreet[1])
    theirs = fetch(client, token)
    assert mine.content != theirs.content
    time_machine.move_to(NOW + dt.timedelta(hours=1), tick=False)
    cache.clear()
    for response, link in ((mine, discreet[1]), (theirs, token), (mine, discreet[1])):
        assert fetch(client, link, if_modified_since=response["Last-Modified"]).status_code == 304
        assert fetch(client, link).content == response.content
    # And each (the first patient's two wordings too) is served from its own stored body, never built again while
    # nothing changed.
    words = fetch(client, detailed[1])
    monkeypatch.setattr(ical, "render", lambda *a, **k: pytest.fail("built the calendar"))
    for response, link in ((mine, discreet[1]), (theirs, token), (words, detailed[1]), (mine, discreet[1])):
        cache.clear()
        assert fetch(client, link).content == response.content


def test_a_visit_due_today_is_not_overdue_yet(client, clinic_a, staff_a):
    patient = make_patient(clinic_a, "Tia Today", "A-903", surgery=TODAY - dt.timedelta(days=14))
    row = ScheduledFill.objects.get(plan__patient=patient, date=TODAY, active=True)  # the first chemo fill
    _, token = subscriptions.subscription_create(patient=patient, name="Phone", detail="discreet", by=staff_a)
    event = seen(fetch(client, token).content)[uid(patient, row)]
    assert (event.summary, event.description) == ("Clinic visit", "Planned date: it may still change.")


def test_overdue_visit_says_so_in_both_wordings(client, discreet, detailed, patient_a, time_machine):
    due = ScheduledFill.objects.filter(plan__patient=patient_a, recorded=False, active=True,
                                       date__gte=TODAY).exclude(kind="implant").first()
    before = seen(fetch(client, discreet[1]).content)[uid(patient_a, due)]
    assert before.description == ical.PLANNED_NOTE and before.summary == "Clinic visit"
    time_machine.move_to(dt.datetime.combine(due.date + dt.timedelta(days=1), dt.time(17), tzinfo=dt.UTC), tick=False)
    cache.clear()
    after = seen(fetch(client, discreet[1]).content)[uid(patient_a, due)]
    assert after.summary == "Clinic visit (overdue: call the clinic)"
    assert after.description.startswith("Overdue: call the clinic.")
    assert after.sequence == before.sequence + 1
    words = seen(fetch(client, detailed[1]).content)[uid(patient_a, due, detailed=True)]
    assert words.summary.startswith("Pump refill") and words.summary.endswith("(overdue: call the clinic)")
    assert words.description.startswith("Overdue: call the clinic.")


def test_timed_visits_are_utc_instants_every_parser_reads_alike(client, detailed, patient_a, staff_a):
    plan = patient_a.plan
    due = ScheduledFill.objects.filter(plan=plan, recorded=False, active=True).exclude(kind="implant").first()
    fill, _ = services.fill_record(
        plan=plan, date=TODAY, infusate="fudr", by=staff_a, appointment_time=dt.time(9, 30)
    )
    body = fetch(client, detailed[1]).content
    calendar = parse(body)
    key = uid(patient_a, due, detailed=True)
    event = by_uid(calendar)[key]
    assert "TZID" not in event["DTSTART"].params and b"DTSTART:20260310T133000Z" in body
    assert event.start == dt.datetime(2026, 3, 10, 9, 30, tzinfo=NEW_YORK)
    assert event.end - event.start == ical.VISIT_LENGTH
    assert calendar.walk("VTIMEZONE") == []
    assert seen(body)[key].start == "2026-03-10T13:30:00Z"
    second = [e for e in expanded(body) if str(e["UID"]) == key]
    assert len(second) == 1 and second[0].start.astimezone(dt.UTC) == dt.datetime(2026, 3, 10, 13, 30, tzinfo=dt.UTC)

    services.fill_correct(fill=RecordedFill.objects.get(pk=fill.pk), by=staff_a, appointment_time=dt.time(10, 15))
    cache.clear()
    corrected = seen(fetch(client, detailed[1]).content)[key]
    assert corrected.start == "2026-03-10T14:15:00Z"
    assert corrected.sequence > event["SEQUENCE"]


def fake_row(sequence: int, day: dt.date, time: dt.time | None, **extra) -> ScheduledFill:
    return ScheduledFill(plan_id=1, clinic_id=1, sequence=sequence, date=day, infusate="heparinized_saline",
                         kind=FillKind.MAINTENANCE, phase_days=14, recorded=True, appointment_time=time,
                         changed_at=NOW, **extra)


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Paris", "Australia/Sydney"])
def test_two_years_of_dst_changes_read_alike_in_three_parsers(zone):
    """Timed visits every week for two years, and on, before and after every DST change (at the hours that
    do not exist or happen twice): icalendar, vobject and ical.js read the instants Python's zoneinfo gives."""
    tz = ZoneInfo(zone)
    first, last = dt.date(2026, 1, 1), dt.date(2027, 12, 31)
    days = [first + dt.timedelta(days=n) for n in range((last - first).days)]
    noon = {day: dt.datetime.combine(day, dt.time(12), tzinfo=tz).utcoffset() for day in days}
    changes = [day for day in days[1:] if noon[day] != noon[day - dt.timedelta(days=1)]]
    assert len(changes) == 4
    visits = sorted(set(days[::7]) | {c + dt.timedelta(days=d) for c in changes for d in (-1, 0, 1)})
    rows, expected = [], {}
    for sequence, day in enumerate(visits, start=1):
        for hour in ((1, 2, 3, 9) if day in changes else (9,)):
            number = sequence * 10 + hour
            when = dt.time(hour, 30)
            rows.append(fake_row(number, day, when))
            expected[number] = dt.datetime.combine(day, when, tzinfo=tz).astimezone(dt.UTC)
    seed = uuid.uuid4()
    shown = ical.events_of(rows, seed=seed, today=first, time_zone=zone, detailed=False)
    body = ical.render(shown, {item.uid: ical.Stamp(0, NOW) for item in shown}, name="Clinic visits")
    found = seen(body)
    assert len(found) == len(rows) > 110
    for number, instant in expected.items():
        event = found[ical.event_uid(seed, detailed=False, kind="fill", sequence=number)]
        assert event.start == instant.strftime("%Y-%m-%dT%H:%M:%SZ"), number
        assert event.end == (instant + ical.VISIT_LENGTH).strftime("%Y-%m-%dT%H:%M:%SZ"), number


def test_conditional_get_answers_304_from_the_snapshot(client, discreet, patient_a, monkeypatch,
                                                       django_assert_max_num_queries):
    first = fetch(client, discreet[1])
    monkeypatch.setattr(ical, "render", lambda *a, **k: pytest.fail("built the calendar"))
    with django_assert_max_num_queries(5):
        response = fetch(client, discreet[1], if_none_match=first["ETag"])
    assert response.status_code == 304 and response.content == b""
    assert response["ETag"] == first["ETag"]
    assert response["Cache-Control"].startswith("private")
    response = fetch(client, discreet[1], if_modified_since=first["Last-Modified"])
    assert response.status_code == 304
    # Apps that keep several versions, or weaken the tag, are understood too; another tag gets the calendar.
    for header in (f'"old", {first["ETag"]}', f"W/{first['ETag']}", "*"):
        assert fetch(client, discreet[1], if_none_match=header).status_code == 304, header
    assert fetch(client, discreet[1], if_none_match='"old"').content == first.content
    assert fetch(client, discreet[1]).content == first.content


def test_conditional_get_sees_a_change(client, discreet, patient_a, staff_a):
    first = fetch(client, discreet[1])
    due = ScheduledFill.objects.filter(plan__patient=patient_a, recorded=False).exclude(kind="implant").first()
    services.fill_record(plan=patient_a.plan, date=due.date, infusate="fudr", by=staff_a)
    cache.clear()
    response = fetch(client, discreet[1], if_none_match=first["ETag"])
    assert response.status_code == 200 and response["ETag"] != first["ETag"]
    assert response.content != first.content


def test_etag_and_last_modified_change_only_with_the_body(client, discreet, detailed, patient_a, time_machine):
    today = fetch(client, discreet[1])
    assert fetch(client, detailed[1])["ETag"] != today["ETag"]
    # The next clinic day: the window and "overdue" are computed again, but nothing visible changed.
    due = ScheduledFill.objects.filter(plan__patient=patient_a, recorded=False, date__gte=TODAY).first()
    assert due.date > TODAY + dt.timedelta(days=1)
    time_machine.move_to(NOW + dt.timedelta(days=1), tick=False)
    cache.clear()
    tomorrow = fetch(client, discreet[1], if_none_match=today["ETag"], if_modified_since=today["Last-Modified"])
    assert tomorrow.status_code == 304 and tomorrow["ETag"] == today["ETag"]
    assert tomorrow["Last-Modified"] == today["Last-Modified"]


def test_sequence_rises_only_on_a_visible_change(client, discreet, patient_a, time_machine):
    before = seen(fetch(client, discreet[1]).content)
    # The engine raises a row's revision for fields the feed does not show (a capacity warning).
    row = ScheduledFill.objects.filter(plan__patient=patient_a, recorded=False, date__gt=TODAY).first()
    ScheduledFill.objects.filter(pk=row.pk).update(
        capacity_warning=not row.capacity_warning, revision=row.revision + 1, changed_at=NOW + dt.timedelta(hours=1)
    )
    time_machine.move_to(NOW + dt.timedelta(hours=1), tick=False)
    cache.clear()
    response = fetch(client, discreet[1])
    assert seen(response.content) == before
    assert parse(response.content).walk("VEVENT")[0]["DTSTAMP"].dt == NOW


def test_last_modified_rises_for_two_changes_in_one_second(client, discreet, patient_a, staff_a):
    first = fetch(client, discreet[1])
    fills = ScheduledFill.objects.filter(plan__patient=patient_a, recorded=False, date__gte=TODAY).exclude(
        kind="implant").order_by("date")
    services.fill_record(plan=patient_a.plan, date=fills[0].date, infusate="fudr", by=staff_a)
    cache.clear()
    second = fetch(client, discreet[1])
    services.fill_record(plan=patient_a.plan, date=fills[1].date, infusate="heparinized_saline", by=staff_a)
    cache.clear()
    third = fetch(client, discreet[1])
    assert len({first["ETag"], second["ETag"], third["ETag"]}) == 3
    moments = [dt.datetime.strptime(r["Last-Modified"], "%a, %d %b %Y %H:%M:%S GMT") for r in (first, second, third)]
    # Time is frozen: each change still moves Last-Modified, by the one second that tells them apart.
    start = NOW.replace(tzinfo=None)
    assert moments == [start, start + dt.timedelta(seconds=1), start + dt.timedelta(seconds=2)]


def test_an_event_changed_twice_in_one_second_counts_both_changes(client, detailed, patient_a, staff_a):
    """SEQUENCE counts every visible change and LAST-MODIFIED moves forward with each (apps keep the newest)."""
    due = ScheduledFill.objects.filter(plan=patient_a.plan, recorded=False, active=True).exclude(kind="implant").first()
    body = fetch(client, detailed[1]).content
    key = uid(patient_a, due, detailed=True)
    fill, _ = services.fill_record(plan=patient_a.plan, date=TODAY, infusate="fudr", by=staff_a,
                                   appointment_time=dt.time(9, 30))
    stamps = [by_uid(parse(body))[key]]
    for time in (None, dt.time(10, 15)):  # time is frozen: the recording and the correction share a second
        if time:
            services.fill_correct(fill=RecordedFill.objects.get(pk=fill.pk), by=staff_a, appointment_time=time)
        cache.clear()
        stamps.append(by_uid(parse(fetch(client, detailed[1]).content))[key])
    assert [event["SEQUENCE"] for event in stamps] == [0, 1, 2]
    moments = [NOW, NOW + dt.timedelta(seconds=1), NOW + dt.timedelta(seconds=2)]
    assert [event["LAST-MODIFIED"].dt for event in stamps] == [event["DTSTAMP"].dt for event in stamps] == moments


def test_head_has_the_headers_of_get_and_no_body(client, discreet):
    get = fetch(client, discreet[1])
    head = client.head(feed_url(discreet[1]))
    assert head.status_code == 200 and head.content == b""
    for header in ("Content-Type", "ETag", "Last-Modified", "Cache-Control", "X-Robots-Tag", "Content-Length"):
        assert head[header] == get[header], header


def test_feed_is_the_same_for_every_cookie_and_language(client, discreet):
    """Answered ahead of the page middleware (feeds.middleware): no session cookie, nothing that varies by cookie
    or browser language (a shared cache may keep one copy), yet the site's security headers and a length."""
    client.cookies["sessionid"] = "someone-elses"
    response = fetch(client, discreet[1], accept_language="es")
    assert response.status_code == 200
    assert "Vary" not in response and not response.cookies
    assert response["X-Content-Type-Options"] == "nosniff"
    assert int(response["Content-Length"]) == len(response.content)
    not_modified = fetch(client, discreet[1], if_none_match=response["ETag"])
    # A 304 may only repeat the 200's length (RFC 9110 8.6); an empty body's length would be wrong.
    assert not_modified.status_code == 304 and "Content-Length" not in not_modified


@pytest.mark.django_db
def test_unknown_link_says_so_in_the_readers_language(client):
    response = fetch(client, "x" * 43, accept_language="es")
    assert response.status_code == 404
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == "Ese calendario no existe.\n"
    assert fetch(client, "x" * 43).content.decode() == "No such calendar.\n"


def test_feed_refuses_a_host_the_site_does_not_serve(client, discreet):
    assert fetch(client, discreet[1]).status_code == 200  # the answer is now cached: the poll's short path
    assert client.get(feed_url(discreet[1]), headers={"host": "calendar.example.net"}).status_code == 400


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "MKCALENDAR"])
def test_feed_refuses_other_methods_without_logging_the_link(client, discreet, caplog, settings, method):
    settings.DEBUG = True  # the CSRF warning that leaked the path was logged under DEBUG
    caplog.set_level(logging.DEBUG)
    for name in ("django.request", "django.security.csrf", "django.security"):
        caplog.set_level(logging.DEBUG, logger=name)
    client = type(client)(enforce_csrf_checks=True)
    response = client.generic(method, feed_url(discreet[1]))
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert discreet[1] not in caplog.text
    assert fetch(client, discreet[1]).status_code == 200


def assert_stopped_calendar(response, name="Clinic visits"):
    """200 with no events, so calendar apps (which keep their last copy on any error) clear the visits."""
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"].startswith("private")
    calendar = parse(response.content)
    assert calendar["VERSION"] == "2.0" and calendar["PRODID"] == ical.PRODID
    assert calendar["X-WR-CALNAME"] == calendar["NAME"] == f"{name} (stopped)"
    assert events(calendar) == [] and recurring_ical_events.of(calendar).count() == 0
    assert feed_parsers.read(response.content).events == []


def test_stopped_link_empties_the_calendar_for_30_days_then_410(client, discreet, time_machine):
    subscriptions.subscription_revoke(subscription=discreet[0])
    assert_stopped_calendar(fetch(client, discreet[1]))
    time_machine.move_to(NOW + dt.timedelta(days=30), tick=False)
    cache.clear()
    assert_stopped_calendar(fetch(client, discreet[1]))
    time_machine.move_to(NOW + dt.timedelta(days=30, minutes=1), tick=False)
    cache.clear()
    gone = fetch(client, discreet[1])
    assert gone.status_code == 410
    assert gone["Cache-Control"].startswith("private") and gone["X-Robots-Tag"].startswith("noindex")


def test_unknown_and_malformed_links_are_404(client, discreet):
    assert fetch(client, "x" * 43).status_code == 404
    assert client.get("/feeds/.ics").status_code == 404
    assert client.get(f"/feeds/{discreet[1]}").status_code == 404
    assert client.get(f"/feeds/{discreet[1]}.ics/").status_code == 404


def test_replaced_link_empties_the_old_url_then_410(client, detailed, time_machine):
    _, token = subscriptions.subscription_rotate(subscription=detailed[0])
    assert_stopped_calendar(fetch(client, detailed[1]), name="Pump refills")
    assert fetch(client, token).status_code == 200
    assert parse(fetch(client, token).content)["X-WR-CALNAME"] == "Pump refills"
    time_machine.move_to(NOW + dt.timedelta(days=31), tick=False)
    cache.clear()
    assert fetch(client, detailed[1]).status_code == 410
    assert fetch(client, token).status_code == 200


def test_caregivers_link_stops_with_their_access(client, caregiver_a, patient_a, time_machine):
    subscription, token = subscribe(patient_a, by=caregiver_a)
    assert subscription.owner == caregiver_a
    live = fetch(client, token)
    assert live.status_code == 200 and b"VEVENT" in live.content and b"(stopped)" not in live.content
    grant = caregiver_a.caregiver_grants.get()
    grant.revoked_at = NOW
    grant.save()
    cache.clear()
    assert_stopped_calendar(fetch(client, token))
    time_machine.move_to(NOW + dt.timedelta(days=31), tick=False)
    cache.clear()
    assert fetch(client, token).status_code == 410


def test_rate_limited_per_link(client, discreet, detailed):
    for _ in range(answers.RATE_LIMIT):
        assert fetch(client, discreet[1]).status_code == 200
    response = fetch(client, discreet[1])
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= answers.RATE_WINDOW_SECONDS
    assert response["Cache-Control"].startswith("private") and response["X-Robots-Tag"].startswith("noindex")
    assert fetch(client, detailed[1]).status_code == 200, "another link has its own allowance"


def test_rate_limit_window_ends(client, discreet, time_machine):
    for _ in range(answers.RATE_LIMIT + 1):
        response = fetch(client, discreet[1])
    assert response.status_code == 429
    time_machine.move_to(NOW + dt.timedelta(seconds=int(response["Retry-After"]) + 1), tick=False)
    assert fetch(client, discreet[1]).status_code == 200


def test_last_fetched_is_recorded_at_most_once_a_minute(client, discreet, time_machine):
    subscription = discreet[0]
    assert subscription.last_fetched_at is None
    fetch(client, discreet[1])
    subscription.refresh_from_db()
    assert subscription.last_fetched_at == NOW
    time_machine.move_to(NOW + dt.timedelta(seconds=30), tick=False)
    fetch(client, discreet[1])
    subscription.refresh_from_db()
    assert subscription.last_fetched_at == NOW
    time_machine.move_to(NOW + dt.timedelta(seconds=90), tick=False)
    fetch(client, discreet[1])
    subscription.refresh_from_db()
    assert subscription.last_fetched_at == NOW + dt.timedelta(seconds=90)
    assert subscription.history.count() == 1, "fetches are not audited changes"


def test_the_link_is_never_logged(client, discreet, caplog):
    caplog.set_level(logging.DEBUG)
    token = discreet[1]
    fetch(client, token)
    fetch(client, "y" * 43)
    for _ in range(answers.RATE_LIMIT + 1):
        fetch(client, token)
    subscriptions.subscription_revoke(subscription=discreet[0])
    cache.clear()
    fetch(client, token)
    assert token not in caplog.text
    assert "y" * 43 not in caplog.text
    assert not CalendarSubscription.objects.filter(token_hash__contains=token).exists()


def test_a_year_of_an_open_ended_plan_is_far_under_a_megabyte(client, clinic_a, staff_a):
    patient = make_patient(clinic_a, "Olga Open", "A-900", surgery=TODAY - dt.timedelta(days=10), open_ended=True)
    _, token = subscriptions.subscription_create(patient=patient, name="All", detail="detailed", by=staff_a)
    body = fetch(client, token).content
    count = len(events(parse(body)))
    print(f"\n12-month open-ended plan, detailed feed: {len(body)} bytes, {count} events")
    assert count > 40
    assert len(body) < 50_000


def test_patient_without_a_plan_gets_an_empty_calendar(client, clinic_a, staff_a):
    from patients.models import Patient

    patient = Patient.objects.create(clinic=clinic_a, name="No Plan", record_number="A-1", date_of_birth=TODAY)
    _, token = subscriptions.subscription_create(patient=patient, name="x", detail="discreet", by=staff_a)
    response = fetch(client, token)
    assert response.status_code == 200 and events(parse(response.content)) == []


def test_uids_differ_per_wording_and_patient_and_ignore_the_secret_key(client, discreet, detailed, patient_a,
                                                                       patient_b, caregiver_a, settings):
    plain = set(seen(fetch(client, discreet[1]).content))
    words = set(seen(fetch(client, detailed[1]).content))
    caregivers = set(seen(fetch(client, subscribe(patient_a, by=caregiver_a)[1]).content))
    assert plain and words and not plain & words, "Google would let a detailed import rewrite discreet events"
    assert caregivers == plain, "a caregiver's link is discreet"
    _, other = subscribe(patient_b)
    assert not set(seen(fetch(client, other).content)) & plain
    settings.SECRET_KEY = "rotated-" + "k" * 50
    cache.clear()
    assert set(seen(fetch(client, discreet[1]).content)) == plain
    assert all(UID.match(key) for key in plain | words)
    assert str(patient_a.plan.pk) not in {key.split("@")[0] for key in plain}


def test_an_appointments_uid_is_the_same_in_every_release(client, patient_a):
    """Calendar apps match events by UID: were the derivation to change, every subscriber would see each visit
    twice (the old copy stays). So the UIDs of a known seed are pinned, per wording, kind and language."""
    FeedKey.objects.create(plan=patient_a.plan, seed=uuid.UUID("5eed5eed-0000-4000-8000-000000000016"))
    assert ScheduledFill.objects.filter(plan__patient=patient_a, sequence=1, active=True).exists()
    _, discreet = subscribe(patient_a)
    _, detailed = subscribe(patient_a, detail="detailed")
    _, spanish = subscriptions.subscription_create(patient=patient_a, name="Móvil", detail="discreet",
                                                   by=patient_a.user, language="es")
    assert "7444aa6ebdad54c68d1438070ae36f22@pumpcare" in seen(fetch(client, discreet).content)
    words = seen(fetch(client, detailed).content)
    assert {"c702be5e6c145fc39fbd9e4acceabcf0@pumpcare", "b6a63199cfea5291a33a9b06865009ad@pumpcare"} <= set(words)
    assert "b5db71c1b5d55f6b8f686dc8a0bfb155@pumpcare" in seen(fetch(client, spanish).content)


def test_the_three_parser_check_catches_a_zone_some_parsers_misread():
    """Why timed visits are in UTC: icalendar's own VTIMEZONE lists DST onsets as one RDATE line, and vobject and
    ical.js read only its first date, so a 2027 spring visit moves an hour for them. read() must notice."""
    zone = ZoneInfo("America/New_York")
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//test//EN")
    calendar.add("version", "2.0")
    event = icalendar.Event()
    event.add("uid", "spring-2027")
    event.add("dtstamp", NOW)
    event.add("summary", "Clinic visit")
    event.add("dtstart", dt.datetime(2027, 3, 15, 9, 30, tzinfo=zone))
    event.add("dtend", dt.datetime(2027, 3, 15, 10, tzinfo=zone))
    calendar.add_component(event)
    calendar.add_missing_timezones(first_date=dt.date(2025, 1, 1), last_date=dt.date(2029, 1, 1))
    body = calendar.to_ical()
    assert feed_parsers.with_icalendar(body).events[0].start == "2027-03-15T13:30:00Z"
    assert feed_parsers.with_vobject(body).events[0].start == "2027-03-15T14:30:00Z", "an hour off"
    assert feed_parsers.with_icaljs(body).events[0].start == "2027-03-15T14:30:00Z", "an hour off"
    with pytest.raises(AssertionError):
        feed_parsers.read(body)


# The download ("add all to my calendar once").

def download_url(patient):
    return reverse("feeds:download", kwargs={"public_id": patient.public_id})


@pytest.mark.parametrize("persona", ["patient", "caregiver", "staff"])
def test_download_for_people_who_see_the_patient(client_for, patient_a, caregiver_a, staff_a, persona):
    user = {"patient": patient_a.user, "caregiver": caregiver_a, "staff": staff_a}[persona]
    response = client_for(user).get(download_url(patient_a))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="clinic-visits.ics"'
    assert {e.summary for e in feed_parsers.read(response.content).events} == {
        "Clinic visit", "Clinic visit (overdue: call the clinic)"}
    assert len(expanded(response.content)) == len(active_rows(patient_a))


def test_download_detailed(client_for, patient_a):
    response = client_for(patient_a.user).get(download_url(patient_a), {"detail": "detailed"})
    assert response["Content-Disposition"] == 'attachment; filename="pump-refills.ics"'
    assert feed_parsers.read(response.content).name == "Pump refills"
    assert b"Pump refill: start FUDR" in response.content


def test_download_bad_detail_is_400(client_for, patient_a):
    assert client_for(patient_a.user).get(download_url(patient_a), {"detail": "everything"}).status_code == 400


@pytest.mark.parametrize("persona", ["outsider", "staff_b", "revoked_caregiver", "patient_b"])
def test_download_is_404_for_anyone_else(client_for, patient_a, outsider, staff_b, revoked_caregiver, patient_b,
                                         persona):
    user = {"outsider": outsider, "staff_b": staff_b, "revoked_caregiver": revoked_caregiver,
            "patient_b": patient_b.user}[persona]
    assert client_for(user).get(download_url(patient_a)).status_code == 404


def test_download_needs_sign_in_get_and_a_real_id(client, client_for, patient_a):
    response = client.get(download_url(patient_a))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    signed_in = client_for(patient_a.user)
    assert signed_in.post(download_url(patient_a)).status_code == 405
    assert signed_in.get("/p/not-a-uuid/calendar.ics").status_code == 404
    assert signed_in.get("/p/00000000-0000-0000-0000-000000000000/calendar.ics").status_code == 404


# Better than a portal (issue 12, second part).

def test_detailed_feed_says_where_and_how_to_call_and_links_back(client, detailed, discreet, patient_a, clinic_a,
                                                                 staff_a):
    clinic_a.address = "12 Harbor Road, Boston"
    clinic_a.save()
    services.fill_record(plan=patient_a.plan, date=TODAY, infusate="fudr", by=staff_a)
    found = seen(fetch(client, detailed[1]).content)
    page = f"http://testserver/p/{patient_a.public_id}/"
    fills = [event for event in found.values() if event.location]
    assert len(fills) == len(active_rows(patient_a)) > 5
    for event in fills:
        assert event.location == "Clinic A, 12 Harbor Road, Boston"
        assert event.description.split("\n")[-2:] == ["Clinic A, phone +1 555 0100", f"Your schedule: {page}"]
        assert event.url == page
    assert {event.status for event in found.values()} == {"CONFIRMED", "TENTATIVE"}
    for event in seen(fetch(client, discreet[1]).content).values():
        assert event.location == "" and event.url == "" and "555" not in event.description


def test_the_detailed_feeds_link_leads_to_the_address_the_feed_was_fetched_from(client, detailed, patient_a,
                                                                                settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver", "pumps.example.org"]
    for host in ("testserver", "pumps.example.org", "testserver"):
        cache.clear()
        found = seen(fetch(client, detailed[1], host=host).content)
        page = f"http://{host}/p/{patient_a.public_id}/"
        assert {event.url for event in found.values()} == {page, ""}, "phases carry no link"
        assert all(f"Your schedule: {page}" in event.description for event in found.values() if event.url)


def test_a_moved_visit_says_why(client, discreet, detailed, patient_a, staff_a):
    due = ScheduledFill.objects.filter(plan__patient=patient_a, recorded=False, active=True,
                                       date__gt=TODAY + dt.timedelta(days=3)).exclude(kind="implant").first()
    services.closures_add(clinic=patient_a.clinic, days={due.date: "Staff training"}, by=staff_a)
    services.recompute_plans([patient_a.plan])  # a clinic-wide change is recomputed by the worker
    row = ScheduledFill.objects.get(pk=due.pk)
    assert row.moved_from == due.date and row.date != due.date
    why = f"Moved from {due.date:%A} {due.date.day} {due.date:%B}: clinic closed."
    for token, detailed_ in ((discreet[1], False), (detailed[1], True)):
        cache.clear()
        event = seen(fetch(client, token).content)[uid(patient_a, due, detailed=detailed_)]
        assert event.description.split("\n")[:2] == ["Planned date: it may still change.", why]
        assert event.start == row.date.isoformat()


def test_a_visit_on_a_closed_day_says_the_clinic_will_agree_a_new_date(client, discreet, detailed, patient_a,
                                                                      staff_a):
    due = ScheduledFill.objects.filter(plan__patient=patient_a, recorded=False, active=True,
                                       date__gt=TODAY + dt.timedelta(days=20)).exclude(kind="implant").first()
    # Four weeks closed around it: no open day qualifies, so the visit stays on its date, flagged (S7).
    days = {due.date + dt.timedelta(days=n): "Renovation" for n in range(-14, 15)}
    services.closures_add(clinic=patient_a.clinic, days=days, by=staff_a)
    services.recompute_plans([patient_a.plan])
    flagged = ScheduledFill.objects.filter(plan__patient=patient_a, active=True, closed_day=True)
    assert flagged.exists()
    for token, detailed_ in ((discreet[1], False), (detailed[1], True)):
        cache.clear()
        found = seen(fetch(client, token).content)
        for row in flagged:
            assert found[uid(patient_a, row, detailed=detailed_)].description.split("\n")[:2] == [
                "Planned date: it may still change.",
                "The clinic is closed on this date: it will agree a new date with you.",
            ]
        others = [event for key, event in found.items() if key not in {uid(patient_a, r, detailed=detailed_)
                                                                         for r in flagged}]
        assert not [event for event in others if "closed on this date" in event.description]


def test_the_patient_chooses_the_title_and_the_calendar_name(client, client_for, discreet, detailed, patient_a,
                                                              caregiver_a):
    before = seen(fetch(client, discreet[1]).content)
    url = reverse("feeds:settings", kwargs={"public_id": patient_a.public_id})
    data = {"discreet_title": "Appointment", "calendar_name": "Mum's visits"}
    assert client_for(caregiver_a).post(url, data).status_code == 404
    response = client_for(patient_a.user).post(url, data)
    assert response.status_code == 302
    body = fetch(client, discreet[1]).content  # at once, though the old calendar was just fetched
    read = feed_parsers.read(body)
    assert read.name == "Mum's visits"
    assert {event.summary.split(" (")[0] for event in read.events} == {"Appointment"}
    assert all(event.sequence == before[event.uid].sequence + 1 for event in read.events), "a visible change"
    assert feed_parsers.read(fetch(client, detailed[1]).content).name == "Mum's visits"
    page = client_for(patient_a.user).get(reverse("feeds:subscriptions", kwargs={"public_id": patient_a.public_id}))
    assert "Discreet: “Appointment”" in page.content.decode()
    bad = client_for(patient_a.user).post(url, {"discreet_title": "", "calendar_name": ""})
    assert bad.status_code == 400 and "This field is required." in bad.content.decode()
    subscriptions.subscription_revoke(subscription=discreet[0])
    assert feed_parsers.read(fetch(client, discreet[1]).content).name == "Mum's visits (stopped)"


def test_a_new_title_alone_or_a_new_name_alone_reaches_the_feed_at_once(client, client_for, discreet, patient_a):
    url = reverse("feeds:settings", kwargs={"public_id": patient_a.public_id})
    for title, name in (("Appointment", "Mum's visits"), ("Check-up", "Mum's visits"), ("Check-up", "Visits")):
        assert client_for(patient_a.user).post(url, {"discreet_title": title, "calendar_name": name}).status_code == 302
        read = feed_parsers.read(fetch(client, discreet[1]).content)
        assert read.name == name
        assert {event.summary.split(" (")[0] for event in read.events} == {title}


# Speed without losing anything (issue 12, third part): the poll path and Redis.

@pytest.fixture
def redis_cache(settings):
    """The production cache backend (Django's RedisCache) on an in-process Redis."""
    settings.CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://fake-redis:6379/4",
        "OPTIONS": {"connection_class": fakeredis.FakeRedisConnection},
    }}
    cache.clear()
    yield
    cache.clear()


def writes(queries) -> list[str]:
    return [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith(("SELECT", "SAVEPOINT", "RELEASE"))]


def test_a_poll_with_redis_touches_no_database(client, redis_cache, detailed, django_assert_num_queries):
    first = fetch(client, detailed[1])
    with django_assert_num_queries(0):
        again = fetch(client, detailed[1])
        not_modified = fetch(client, detailed[1], if_none_match=first["ETag"])
    assert again.content == first.content and again["ETag"] == first["ETag"]
    assert not_modified.status_code == 304
    assert not AccessEvent.objects.filter(action="feed").exists(), "buffered in Redis, not written yet"


def test_a_stale_answer_is_checked_with_reads_only(client, redis_cache, detailed, time_machine, monkeypatch):
    first = fetch(client, detailed[1])
    monkeypatch.setattr(ical, "render", lambda *a, **k: pytest.fail("rebuilt an unchanged feed"))
    time_machine.move_to(NOW + dt.timedelta(seconds=61), tick=False)
    with CaptureQueriesContext(connection) as queries:
        again = fetch(client, detailed[1], if_none_match=first["ETag"])
    assert again.status_code == 304
    assert 0 < len(queries) <= 4 and writes(queries) == []


def test_fetches_are_counted_per_link_per_day_and_flushed(client, client_for, redis_cache, discreet, detailed,
                                                          patient_a, time_machine):
    for _ in range(3):
        fetch(client, discreet[1])
    time_machine.move_to(NOW + dt.timedelta(minutes=5), tick=False)
    fetch(client, discreet[1])
    fetch(client, detailed[1])
    assert fetchlog.flush() == 2
    assert fetchlog.flush() == 0, "the buffer is emptied"
    logged = {e.detail: e for e in AccessEvent.objects.filter(patient=patient_a, action="feed")}
    plain = logged[f"Phone ({discreet[0].public_id})"]
    assert (plain.count, plain.at) == (4, NOW + dt.timedelta(minutes=5))
    assert logged[f"Phone ({detailed[0].public_id})"].count == 1
    time_machine.move_to(NOW + dt.timedelta(hours=2), tick=False)
    fetch(client, discreet[1])
    fetchlog.flush()
    plain.refresh_from_db()
    assert plain.count == 5 and plain.at == NOW + dt.timedelta(hours=2), "the same row for the same day"
    time_machine.move_to(NOW + dt.timedelta(days=1), tick=False)
    fetch(client, discreet[1])
    fetchlog.flush()
    assert AccessEvent.objects.filter(patient=patient_a, action="feed").count() == 3, "a new row for a new day"
    discreet[0].refresh_from_db()
    assert discreet[0].last_fetched_at == NOW + dt.timedelta(days=1)


def test_the_links_page_shows_fetches_still_in_the_buffer(client, client_for, redis_cache, discreet, patient_a):
    fetch(client, discreet[1])
    page = client_for(patient_a.user).get(reverse("feeds:subscriptions", kwargs={"public_id": patient_a.public_id}))
    assert "Not yet" not in page.content.decode()


def test_stopping_a_link_takes_effect_at_once_despite_the_cache(client, redis_cache, discreet):
    assert fetch(client, discreet[1]).status_code == 200
    subscriptions.subscription_revoke(subscription=discreet[0])
    assert_stopped_calendar(fetch(client, discreet[1]))


def test_a_redis_outage_does_not_break_feeds(client, settings, discreet, patient_a, caplog):
    body = fetch(client, discreet[1]).content
    settings.CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }}
    response = fetch(client, discreet[1])
    assert response.status_code == 200 and response.content == body
    assert fetch(client, discreet[1], if_none_match=response["ETag"]).status_code == 304
    assert AccessEvent.objects.get(patient=patient_a, action="feed").count == 3, "written at once instead"
    assert "Cache unavailable" in caplog.text and discreet[1] not in caplog.text


def test_a_process_answers_from_memory_and_pushes_its_counts_each_second(client, redis_cache, discreet, patient_a,
                                                                        monkeypatch, time_machine, settings):
    settings.FEED_LOCAL_SECONDS = 1
    fetch(client, discreet[1])
    pushes = []
    push = answers._push
    monkeypatch.setattr(answers, "_push", lambda *a, **k: pushes.append(1) or push(*a, **k))
    for _ in range(5):
        assert fetch(client, discreet[1]).status_code == 200
    assert pushes == [], "no Redis round trip within FEED_LOCAL_SECONDS"
    time_machine.move_to(NOW + dt.timedelta(seconds=1.5), tick=False)
    assert fetch(client, discreet[1]).status_code == 200
    assert pushes == [1]
    fetchlog.flush()
    assert AccessEvent.objects.get(patient=patient_a, action="feed").count == 7


def test_a_stopping_process_sends_its_counts_first(client, redis_cache, discreet, patient_a, settings):
    settings.FEED_LOCAL_SECONDS = 60
    for _ in range(3):
        fetch(client, discreet[1])  # the first pushes; the two after it wait in this process's memory
    answers.push_counts()  # what the process runs at exit (atexit)
    answers.forget_local()  # the process is gone: only what reached Redis is left
    fetchlog.flush()
    assert AccessEvent.objects.get(patient=patient_a, action="feed").count == 3


def test_the_rate_limit_holds_with_redis(client, redis_cache, discreet, detailed):
    for _ in range(answers.RATE_LIMIT):
        assert fetch(client, discreet[1]).status_code == 200
    assert fetch(client, discreet[1]).status_code == 429
    assert fetch(client, detailed[1]).status_code == 200


def test_the_history_page_says_how_often_a_link_was_fetched(client, client_for, redis_cache, discreet, patient_a,
                                                             staff_a):
    for _ in range(3):
        fetch(client, discreet[1])
    fetchlog.flush()
    page = client_for(staff_a).get(reverse("patient_history", args=[patient_a.public_id])).content.decode()
    assert "A calendar app fetched the calendar link “Phone”, 3 times that day" in page
