"""The iCalendar feed and the .ics download: every feed parsed back with icalendar and recurring-ical-events."""

import datetime as dt
import hashlib
import logging
import re
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from django.core.cache import cache
from django.urls import reverse

from feeds import ical, subscriptions
from schedules import services
from schedules.models import CalendarSubscription, FillKind, RecordedFill, ScheduledFill, TherapyPlan
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


def fetch(client, token, **headers):
    return client.get(feed_url(token), headers=headers)


def parse(body: bytes) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(body)


def events(calendar) -> list[icalendar.Event]:
    return list(calendar.walk("VEVENT"))


def by_uid(calendar) -> dict[str, icalendar.Event]:
    return {str(event["UID"]): event for event in events(calendar)}


def expanded(body: bytes, start=TODAY - dt.timedelta(days=400), end=TODAY + dt.timedelta(days=800)):
    """The events as a second, independent parser sees them."""
    return recurring_ical_events.of(icalendar.Calendar.from_ical(body)).between(start, end)


def active_rows(patient, since=TODAY - dt.timedelta(days=30)):
    return list(ScheduledFill.objects.filter(plan__patient=patient, active=True, date__gte=since).order_by("date"))


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
    assert calendar["METHOD"] == "PUBLISH"
    assert calendar["NAME"] == calendar["X-WR-CALNAME"] == "Clinic visits"
    refresh = calendar["REFRESH-INTERVAL"]
    assert refresh.params["VALUE"] == "DURATION" and refresh.dt == dt.timedelta(hours=4)
    assert b"X-PUBLISHED-TTL:PT4H" in response.content
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT4H" in response.content


def test_feed_headers(client, discreet):
    response = fetch(client, discreet[1], accept_encoding="gzip, deflate")
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"].startswith("private")
    assert "max-age=" in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex"
    assert response["ETag"].startswith('"') and response["Last-Modified"].endswith("GMT")
    assert not response.has_header("Content-Encoding")
    assert response.content.startswith(b"BEGIN:VCALENDAR")


def test_discreet_feed_has_one_neutral_all_day_event_per_fill(client, discreet, patient_a):
    body = fetch(client, discreet[1]).content
    calendar = parse(body)
    rows = active_rows(patient_a)
    found = events(calendar)
    assert len(found) == len(rows) > 5
    assert len(expanded(body)) == len(rows)
    for row, event in zip(rows, found, strict=True):
        assert event["SUMMARY"] == "Clinic visit"
        assert event.start == row.date and not isinstance(event.start, dt.datetime)
        assert event["DTSTART"].params.get("VALUE") == "DATE"
        assert event.end == row.date + dt.timedelta(days=1)
        assert UID.match(str(event["UID"]))
        assert event["SEQUENCE"] == row.revision
        assert event["DTSTAMP"].dt == row.changed_at == event["LAST-MODIFIED"].dt
        assert event["DTSTAMP"].dt.utcoffset() == dt.timedelta(0)
        assert event.get("DESCRIPTION") in (None, ical.PLANNED_NOTE)
    assert len({str(e["UID"]) for e in found}) == len(found)
    for event in expanded(body):
        assert event["SUMMARY"] == "Clinic visit"


def test_discreet_feed_contains_none_of_the_patients_identifiers(client, discreet, patient_a):
    patient_a.email = "alice.ames@example.org"
    patient_a.save()
    body = fetch(client, discreet[1]).content.lower()
    # The product's own name is in PRODID and the UIDs' domain, never shown: the rest must not say "pump".
    unbranded = body.replace(b"pumpcare", b"")
    dob = patient_a.date_of_birth
    identifiers = [
        "Alice", "Ames", "A-100", "A100", patient_a.email, "Clinic A", str(patient_a.public_id),
        patient_a.public_id.hex, dob.isoformat(), dob.strftime("%Y%m%d"), dob.strftime("%m/%d/%Y"),
        f"{dob.month}/{dob.day}/{dob.year}", dob.strftime("%d.%m.%Y"), dob.strftime("%d/%m/%Y"),
        "America/New_York",
    ]
    for identifier in identifiers:
        assert identifier.lower().encode() not in body, identifier
    for medical in ("fudr", "saline", "chemo", "pump", "infus", "hepat", "cancer", "dexameth", "glycerin"):
        assert medical.encode() not in unbranded, medical


def test_detailed_feed_names_the_fills_and_phases(client, detailed, patient_a):
    body = fetch(client, detailed[1]).content
    calendar = parse(body)
    assert calendar["X-WR-CALNAME"] == "Pump refills"
    assert b"Alice" not in body and b"A-100" not in body and b"Clinic A" not in body
    uids = by_uid(calendar)
    rows = active_rows(patient_a)
    fills = {ical.fill_uid(row.plan_id, row.sequence): row for row in rows}
    phases = {ical.phase_uid(row.plan_id, row.sequence): row for row in rows if row.phase_end}
    assert set(uids) == set(fills) | set(phases)
    assert not set(fills) & set(phases)
    summaries = {str(uids[uid]["SUMMARY"]) for uid in fills}
    assert "Pump refill: start FUDR" in summaries
    assert "Pump refill: heparinized saline" in summaries
    for uid, row in phases.items():
        event = uids[uid]
        assert event["TRANSP"] == "TRANSPARENT"
        assert event.start == row.date and event.end == row.phase_end
        days = (row.phase_end - row.date).days
        if row.kind == FillKind.CHEMO:
            assert event["SUMMARY"] == f"FUDR infusing, day 1-{days}"
        else:
            assert str(event["SUMMARY"]).startswith("Heparinized saline")
    assert len(expanded(body)) == len(uids)


def test_held_chemo_fill_says_so(client, detailed, patient_a, staff_a):
    plan = patient_a.plan
    chemo = ScheduledFill.objects.filter(plan=plan, kind=FillKind.CHEMO, recorded=False, date__gt=TODAY).first()
    services.hold_add(plan=plan, sequence=chemo.sequence, reason="ALP rising", by=staff_a)
    event = by_uid(parse(fetch(client, detailed[1]).content))[ical.fill_uid(plan.pk, chemo.sequence)]
    assert event["SUMMARY"] == "Pump refill: heparinized saline (chemo on hold)"


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
    assert set(after) >= {ical.fill_uid(plan.pk, row.sequence) for row in later}
    moved = 0
    for row in later:
        uid = ical.fill_uid(plan.pk, row.sequence)
        if uid not in before:
            continue
        assert after[uid]["SEQUENCE"] > before[uid]["SEQUENCE"]
        assert after[uid].start > before[uid].start
        assert after[uid]["DTSTAMP"].dt > before[uid]["DTSTAMP"].dt
        moved += 1
    assert moved >= 5
    uid = ical.fill_uid(plan.pk, due.sequence)
    assert after[uid].start == late_day and after[uid]["SEQUENCE"] > before[uid]["SEQUENCE"]


def test_ended_therapy_takes_the_future_events_out(client, detailed, patient_a):
    before = by_uid(parse(fetch(client, detailed[1]).content))
    services.therapy_end(plan=patient_a.plan, end_date=TODAY, reason=TherapyPlan.EndReason.PUMP_REMOVED)
    body = fetch(client, detailed[1]).content
    after = by_uid(parse(body))
    assert after, "the fills up to today stay"
    assert all(event.start <= TODAY for event in after.values())
    assert any(event.start > TODAY for event in before.values())
    assert set(after) < set(before)
    assert all(event.start <= TODAY for event in expanded(body))


def test_old_fills_leave_the_window(client, discreet, patient_a):
    rows = ScheduledFill.objects.filter(plan__patient=patient_a, active=True)
    oldest = rows.order_by("date").first()
    assert oldest.date < TODAY - dt.timedelta(days=15)
    calendar = parse(fetch(client, discreet[1]).content)
    assert min(event.start for event in events(calendar)) >= TODAY - dt.timedelta(days=30)


def test_appointment_time_makes_a_timed_event_in_the_clinics_zone(client, detailed, patient_a, staff_a):
    plan = patient_a.plan
    due = ScheduledFill.objects.filter(plan=plan, recorded=False, active=True).exclude(kind="implant").first()
    fill, _ = services.fill_record(
        plan=plan, date=TODAY, infusate="fudr", by=staff_a, appointment_time=dt.time(9, 30)
    )
    body = fetch(client, detailed[1]).content
    calendar = parse(body)
    uid = ical.fill_uid(plan.pk, due.sequence)
    event = by_uid(calendar)[uid]
    assert event["DTSTART"].params["TZID"] == "America/New_York"
    assert event.start == dt.datetime(2026, 3, 10, 9, 30, tzinfo=NEW_YORK)
    assert event.end - event.start == ical.VISIT_LENGTH
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["America/New_York"]
    second = [e for e in expanded(body) if str(e["UID"]) == uid]
    assert len(second) == 1 and second[0].start.astimezone(dt.UTC) == dt.datetime(2026, 3, 10, 13, 30, tzinfo=dt.UTC)

    services.fill_correct(fill=RecordedFill.objects.get(pk=fill.pk), by=staff_a, appointment_time=dt.time(10, 15))
    corrected = by_uid(parse(fetch(client, detailed[1]).content))[uid]
    assert corrected.start == dt.datetime(2026, 3, 10, 10, 15, tzinfo=NEW_YORK)
    assert corrected["SEQUENCE"] > event["SEQUENCE"]


def test_conditional_get_answers_304_without_building(client, discreet, patient_a, monkeypatch,
                                                      django_assert_num_queries):
    first = fetch(client, discreet[1])
    monkeypatch.setattr(ical, "patient_calendar", lambda *a, **k: pytest.fail("built the calendar"))
    # The subscription, the audit line of the fetch, then one aggregate; last_fetched_at was written less
    # than a minute ago.
    with django_assert_num_queries(3):
        response = fetch(client, discreet[1], if_none_match=first["ETag"])
    assert response.status_code == 304 and response.content == b""
    assert response["ETag"] == first["ETag"]
    assert response["Cache-Control"].startswith("private")
    response = fetch(client, discreet[1], if_modified_since=first["Last-Modified"])
    assert response.status_code == 304


def test_conditional_get_sees_a_change(client, discreet, patient_a, staff_a):
    first = fetch(client, discreet[1])
    due = ScheduledFill.objects.filter(plan__patient=patient_a, recorded=False).exclude(kind="implant").first()
    services.fill_record(plan=patient_a.plan, date=due.date, infusate="fudr", by=staff_a)
    response = fetch(client, discreet[1], if_none_match=first["ETag"])
    assert response.status_code == 200 and response["ETag"] != first["ETag"]
    assert response.content != first.content


def test_etag_changes_with_the_clinic_day_and_the_detail_level(client, discreet, detailed, time_machine):
    today = fetch(client, discreet[1])
    assert fetch(client, detailed[1])["ETag"] != today["ETag"]
    time_machine.move_to(NOW + dt.timedelta(days=1), tick=False)
    tomorrow = fetch(client, discreet[1], if_none_match=today["ETag"], if_modified_since=today["Last-Modified"])
    assert tomorrow.status_code == 200 and tomorrow["ETag"] != today["ETag"]


def test_head_has_the_headers_of_get_and_no_body(client, discreet):
    get = fetch(client, discreet[1])
    head = client.head(feed_url(discreet[1]))
    assert head.status_code == 200 and head.content == b""
    for header in ("Content-Type", "ETag", "Last-Modified", "Cache-Control", "X-Robots-Tag", "Content-Length"):
        assert head[header] == get[header], header


def test_feed_refuses_other_methods(client, discreet):
    assert client.post(feed_url(discreet[1])).status_code == 405
    assert client.put(feed_url(discreet[1])).status_code == 405


def test_revoked_link_is_410_with_an_empty_calendar(client, discreet):
    subscriptions.subscription_revoke(subscription=discreet[0])
    response = fetch(client, discreet[1])
    assert response.status_code == 410
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = parse(response.content)
    assert calendar["VERSION"] == "2.0" and calendar["PRODID"] == ical.PRODID
    assert events(calendar) == [] and recurring_ical_events.of(calendar).count() == 0


def test_unknown_and_malformed_links_are_404(client, discreet):
    assert fetch(client, "x" * 43).status_code == 404
    assert client.get("/feeds/.ics").status_code == 404
    assert client.get(f"/feeds/{discreet[1]}").status_code == 404
    assert client.get(f"/feeds/{discreet[1]}.ics/").status_code == 404


def test_rotated_link_stops_the_old_one(client, discreet):
    _, token = subscriptions.subscription_rotate(subscription=discreet[0])
    assert fetch(client, discreet[1]).status_code == 404
    assert fetch(client, token).status_code == 200


def test_caregivers_link_stops_with_their_access(client, caregiver_a, patient_a):
    subscription, token = subscribe(patient_a, by=caregiver_a)
    assert subscription.owner == caregiver_a
    assert fetch(client, token).status_code == 200
    grant = caregiver_a.caregiver_grants.get()
    grant.revoked_at = NOW
    grant.save()
    assert fetch(client, token).status_code == 410


def test_rate_limited_per_link(client, discreet, detailed):
    for _ in range(subscriptions.RATE_LIMIT):
        assert fetch(client, discreet[1]).status_code == 200
    response = fetch(client, discreet[1])
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= subscriptions.RATE_WINDOW_SECONDS
    assert fetch(client, detailed[1]).status_code == 200, "another link has its own allowance"


def test_rate_limit_window_ends(client, discreet, time_machine):
    for _ in range(subscriptions.RATE_LIMIT + 1):
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
    for _ in range(subscriptions.RATE_LIMIT + 1):
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


def test_uids_differ_between_patients_and_from_record_ids(patient_a, patient_b):
    a = ical.fill_uid(patient_a.plan.pk, 1)
    b = ical.fill_uid(patient_b.plan.pk, 1)
    assert a != b and UID.match(a) and UID.match(b)
    assert ical.phase_uid(patient_a.plan.pk, 1) != a
    # Keyed with SECRET_KEY: not the hash anyone could compute from the ids.
    assert a.split("@")[0] not in hashlib.sha256(f"{patient_a.plan.pk}:1".encode()).hexdigest()


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
    calendar = parse(response.content)
    assert {str(e["SUMMARY"]) for e in events(calendar)} == {"Clinic visit"}
    assert len(expanded(response.content)) == len(active_rows(patient_a))


def test_download_detailed(client_for, patient_a):
    response = client_for(patient_a.user).get(download_url(patient_a), {"detail": "detailed"})
    assert response["Content-Disposition"] == 'attachment; filename="pump-refills.ics"'
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
