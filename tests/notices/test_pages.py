"""Preferences, the unsubscribe link, what staff see, and the planner's coalescing: through the pages and units."""

import datetime as dt

from django.core import signing
from django.urls import reverse

from notices import delivery, planner
from notices.models import Notice, Preference
from schedules import services
from tests.notices.conftest import settle, walk

UTC = dt.UTC


def prefs_url(patient):
    return reverse("notices:preferences", args=[patient.public_id])


CHOICES = {"reminders": "on", "days_ahead": "3", "changes": "on", "overdue": "on", "wording": "discreet"}


def test_a_patient_chooses_their_emails(client_for, carla, time_machine):
    walk(time_machine, dt.datetime(2026, 3, 13, 13, 0, tzinfo=UTC))  # reminders of Saturday and Sunday planned
    http = client_for(carla.user)
    page = http.get(prefs_url(carla))
    assert page.status_code == 200 and "My caregivers may choose the detailed wording" in page.content.decode()
    response = http.post(prefs_url(carla), {**CHOICES, "reminders": "", "wording": "detailed",
                                            "caregivers_may_see_details": "on"}, follow=True)
    assert "Your email choices are saved." in response.content.decode()
    own = Preference.objects.get(patient=carla, recipient_key="patient")
    assert (own.reminders, own.days_ahead, own.wording, own.caregivers_may_see_details) == (
        False, 3, "detailed", True)
    # No reminders wanted: the ones already planned for her are never sent; Dan's stay.
    assert not Notice.objects.filter(patient=carla, recipient_key="patient", kind="reminder", status="pending")
    assert Notice.objects.filter(patient=carla, kind="reminder", status="pending").exclude(recipient_key="patient")


def test_bad_choices_are_refused_with_a_message_and_nothing_saved(client_for, carla):
    http = client_for(carla.user)
    response = http.post(prefs_url(carla), {**CHOICES, "days_ahead": "99", "wording": "loud"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Preference.objects.exists()


def test_a_caregiver_gets_details_only_when_the_patient_allows(client_for, carla):
    dan = carla.caregiver_grants.get().user
    http = client_for(dan)
    page = http.get(prefs_url(carla)).content.decode()
    assert "The patient has not allowed detailed emails for caregivers." in page
    assert "My caregivers may choose" not in page
    response = http.post(prefs_url(carla), {**CHOICES, "wording": "detailed"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    Preference.objects.create(patient=carla, recipient_key="patient", caregivers_may_see_details=True)
    http.post(prefs_url(carla), {**CHOICES, "wording": "detailed"})
    assert Preference.objects.get(patient=carla, caregiver=dan).wording == "detailed"


def test_preferences_checklist(client, client_for, carla, staff_a, staff_b, patient_b, outsider, revoked_caregiver):
    assert client.get(prefs_url(carla)).status_code == 302  # to sign in
    for user in (staff_b, patient_b.user, outsider):
        assert client_for(user).get(prefs_url(carla)).status_code == 404
        assert client_for(user).post(prefs_url(carla), CHOICES).status_code == 404
    response = client_for(staff_a).get(prefs_url(carla))  # staff have their own page of who gets what
    assert response.status_code == 302 and response.url == reverse("notices:patient", args=[carla.public_id])
    assert client_for(carla.user).put(prefs_url(carla)).status_code == 405
    assert not Preference.objects.exists()


def unsubscribe_url(preference):
    return reverse("notices:unsubscribe", args=[delivery.unsubscribe_token(preference)])


def test_the_unsubscribe_link_needs_no_sign_in_and_stops_everything(client, carla, time_machine):
    walk(time_machine, dt.datetime(2026, 3, 13, 13, 0, tzinfo=UTC))
    preference = Preference.objects.create(patient=carla, recipient_key="patient")
    page = client.get(unsubscribe_url(preference))
    assert page.status_code == 200 and "Stop these emails" in page.content.decode()
    assert Preference.objects.get(pk=preference.pk).unsubscribed_at is None  # a GET (a link scanner) changes nothing
    response = client.post(unsubscribe_url(preference), {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "Emails stopped" in response.content.decode()
    assert Preference.objects.get(pk=preference.pk).unsubscribed_at is not None
    assert not Notice.objects.filter(patient=carla, recipient_key="patient", status="pending")
    walk(time_machine, dt.datetime(2026, 3, 15, 13, 0, tzinfo=UTC))
    assert not Notice.objects.filter(patient=carla, recipient_key="patient", status__in=["pending", "sent"])


def test_a_forged_or_foreign_unsubscribe_link_is_404(client, carla):
    preference = Preference.objects.create(patient=carla, recipient_key="patient")
    token = delivery.unsubscribe_token(preference)
    other_salt = signing.dumps(str(preference.public_id), salt="feeds")
    for bad in (token[:-2] + "xx", other_salt, "nonsense"):
        assert client.post(reverse("notices:unsubscribe", args=[bad])).status_code == 404
    assert Preference.objects.get(pk=preference.pk).unsubscribed_at is None


def test_staff_pages_checklist(client_for, carla, clinic_a, staff_a, staff_b, outsider):
    caregiver = carla.caregiver_grants.get().user
    patient_page = reverse("notices:patient", args=[carla.public_id])
    affected = reverse("notices:affected", args=[clinic_a.pk])
    page = client_for(staff_a).get(patient_page).content.decode()
    assert "carla@example.com" in page and "dan@example.com" in page
    assert "Reminders 2 days before and the morning before" in page
    assert client_for(staff_a).get(affected).status_code == 200
    assert client_for(staff_a).post(patient_page).status_code == 405
    for user in (staff_b, carla.user, caregiver, outsider):
        assert client_for(user).get(patient_page).status_code == 404
        assert client_for(user).get(affected).status_code == 404
    assert client_for(staff_a).get(reverse("notices:affected", args=[99999])).status_code == 404
    detail = client_for(staff_a).get(reverse("staff:patient", args=[carla.public_id])).content.decode()
    assert patient_page in detail


def test_several_fixes_make_one_notice_and_an_undone_change_none(smtp, carla, staff_a, time_machine):
    settle(time_machine)
    fill = carla.plan.scheduled_fills.get(date=dt.date(2026, 3, 16))
    # A hold, undone two minutes later: the planner waits for quiet, sees no difference, sends nothing.
    hold, _ = services.hold_add(plan=carla.plan, sequence=fill.sequence, reason="labs", by=staff_a)
    time_machine.shift(dt.timedelta(minutes=2))
    assert planner.plan_notices() == 0
    services.hold_remove(hold=hold)
    settle(time_machine)
    assert not Notice.objects.filter(kind="change").exists()
    # A late refill recorded on the wrong day, corrected three minutes later: one notice, about the final date.
    time_machine.move_to(dt.datetime(2026, 3, 17, 14, 0, tzinfo=UTC), tick=False)
    recorded, _ = services.fill_record(plan=carla.plan, date=dt.date(2026, 3, 17), infusate="fudr", by=staff_a)
    time_machine.shift(dt.timedelta(minutes=3))
    planner.plan_notices()
    services.fill_correct(fill=recorded, by=staff_a, date=dt.date(2026, 3, 18))
    walk(time_machine, dt.datetime(2026, 3, 17, 16, 0, tzinfo=UTC))
    changes = [m for m in smtp.inbox.to("carla@example.com") if m["Subject"].startswith("Change")]
    assert len(changes) == 1
    assert "to Wednesday 1 April" in changes[0].get_body(preferencelist=("plain",)).get_content()


def test_overdue_patients_are_told_and_the_dashboard_shows_it(smtp, carla, clinic_a, staff_a, client_for,
                                                               time_machine):
    walk(time_machine, dt.datetime(2026, 3, 17, 12, 0, tzinfo=UTC), hours=3)  # 08:00 the day after: not yet
    assert not [m for m in smtp.inbox.to("carla@example.com") if m["Subject"].startswith("Overdue")]
    walk(time_machine, dt.datetime(2026, 3, 17, 14, 0, tzinfo=UTC))
    [told] = [m for m in smtp.inbox.to("carla@example.com") if m["Subject"].startswith("Overdue")]
    assert "Carla" not in told["Subject"]
    dashboard = client_for(staff_a).get(reverse("staff:clinic_dashboard", args=[clinic_a.pk])).content.decode()
    told_section = dashboard[dashboard.index("Told their refill is overdue"):]
    assert "Carla Cruz" in told_section and "emailed 17 Mar 09:00" in told_section
    history = client_for(staff_a).get(reverse("patient_history", args=[carla.public_id])).content.decode()
    assert "Emails sent" in history and "Overdue: refill of 16 Mar 2026" in history


def test_after_a_death_nobody_is_emailed_about_the_cancelled_visits(smtp, carla, time_machine):
    settle(time_machine)
    services.therapy_end(plan=carla.plan, end_date=dt.date(2026, 3, 10), reason="death")
    walk(time_machine, dt.datetime(2026, 3, 18, 14, 0, tzinfo=UTC), hours=3)
    assert smtp.inbox.messages == []
    assert not Notice.objects.exclude(status="cancelled").exists()


def test_the_dashboard_reads_told_and_failed_notices_in_one_query(carla, clinic_a, django_assert_num_queries):
    """The dashboard's notices section is one query (issue 13's budget), and lists what the two separate
    questions list: every overdue notice of the last week, and the newest failed ones (a failed overdue one in
    both)."""
    from django.utils import timezone

    from notices import selectors

    today, now = clinic_a.today(), timezone.now()
    plan = carla.plan

    def notice(sequence, **fields):
        fields.setdefault("fill_date", today - dt.timedelta(days=2))
        return Notice.objects.create(patient=carla, recipient_key="patient", plan=plan, sequence=sequence,
                                     **{"kind": "overdue", "due_at": now, **fields})

    told = notice(1, status="sent", sent_at=now)
    told_failed = notice(2, status="failed", due_at=now - dt.timedelta(days=10))
    notice(3, status="cancelled")
    notice(4, fill_date=today - dt.timedelta(days=8), status="sent")  # too old to list
    for n in range(selectors.FAILED_SHOWN + 5):  # reminders that failed, newest first from `now`
        notice(100 + n, kind="reminder", status="failed", due_at=now - dt.timedelta(hours=n))
    notice(200, kind="reminder", status="failed", due_at=now - dt.timedelta(days=15))  # too old to name
    with django_assert_num_queries(1):
        told_rows, told_count, failed_rows = selectors.dashboard_notices(clinic=clinic_a, today=today)
    assert told_rows == selectors.overdue_told(clinic=clinic_a, today=today)
    assert {n.pk for n in told_rows} == {told.pk, told_failed.pk} and told_count == 2
    assert failed_rows == selectors.failed_notices(clinic=clinic_a)
    assert len(failed_rows) == selectors.FAILED_SHOWN and told_failed not in failed_rows
    assert [n.sequence for n in failed_rows] == list(range(100, 100 + selectors.FAILED_SHOWN))
    # With few failed notices, the failed overdue one is named too.
    Notice.objects.filter(sequence__gte=100).delete()
    assert selectors.dashboard_notices(clinic=clinic_a, today=today)[2] == [told_failed]


def overdue_notices(clinic, count: int, *, start: int = 0, status="sent") -> list:
    """`count` patients told yesterday that their refill two days ago is overdue, named Told 000, Told 001..."""
    from django.utils import timezone

    from tests.conftest import make_patient

    now, today = timezone.now(), clinic.today()
    notices = []
    for n in range(start, start + count):
        patient = make_patient(clinic, f"Told {n:03}", f"T-{n:03}", surgery=today - dt.timedelta(days=16))
        notices.append(Notice.objects.create(
            patient=patient, recipient_key="patient", plan=patient.plan, sequence=1, kind="overdue", due_at=now,
            fill_date=today - dt.timedelta(days=2), status=status, sent_at=now if status == "sent" else None))
    return notices


def test_the_dashboard_names_the_first_told_and_links_to_everyone(client_for, staff_a, clinic_a, staff_b):
    from notices import selectors
    from notices.views import TOLD_PER_PAGE
    from tests.conftest import page_of, page_queries

    client = client_for(staff_a)
    dashboard = reverse("staff:clinic_dashboard", args=[clinic_a.pk])
    everyone = reverse("notices:told", args=[clinic_a.pk])
    overdue_notices(clinic_a, 3)
    client.get(dashboard)
    few = page_queries(client, dashboard)
    assert everyone not in client.get(dashboard).content.decode()  # all three named: nothing more to see
    overdue_notices(clinic_a, TOLD_PER_PAGE + 2, start=3)  # 55 in all
    assert page_queries(client, dashboard) == few
    words = page_of(client.get(dashboard)).find("ul", **{"class": "overdue-told"}).text()
    named = [f"Told {n:03}" for n in range(selectors.TOLD_SHOWN)]  # by name, as told_notices lists them
    assert [name for name in named if name not in words] == [] and f"Told {selectors.TOLD_SHOWN:03}" not in words
    body = client.get(dashboard).content.decode()
    assert f"The first {selectors.TOLD_SHOWN} of 55." in body and everyone in body

    page = page_of(client.get(everyone))
    assert page.find("h1").text() == "Told their refill is overdue"
    lines = [li.text() for li in page.find("ul", **{"class": "overdue-told"}).find_all("li")]
    assert len(lines) == TOLD_PER_PAGE and lines[0].startswith("Told 000: refill of 8 Mar, emailed")
    assert "Page 1 of 2 (55 emails)" in page.text()
    assert page_queries(client, everyone, {"page": 2}) == page_queries(client, everyone)
    last = page_of(client.get(everyone, {"page": 2}))
    assert len(last.find("ul", **{"class": "overdue-told"}).find_all("li")) == 5
    assert client.post(everyone).status_code == 405
    assert client_for(staff_b).get(everyone).status_code == 404  # another clinic's staff


def test_a_failed_overdue_notice_beyond_the_first_told_is_still_named_as_failed(clinic_a):
    from notices import selectors

    notices = overdue_notices(clinic_a, selectors.TOLD_SHOWN + 3)
    last = notices[-1]
    Notice.objects.filter(pk=last.pk).update(status="failed")
    told_rows, told_count, failed_rows = selectors.dashboard_notices(clinic=clinic_a, today=clinic_a.today())
    assert told_count == selectors.TOLD_SHOWN + 3 and len(told_rows) == selectors.TOLD_SHOWN
    assert last not in told_rows and failed_rows == [last]
