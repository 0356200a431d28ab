"""Defects found in review, each pinned by a test of what a person would have hit."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.urls import reverse

from feeds import subscriptions
from patients.models import StaffMembership
from schedules import progress, selectors, services
from schedules.models import ClinicClosure
from tests.conftest import NOW, PASSWORD, TODAY
from tests.test_staff_patients import form_data


def test_creating_a_patient_on_29_february_works(client_for, staff_a, clinic_a, time_machine):
    time_machine.move_to(dt.datetime(2028, 2, 29, 15, 0, tzinfo=dt.UTC), tick=False)
    data = form_data(clinic_a, **{"plan-surgery_date": "2028-02-20"})
    response = client_for(staff_a).post(reverse("staff:patient_create", args=[clinic_a.pk]), data)
    assert response.status_code == 302


def test_odd_query_strings_are_not_a_500(client_for, staff_a, patient_a, clinic_a):
    client = client_for(staff_a)
    assert client.get(reverse("staff:fill_record", args=[patient_a.public_id]), {"sequence": "²"}).status_code == 200
    search = client.post(reverse("staff:patients", args=[clinic_a.pk]), {"q": "Al\x00ice"}, follow=True)
    assert search.status_code == 200


def test_an_ended_therapy_has_nothing_overdue(patient_a):
    assert selectors.overdue_fills(clinic=patient_a.clinic).filter(plan__patient=patient_a).exists()
    services.therapy_end(plan=patient_a.plan, end_date=TODAY - dt.timedelta(days=1), reason="pump_removed")
    assert not selectors.overdue_fills(clinic=patient_a.clinic).filter(plan__patient=patient_a).exists()


def test_a_caregiver_cannot_choose_a_calendar_with_drug_names(client_for, caregiver_a, patient_a):
    url = reverse("feeds:subscriptions", args=[patient_a.public_id])
    response = client_for(caregiver_a).post(url, {"name": "My phone", "detail": "detailed"})
    assert response.status_code == 400 and not patient_a.calendar_subscriptions.exists()
    with pytest.raises(ValidationError):
        subscriptions.subscription_create(patient=patient_a, name="x", detail="detailed", by=caregiver_a)
    download_url = reverse("feeds:download", args=[patient_a.public_id])
    assert client_for(caregiver_a).get(download_url, {"detail": "detailed"}).status_code == 400


def test_the_admin_offers_only_the_users_own_clinics_plans(client_for, staff_a, patient_a, patient_b):
    staff_a.is_staff = True
    staff_a.save()
    staff_a.user_permissions.add(*Permission.objects.filter(codename__in=["add_hold", "view_hold"]))
    page = client_for(staff_a).get(reverse("admin:schedules_hold_add")).content.decode()
    assert patient_a.name in page and patient_b.name not in page


def test_closures_added_in_bulk_keep_their_history(clinic_a, staff_a):
    services.closures_add(clinic=clinic_a, days={TODAY + dt.timedelta(days=30): "Staff day"}, by=staff_a)
    record = ClinicClosure.history.get(name="Staff day")
    assert record.history_user == staff_a


def test_a_membership_granted_mid_session_asks_for_the_second_factor_within_a_minute(
    client, patient_a, clinic_a, time_machine
):
    time_machine.move_to(NOW, tick=False)
    client.post(reverse("login"), {"username": "patient_a", "password": PASSWORD})
    assert client.get(reverse("home")).status_code == 200
    StaffMembership.objects.create(user=patient_a.user, clinic=clinic_a)
    time_machine.move_to(NOW + dt.timedelta(seconds=61), tick=False)
    response = client.get(reverse("staff:patients", args=[clinic_a.pk]))
    assert response.status_code == 302 and response.url.startswith(reverse("two_factor_verify"))


def test_two_missed_refills_still_say_what_is_really_in_the_pump(patient_a, staff_a):
    plan = patient_a.plan
    chemo = selectors.planned_fills().filter(plan=plan).order_by("sequence").first()
    services.fill_record(plan=plan, date=chemo.date, infusate="fudr", by=staff_a)
    fills = selectors.patient_fills(patient_a)
    long_after = TODAY + dt.timedelta(days=40)  # the rest fill and the next chemo fill are both missed
    where = progress.where(fills, long_after, cycles_total=6, end_date=None)
    assert where.state == "overdue" and "FUDR" in where.cycle  # not the saline of the missed rest fill


def test_staff_pages_show_times_in_the_clinics_zone(client_for, staff_a, patient_a):
    services.fill_record(plan=patient_a.plan, date=TODAY, infusate="fudr", by=staff_a)
    page = client_for(staff_a).get(reverse("patient_history", args=[patient_a.public_id])).content.decode()
    assert "10 Mar 2026, 11:00" in page  # NOW is 15:00 UTC, 11:00 in New York
