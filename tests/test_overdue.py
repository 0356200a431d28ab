"""Overdue (S10) told the same way on every page, with an after-hours number when the clinic is closed.

patient_a: surgery Wednesday 18 February 2026, the first FUDR planned Wednesday 4 March and never recorded;
time is frozen at Tuesday 10 March 2026 (tests/conftest.py).
"""

import datetime as dt

import pytest
from django.urls import reverse

from schedules import services
from schedules.models import ClinicClosure, ScheduledFill
from tests.conftest import TODAY
from tests.test_patient_pages import record_due_fills, url
from tests.test_patient_pages import text as page_text


def text(response) -> str:
    return page_text(response).replace(" )", ")")

IN_PUMP = "The pump still holds heparinized saline, put in on Wednesday 18 February."
WILL_MOVE = "The dates after it are planned from that refill and will move once it is recorded."
PAGES = ["patient_home", "therapy", "calendar_month", "print"]


@pytest.mark.parametrize("name", PAGES)
def test_overdue_is_one_truth_on_every_patient_page(client_for, patient_a, name):
    words = text(client_for(patient_a.user).get(url(name, patient_a)))
    if name == "patient_home":  # the answer first, in the refill card
        assert "Your refill was due on Wednesday 4 March and is overdue." in words
    else:
        assert "The refill planned for Wednesday 4 March has not been recorded." in words
    assert IN_PUMP in words and WILL_MOVE in words
    assert ".." not in words
    assert "Cycle 1: FUDR" not in words or "Now" not in words.split("Cycle 1: FUDR", 1)[1][:80]


def test_staff_patient_page_tells_the_same_overdue(client_for, staff_a, patient_a):
    words = text(client_for(staff_a).get(reverse("staff:patient", args=[patient_a.public_id])))
    due = "The refill planned for Wednesday 4 March has not been recorded."
    assert f"Refill overdue. {due} {IN_PUMP} {WILL_MOVE}" in words


def test_therapy_marks_what_is_in_the_pump_now_and_later_dates_as_moving(client_for, patient_a):
    words = text(client_for(patient_a.user).get(url("therapy", patient_a)))
    # Now is the saline since surgery, not the FUDR that was never given.
    assert "Rest (after the pump surgery), Wed 18 Feb 2026 to Wed 4 Mar 2026 (14 days) Now" in words
    assert "Cycle 1: FUDR, Wed 4 Mar 2026 to Wed 18 Mar 2026 (14 days) Overdue: not recorded yet" in words
    assert "Wed 18 Mar 2026 to Wed 1 Apr 2026 (14 days) · planned, moves once the overdue refill is recorded" in words


def test_home_says_later_refills_will_move_and_print_marks_them(client_for, patient_a):
    words = text(client_for(patient_a.user).get(url("patient_home", patient_a)))
    assert "Planned from the overdue refill: these dates will move once it is recorded." in words
    printed = text(client_for(patient_a.user).get(url("print", patient_a)))
    assert "Wednesday heparinized saline (rest) planned, will move" in printed


def test_nothing_about_overdue_once_the_refill_is_recorded(client_for, patient_a, staff_a):
    record_due_fills(patient_a, staff_a, before=TODAY)
    for name in PAGES:
        words = text(client_for(patient_a.user).get(url(name, patient_a)))
        assert "overdue" not in words.lower() and "will move" not in words


def test_after_hours_number_on_a_closure_day_and_a_closed_weekday(client_for, patient_a, clinic_a):
    clinic_a.after_hours_phone = "+1 555 0199"
    clinic_a.save()
    client = client_for(patient_a.user)
    open_day = text(client.get(url("patient_home", patient_a)))
    assert "closed today" not in open_day
    assert "Call Clinic A: +1 555 0100 (after hours: +1 555 0199)." in open_day

    ClinicClosure.objects.create(clinic=clinic_a, date=TODAY, name="Staff training")
    response = client.get(url("patient_home", patient_a))
    words = text(response)
    assert "The clinic is closed today (Staff training). Call the after-hours number: +1 555 0199." in words
    assert 'href="tel:+15550199"' in response.content.decode()
    for name in ("therapy", "calendar_month"):
        assert "Call the after-hours number: +1 555 0199." in text(client.get(url(name, patient_a)))

    ClinicClosure.objects.all().delete()
    clinic_a.open_weekdays = "0234"  # Tuesdays closed: today is a Tuesday
    clinic_a.save()
    services.clinic_recompute(clinic=clinic_a)
    words = text(client.get(url("patient_home", patient_a)))
    assert "The clinic is closed today (Tuesday). Call the after-hours number: +1 555 0199." in words


def test_closed_clinic_without_an_after_hours_number_says_where_to_go(client_for, patient_a, clinic_a):
    ClinicClosure.objects.create(clinic=clinic_a, date=TODAY)
    words = text(client_for(patient_a.user).get(url("patient_home", patient_a)))
    assert "The clinic is closed today (a closure day)." in words
    assert "go to the nearest emergency department or call 911" in words


def test_staff_set_the_after_hours_number(client_for, staff_a, clinic_a):
    data = {"clinic-open_days": ["0", "1", "2", "3", "4"], "clinic-flow_tolerance_percent": "20",
            "clinic-default_protocol": str(clinic_a.default_protocol_id), "clinic-after_hours_phone": "+1 555 0199"}
    settings_url = reverse("staff:clinic_settings", args=[clinic_a.pk])
    assert "After-hours phone" in client_for(staff_a).get(settings_url).content.decode()
    client_for(staff_a).post(settings_url, data)
    clinic_a.refresh_from_db()
    assert clinic_a.after_hours_phone == "+1 555 0199"


def test_future_hold_will_be_past_hold_was(client_for, patient_a, staff_a):
    # The 4 March chemo fill was given as saline: a hold that happened.
    services.fill_record(plan=patient_a.plan, date=dt.date(2026, 3, 4), infusate="heparinized_saline", by=staff_a)
    chemo = ScheduledFill.objects.filter(plan=patient_a.plan, kind="chemo", recorded=False).order_by("sequence")
    services.hold_add(plan=patient_a.plan, sequence=chemo[1].sequence, reason="ALP rising", by=staff_a)
    words = text(client_for(patient_a.user).get(url("therapy", patient_a)))
    assert "Chemotherapy was on hold: heparinized saline went in instead." in words
    assert "Chemotherapy will be on hold: heparinized saline will go in instead." in words
