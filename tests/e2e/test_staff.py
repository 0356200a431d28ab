"""A nurse in a real browser: creates a patient with a surgery date, previews, saves, records the first chemo
fill two days late and sees the later fills move. axe-core checks every staff page on the way."""

import datetime as dt

from django.contrib.auth.models import User
from playwright.sync_api import expect

from patients.models import StaffMembership
from tests.conftest import PASSWORD, TODAY, make_clinic, make_patient, make_user, verified_totp_device
from tests.e2e.conftest import DESKTOP, PHONE, assert_accessible, screenshot, sign_in_staff


def sign_in_nurse(page, username: str, password: str = PASSWORD) -> None:
    """The one place a nurse signs in: password, then the code from their authenticator app."""
    verified_totp_device(User.objects.get(username=username))
    sign_in_staff(page, username, password)


def shoot(page, name: str) -> None:
    """Screenshots of a staff page on a phone and on a desktop."""
    screenshot(page, f"{name}-phone")
    page.set_viewport_size(DESKTOP)
    screenshot(page, f"{name}-desktop")
    page.set_viewport_size(PHONE)


def test_nurse_creates_a_patient_and_records_a_late_fill(page, transactional_db, frozen):
    clinic = make_clinic("Riverside", time_zone="America/New_York")
    nurse = make_user("nora", first_name="Nora", last_name="Nurse")
    StaffMembership.objects.create(user=nurse, clinic=clinic)
    # Some company on the dashboard: one patient overdue, one due this week.
    make_patient(clinic, "Alice Ames", "R-100", surgery=TODAY - dt.timedelta(days=20))
    make_patient(clinic, "Ben Brown", "R-101", surgery=TODAY - dt.timedelta(days=11))

    sign_in_nurse(page, "nora")
    expect(page.get_by_role("heading", level=1, name="Riverside")).to_be_visible()
    expect(page.get_by_text("overdue").first).to_be_visible()
    assert_accessible(page)
    shoot(page, "staff-dashboard")

    page.get_by_role("link", name="New patient").first.click()
    assert_accessible(page)
    page.get_by_label("Name").first.fill("Carla Diaz")
    page.get_by_label("Clinic record number").fill("R-200")
    page.get_by_label("Date of birth").fill("1957-08-21")
    page.get_by_label("Contact email").fill("carla@example.com")
    # Surgery on Wednesday 18 February: the first chemo fill is due Wednesday 4 March, six days ago.
    page.get_by_label("Surgery date").fill("2026-02-18")
    page.get_by_role("button", name="Preview fills").click()
    preview = page.get_by_role("region", name="Preview: the first fills of this plan")
    expect(preview).to_be_visible()
    assert "Wed 4 Mar 2026: FUDR (chemo, cycle 1)" in preview.inner_text()
    assert "Wed 18 Mar 2026: Heparinized saline (rest, cycle 1)" in preview.inner_text()
    assert_accessible(page)
    screenshot(page, "staff-patient-preview-phone")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("heading", level=1, name="Carla Diaz")).to_be_visible()
    expect(page.get_by_text("Saved.")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Record the 4 Mar fill").click()
    assert page.get_by_label("Infusate").input_value() == "fudr"
    assert_accessible(page)
    page.get_by_label("Date").first.fill("2026-03-06")  # two days late
    page.get_by_label("Volume put in (mL)").fill("30")
    page.get_by_role("button", name="Record fill").click()

    message = page.get_by_role("status").inner_text()
    assert "Fill recorded." in message
    assert "fill 2 from Wed 18 Mar to Fri 20 Mar" in message and "fill 3 from Wed 1 Apr to Fri 3 Apr" in message
    fills = page.get_by_role("region", name="Table: fills")
    assert "Fri 20 Mar 2026" in fills.inner_text() and "Wed 18 Mar 2026" not in fills.inner_text()
    assert_accessible(page)
    shoot(page, "staff-patient")

    page.get_by_role("link", name="Correct the fill of 6 Mar 2026").click()
    page.get_by_label("Volume put in (mL)").fill("29")
    page.get_by_role("button", name="Save correction").click()
    corrections = page.get_by_role("region", name="Corrections")
    assert "by Nora Nurse" in corrections.inner_text() and "30.0 → 29.0" in corrections.inner_text()

    page.get_by_text("Hold chemo of 3 Apr 2026").click()
    page.get_by_label("Reason for the hold").first.fill("ALP rising")
    assert_accessible(page)
    page.get_by_role("button", name="Hold this chemo fill").first.click()
    assert "Chemo of Fri 3 Apr held." in page.get_by_role("status").inner_text()
    assert "Hold: ALP rising" in page.get_by_role("region", name="Table: fills").inner_text()

    page.get_by_role("link", name="End chemotherapy or therapy").click()
    expect(page.get_by_label("End chemotherapy (pump stays in: maintenance refills continue)")).to_be_visible()
    assert_accessible(page)
    page.go_back()
    page.get_by_role("link", name="Patients").first.click()
    expect(page.get_by_role("link", name="Carla Diaz")).to_be_visible()
    assert_accessible(page)
    page.goto(f"/clinic/{clinic.pk}/settings/")
    assert_accessible(page)
    page.get_by_role("link", name="Standard").click()
    assert_accessible(page)
