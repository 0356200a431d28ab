"""Issue 14's smaller items, each as a person sees it on the page."""

import datetime as dt
import re

from django.urls import reverse

from schedules import services
from schedules.models import ClinicClosure
from tests.conftest import TODAY
from tests.test_patient_pages import text


def title(response) -> str:
    return re.search(r"<title>(.*?)</title>", response.content.decode(), re.S).group(1).strip()


def test_dashboard_labels_the_record_number_apart_from_the_record_button(client_for, staff_a, patient_a):
    words = text(client_for(staff_a).get(reverse("staff:dashboard")))
    assert "Record number A-100" in words
    assert "Record refill of Alice Ames" in words  # the button, with its screen-reader tail
    assert "Record A-100" not in words


def test_staff_patient_page_title_names_no_patient(client_for, staff_a, patient_a):
    """Titles end up in browser history and on shared screens' tab bars: no name, no record number."""
    response = client_for(staff_a).get(reverse("staff:patient", args=[patient_a.public_id]))
    assert title(response) == "Patient record · PumpCare"
    assert "Alice" not in title(response) and "A-100" not in title(response)


def test_the_surgery_is_not_counted_as_a_refill(client_for, patient_a, staff_a):
    plan = patient_a.plan
    services.fill_record(plan=plan, date=plan.surgery_date, infusate="heparinized_saline", by=staff_a)
    services.fill_record(plan=plan, date=plan.surgery_date + dt.timedelta(days=14), infusate="fudr", by=staff_a)
    response = client_for(patient_a.user).get(reverse("home"))
    given = response.content.decode().split('id="given-heading"', 1)[1].split("</ol>", 1)[0]
    assert given.count("<li>") == 1 and "Pump surgery" not in given
    assert "(the implant, not a refill)" in text(response)


def test_destructive_buttons_ask_to_confirm_first(client_for, staff_a, clinic_a, patient_a, caregiver_a):
    ClinicClosure.objects.create(clinic=clinic_a, date=TODAY + dt.timedelta(days=5), name="Staff day")
    settings_page = client_for(staff_a).get(reverse("staff:clinic_settings", args=[clinic_a.pk])).content.decode()
    assert re.search(r"<summary[^>]*>Remove<span", settings_page)
    assert "Yes, remove the closure of 15 Mar 2026</button>" in settings_page
    page = client_for(staff_a).get(reverse("staff:patient", args=[patient_a.public_id])).content.decode()
    assert re.search(r"<summary[^>]*>Remove the patient's sign-in</summary>", page)
    assert "Yes, remove the sign-in</button>" in page
    assert re.search(r"<summary[^>]*>Revoke<span", page) and ">Yes, revoke<span" in page
    # No one-step submit buttons left for these actions.
    assert not re.search(r'<button type="submit"[^>]*>(Remove|Revoke)\b', settings_page + page)


def test_signing_out_says_so(client_for, patient_a):
    client = client_for(patient_a.user)
    response = client.post(reverse("logout"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("login")
    assert "You are signed out." in text(response)
    assert "You are signed out." not in text(client.get(reverse("login")))  # said once
