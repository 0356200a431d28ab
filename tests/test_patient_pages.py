"""Patient and caregiver pages: home, calendar months, the whole therapy, print, living with the pump, passwords.

Every page walks the checklist: the right personas, 405 for a wrong method, 404 for anyone else and for a
malformed id, a constant number of queries whatever the number of fills. Time is frozen at NOW (Tuesday
10 March 2026, 11:00 in New York).
"""

import datetime as dt
import html
import re
import uuid

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse

from patients.models import CaregiverAccess
from schedules import jobs, services
from schedules.models import ClinicClosure, FillKind, RecordedFill, ScheduledFill
from tests.conftest import PASSWORD, TODAY, make_clinic, make_patient, make_user, page_queries

PAGES = ["patient_home", "therapy", "calendar_month", "print"]


def url(name, patient, **extra):
    public_id = patient if isinstance(patient, str) else patient.public_id
    if name == "calendar_month":
        year, month = extra.get("year", 2026), extra.get("month", 3)
        return reverse("portal:calendar_month", args=[public_id, year, month])
    return reverse(f"portal:{name}", args=[public_id])


def text(response) -> str:
    """The page's words as a person reads them: tags dropped, whitespace collapsed."""
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))
    return html.unescape(words).replace(" .", ".").replace(" ,", ",")


def record_due_fills(patient, staff, *, before: dt.date) -> int:
    """Record every fill planned before ``before`` as given on its planned date (as the demo does).

    Given exactly as planned, the facts leave the projection as it was, so one recompute does for all.
    """
    plan = patient.plan
    rows = ScheduledFill.objects.filter(plan=plan, recorded=False, active=True, date__lt=before).exclude(
        kind=FillKind.IMPLANT
    )
    facts = [RecordedFill(plan=plan, date=r.date, infusate=r.infusate, recorded_by=staff) for r in rows]
    with transaction.atomic():
        RecordedFill.objects.bulk_create(facts)
        services.recompute_plans([plan])
    return len(facts)


# Home


def test_patient_sees_an_overdue_refill_plainly_with_the_clinic_phone(client_for, patient_a):
    # Surgery 18 February; the first chemo fill was planned on Wednesday 4 March and nothing is recorded.
    response = client_for(patient_a.user).get(reverse("home"))
    assert response.status_code == 200
    words = text(response)
    assert "Your refill was due on Wednesday 4 March and is overdue." in words
    assert "Call Clinic A: +1 555 0100" in words
    assert 'href="tel:+15550100"' in response.content.decode()
    assert "Refill overdue" in words
    assert "The pump still holds heparinized saline." in words


def test_patient_sees_the_next_refill_where_the_pump_is_and_the_fills(client_for, patient_a, staff_a):
    record_due_fills(patient_a, staff_a, before=TODAY)
    response = client_for(patient_a.user).get(reverse("home"))
    words = text(response)
    assert "Your next refill Wednesday 18 March In 8 days What goes in: heparinized saline (rest)" in words
    assert "Day 7 of 14: FUDR Cycle 1 of 6" in words
    assert "overdue" not in words.lower()
    # The next few fills, then the recorded ones (newest first).
    assert "The refills after that Wednesday 1 April 2026 FUDR (chemotherapy)" in words
    assert "Refills already given Wednesday 4 March 2026 FUDR (chemotherapy)" in words
    assert reverse("portal:living") in response.content.decode()


def test_home_at_its_patient_url_is_the_same_page(client_for, patient_a):
    response = client_for(patient_a.user).get(url("patient_home", patient_a))
    assert response.status_code == 200
    assert "Your next refill" in text(response)


def test_tomorrow_and_today(client_for, clinic_a):
    # First chemo 14 days after surgery: surgery 25 February puts it on Wednesday 11 March, tomorrow.
    patient = make_patient(clinic_a, "Tom Morrow", "A-300", surgery=dt.date(2026, 2, 25), user=make_user("tom"))
    words = text(client_for(patient.user).get(reverse("home")))
    assert "Wednesday 11 March Tomorrow What goes in: FUDR (chemotherapy)" in words
    patient = make_patient(clinic_a, "Tess Day", "A-301", surgery=dt.date(2026, 2, 24), user=make_user("tess"))
    words = text(client_for(patient.user).get(reverse("home")))
    assert "Tuesday 10 March Today What goes in: FUDR (chemotherapy)" in words


def test_today_is_the_clinic_date_where_it_is_already_tomorrow(client_for, db, frozen):
    # At NOW (15:00 UTC on the 10th) it is 04:00 on Wednesday 11 March in Auckland.
    clinic = make_clinic("Auckland clinic", time_zone="Pacific/Auckland")
    patient = make_patient(clinic, "Aroha Kiwi", "NZ-1", surgery=dt.date(2026, 2, 25), user=make_user("aroha"))
    assert clinic.today() == dt.date(2026, 3, 11)
    client = client_for(patient.user)
    words = text(client.get(reverse("home")))
    assert "Wednesday 11 March Today What goes in: FUDR (chemotherapy)" in words
    assert "Rest after surgery Day 15 of 14" not in words
    month = client.get(url("calendar_month", patient)).content.decode()
    assert re.search(r'day-today[^"]*" aria-current="date">\s*<span class="visually-hidden">Wednesday 11 March', month)
    # The calendar's "this month" link follows the clinic's date too (31 March there is 1 April).
    assert client.get(reverse("portal:calendar_now", args=[patient.public_id])).url == url(
        "calendar_month", patient, year=2026, month=3
    )


def test_held_chemo_says_chemo_is_on_hold_and_saline_goes_in(client_for, patient_a, staff_a):
    record_due_fills(patient_a, staff_a, before=TODAY)
    next_chemo = ScheduledFill.objects.get(plan=patient_a.plan, sequence=3)
    assert next_chemo.kind == FillKind.CHEMO
    services.hold_add(plan=patient_a.plan, sequence=3, reason="ALP rising", by=staff_a)
    words = text(client_for(patient_a.user).get(reverse("home")))
    assert "Wednesday 1 April 2026 Chemotherapy is on hold: heparinized saline goes in instead" in words


def test_ended_therapy_says_so(client_for, patient_a):
    services.therapy_end(plan=patient_a.plan, end_date=dt.date(2026, 3, 6), reason="pump_removed")
    words = text(client_for(patient_a.user).get(reverse("home")))
    assert "Therapy ended on Friday 6 March" in words
    assert "No more refills are planned." in words


def test_open_ended_plan_counts_cycles_without_a_total(client_for, clinic_a, staff_a):
    patient = make_patient(
        clinic_a, "Olive Open", "A-400", surgery=TODAY - dt.timedelta(days=20), user=make_user("olive"),
        open_ended=True,
    )
    record_due_fills(patient, staff_a, before=TODAY)
    words = text(client_for(patient.user).get(reverse("home")))
    assert "Day 7 of 14: FUDR Cycle 1 " in words and "Cycle 1 of" not in words


def test_surgery_ahead_is_shown_and_is_not_a_refill(client_for, clinic_a):
    patient = make_patient(clinic_a, "Ada Ahead", "A-500", surgery=TODAY + dt.timedelta(days=7), user=make_user("ada"))
    words = text(client_for(patient.user).get(reverse("home")))
    assert "Your next refill Tuesday 31 March In 21 days What goes in: FUDR (chemotherapy)" in words
    assert "Pump surgery: Tuesday 17 March." in words
    assert "Pump surgery is planned for Tuesday 17 March" in words


def test_patient_without_a_plan_is_told_so(client_for, clinic_a):
    from patients.models import Patient

    patient = Patient.objects.create(
        clinic=clinic_a, name="No Plan", record_number="A-600", date_of_birth=dt.date(1950, 1, 1), user=make_user("np")
    )
    client = client_for(patient.user)
    assert "The clinic has not set up the therapy plan yet." in text(client.get(reverse("home")))
    for name in PAGES:
        assert client.get(url(name, patient)).status_code == 200


# Caregivers and the landing page


def test_caregiver_of_one_patient_lands_on_that_patient(client_for, caregiver_a, patient_a):
    response = client_for(caregiver_a).get(reverse("home"))
    words = text(response)
    assert "Alice's next refill" in words and "Patient: Alice Ames" in words
    assert "Alice's refill was due on Wednesday 4 March" in words


def test_caregiver_of_several_patients_picks_one(client_for, caregiver_a, patient_a, clinic_a):
    other = make_patient(clinic_a, "Ben Brook", "A-700", surgery=TODAY)
    CaregiverAccess.objects.create(patient=other, user=caregiver_a)
    response = client_for(caregiver_a).get(reverse("home"))
    body = response.content.decode()
    assert "Whose pump schedule?" in body
    assert url("patient_home", patient_a) in body and url("patient_home", other) in body


def test_account_without_a_patient_is_told_to_call(client_for, outsider):
    assert "not linked to a patient" in text(client_for(outsider).get(reverse("home")))


def test_revoked_access_ends_at_once(client_for, caregiver_a, patient_a):
    client = client_for(caregiver_a)
    assert client.get(url("patient_home", patient_a)).status_code == 200
    grant = CaregiverAccess.objects.get(user=caregiver_a)
    grant.revoked_at = dt.datetime(2026, 3, 10, 14, 0, tzinfo=dt.UTC)
    grant.save()
    for name in PAGES:
        assert client.get(url(name, patient_a)).status_code == 404
    assert "not linked to a patient" in text(client.get(reverse("home")))


# The checklist, for every page


@pytest.mark.parametrize("name", PAGES)
def test_the_right_people_can_open_every_page(client_for, name, patient_a, caregiver_a, staff_a):
    for user in (patient_a.user, caregiver_a, staff_a):
        assert client_for(user).get(url(name, patient_a)).status_code == 200, user


@pytest.mark.parametrize("name", PAGES)
def test_everyone_else_gets_404(client_for, name, patient_a, patient_b, staff_b, outsider, revoked_caregiver):
    for user in (patient_b.user, staff_b, outsider, revoked_caregiver):
        assert client_for(user).get(url(name, patient_a)).status_code == 404, user


@pytest.mark.parametrize("name", PAGES)
def test_malformed_and_unknown_ids_are_404(client_for, name, patient_a):
    client = client_for(patient_a.user)
    assert client.get(url(name, "not-a-uuid")).status_code == 404
    assert client.get(url(name, str(uuid.uuid4()))).status_code == 404


@pytest.mark.parametrize("name", PAGES)
def test_wrong_method_is_405(client_for, name, patient_a):
    assert client_for(patient_a.user).post(url(name, patient_a)).status_code == 405


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_is_sent_to_sign_in(client, name, patient_a):
    response = client.get(url(name, patient_a))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_staff_from_home_still_go_to_their_dashboard(client_for, staff_a, patient_a):
    assert client_for(staff_a).get(reverse("home")).url == reverse("staff:dashboard")


def test_page_titles_carry_no_patient_name(client_for, patient_a):
    client = client_for(patient_a.user)
    for name in PAGES:
        title = re.search(r"<title>(.*?)</title>", client.get(url(name, patient_a)).content.decode()).group(1)
        assert "Alice" not in title and "A-100" not in title


# Constant queries, few and many fills


@pytest.mark.parametrize("name", [*PAGES, "home"])
def test_queries_do_not_grow_with_the_number_of_fills(client_for, name, clinic_a, staff_a, django_assert_num_queries):
    few = make_patient(clinic_a, "Fay Few", "A-800", surgery=TODAY - dt.timedelta(days=20), user=make_user("few"))
    many = make_patient(clinic_a, "Max Many", "A-801", surgery=TODAY - dt.timedelta(days=300), user=make_user("many"))
    record_due_fills(few, staff_a, before=TODAY)
    assert record_due_fills(many, staff_a, before=TODAY) >= 20
    for day in (dt.date(2026, 3, 16), dt.date(2026, 3, 20)):
        ClinicClosure.objects.create(clinic=clinic_a, date=day, name="Closed")

    def path(patient):
        return reverse("home") if name == "home" else url(name, patient)

    few_client, many_client = client_for(few.user), client_for(many.user)
    few_client.get(path(few))  # the session's first request may warm caches
    many_client.get(path(many))
    expected = page_queries(few_client, path(few))
    assert ScheduledFill.objects.filter(plan=many.plan, recorded=True).count() > 10
    with django_assert_num_queries(expected):
        many_client.get(path(many))
    # Session, user, patient (with its clinic), plan, fills, is the clinic closed today; a month adds its
    # closures; home asks who is staff.
    assert expected <= {"calendar_month": 7, "home": 7}.get(name, 6)


# Calendar months


def test_calendar_month_shows_the_grid_with_headers_legend_and_navigation(client_for, patient_a, clinic_a):
    ClinicClosure.objects.create(clinic=clinic_a, date=dt.date(2026, 3, 16), name="Staff training")
    response = client_for(patient_a.user).get(url("calendar_month", patient_a))
    body = response.content.decode()
    words = text(response)
    # Three letters, or two on the narrowest screens (CSS shows one of the two).
    monday = '<abbr title="Monday"><span class="weekday-3">Mon</span><span class="weekday-2">Mo</span></abbr>'
    assert f'<th scope="col">{monday}</th>' in body
    assert body.count('aria-current="date"') == 1
    assert "Wednesday 4 March, refill overdue: FUDR (chemotherapy)." in words
    assert "Wednesday 18 March, refill: heparinized saline (rest)." in words
    assert "Monday 16 March, FUDR, clinic closed (Staff training)." in words
    assert "What the calendar shows" in words
    assert url("calendar_month", patient_a, year=2026, month=2) in body
    assert url("calendar_month", patient_a, year=2026, month=4) in body
    assert "The clinic is closed on Monday 16 March (Staff training)." in words


def test_calendar_walks_across_years(client_for, patient_a):
    client = client_for(patient_a.user)
    body = client.get(url("calendar_month", patient_a, year=2026, month=12)).content.decode()
    assert url("calendar_month", patient_a, year=2027, month=1) in body
    body = client.get(url("calendar_month", patient_a, year=2027, month=1)).content.decode()
    assert url("calendar_month", patient_a, year=2026, month=12) in body
    assert url("calendar_month", patient_a, year=2026, month=3) in body  # back to this month


def test_calendar_before_surgery_and_after_the_end_say_so(client_for, patient_a):
    client = client_for(patient_a.user)
    words = text(client.get(url("calendar_month", patient_a, year=2026, month=1)))
    assert "This month is before the pump surgery on Wednesday 18 February 2026" in words
    assert "<table" not in client.get(url("calendar_month", patient_a, year=2026, month=1)).content.decode()
    services.therapy_end(plan=patient_a.plan, end_date=dt.date(2026, 4, 20), reason="pump_removed")
    words = text(client.get(url("calendar_month", patient_a, year=2026, month=6)))
    assert "This month is after the end of the therapy on Monday 20 April 2026" in words


def test_calendar_now_redirects_to_this_month(client_for, patient_a):
    response = client_for(patient_a.user).get(reverse("portal:calendar_now", args=[patient_a.public_id]))
    assert response.status_code == 302 and response.url == url("calendar_month", patient_a, year=2026, month=3)


def test_calendar_now_checklist(client_for, client, patient_a, patient_b):
    path = reverse("portal:calendar_now", args=[patient_a.public_id])
    assert client_for(patient_b.user).get(path).status_code == 404
    assert client_for(patient_a.user).post(path).status_code == 405
    assert client_for(patient_a.user).get(reverse("portal:calendar_now", args=["x"])).status_code == 404
    assert client.get(path).status_code == 302


@pytest.mark.parametrize(("year", "month"), [(2026, 0), (2026, 13), (1999, 5), (2201, 1)])
def test_impossible_months_are_404(client_for, patient_a, year, month):
    assert client_for(patient_a.user).get(url("calendar_month", patient_a, year=year, month=month)).status_code == 404


# The whole therapy


def test_therapy_timeline_has_bars_today_and_a_text_alternative(client_for, patient_a, staff_a, clinic_a):
    record_due_fills(patient_a, staff_a, before=TODAY)
    services.hold_add(plan=patient_a.plan, sequence=3, reason="ALP rising", by=staff_a)
    ClinicClosure.objects.create(clinic=clinic_a, date=dt.date(2026, 4, 29), name="Closed")
    services.clinic_recompute(clinic=clinic_a)
    jobs.recompute_stale_plans(limit=100)
    response = client_for(patient_a.user).get(url("therapy", patient_a))
    body = response.content.decode()
    words = text(response)
    assert 'role="img" aria-labelledby="timeline-title timeline-desc"' in body
    assert body.count('class="tl-bar tl-chemo"') == 6
    assert body.count('class="tl-bar tl-held"') == 1
    assert ">Today</text>" in body
    assert "From the pump surgery on 18 February 2026" in words
    assert "Cycle 1: FUDR, Wed 4 Mar 2026 to Wed 18 Mar 2026 (14 days) Now · given" in words
    # A hold three weeks ahead has not happened yet.
    assert "Chemotherapy will be on hold: heparinized saline will go in instead." in words
    assert "was on hold" not in words
    assert "Refill moved from Wednesday 29 April to Tuesday 28 April: the clinic is closed." in words
    assert "Maintenance, Tue 1 Sep 2026 to Tue 16 Mar 2027 (196 days, a refill every 14 days)" in words
    assert "1 held, 1 refill moved for clinic closures" in words


# Print


def test_print_lists_every_fill_with_the_phone_and_the_pump_id_reminder(client_for, patient_a, staff_a):
    record_due_fills(patient_a, staff_a, before=TODAY)
    response = client_for(patient_a.user).get(url("print", patient_a))
    body = response.content.decode()
    words = text(response)
    fills = ScheduledFill.objects.filter(plan=patient_a.plan, active=True).count()
    assert body.count('<tr class="print-row-') == fills
    assert "0 18 Feb 2026 Wednesday Pump surgery: heparinized saline surgery" in words
    assert "1 4 Mar 2026 Wednesday FUDR (chemotherapy) · cycle 1 given" in words
    assert "2 18 Mar 2026 Wednesday heparinized saline (rest) planned" in words
    assert "Always carry your pump ID card." in words
    assert 'href="tel:+15550100"' in body
    assert "js/print.js" in body and "onclick" not in body


# Living with the pump


def test_living_with_the_pump_is_public_and_covers_the_essentials(client):
    response = client.get(reverse("portal:living"))
    assert response.status_code == 200
    words = text(response)
    for essential in ("pump ID card", "MRI", "hot tubs", "saunas", "strenuous exercise", "contact sports", "fever",
                      "belly", "nausea or vomiting", "diarrhea", "yellow skin or yellow eyes"):
        assert essential in words
    assert "diarrhoea" not in words  # American spelling: a US product
    assert client.post(reverse("portal:living")).status_code == 405


# Passwords and sign-out


def test_password_reset_by_email_works_end_to_end(client, patient_a):
    response = client.post(reverse("password_reset"), {"email": "patient_a@example.com"})
    assert response.status_code == 302 and response.url == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["patient_a@example.com"]
    assert message.subject == "Choose a new PumpCare password"
    link = re.search(r"http://testserver(/accounts/reset/\S+)", message.body).group(1)
    response = client.get(link)
    assert response.status_code == 302  # Django swaps the token for a session value, then shows the form
    form_url = response.url
    assert "Choose a new password" in text(client.get(form_url))
    new = "a-brand-new-long-passphrase"
    response = client.post(form_url, {"new_password1": new, "new_password2": new})
    assert response.status_code == 302 and response.url == reverse("password_reset_complete")
    response = client.post(reverse("login"), {"username": "patient_a", "password": new})
    assert response.status_code == 302 and response.url == reverse("home")
    # The link works once.
    client.post(reverse("logout"))
    assert "This link does not work any more" in text(client.get(link, follow=True))


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client, db):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"}, follow=True)
    assert "Check your email" in text(response)
    assert mail.outbox == []


def test_password_change(client_for, patient_a):
    client = client_for(patient_a.user)
    assert "Change your password" in text(client.get(reverse("password_change")))
    new = "another-long-passphrase"
    response = client.post(
        reverse("password_change"), {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert response.status_code == 302 and response.url == reverse("password_change_done")
    patient_a.user.refresh_from_db()
    assert patient_a.user.check_password(new)


def test_password_change_with_a_wrong_old_password_says_so(client_for, patient_a):
    response = client_for(patient_a.user).post(
        reverse("password_change"), {"old_password": "wrong", "new_password1": "x" * 14, "new_password2": "x" * 14}
    )
    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in text(response)


def test_sign_out(client_for, patient_a):
    client = client_for(patient_a.user)
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response.url == reverse("login")
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.parametrize("page", PAGES)
def test_a_schedule_being_updated_says_so_until_the_worker_is_done(client_for, patient_a, clinic_a, page):
    """Issue 13: after a clinic-wide change the patient's pages never show the old schedule as if current."""
    note = "this schedule is being updated, and the dates below may still move"
    client = client_for(patient_a.user)
    assert note not in text(client.get(url(page, patient_a)))
    ClinicClosure.objects.create(clinic=clinic_a, date=TODAY + dt.timedelta(days=8), name="Staff day")
    services.clinic_recompute(clinic=clinic_a)
    assert note in text(client.get(url(page, patient_a)))
    jobs.recompute_stale_plans(limit=10)
    assert note not in text(client.get(url(page, patient_a)))
