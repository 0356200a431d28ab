"""After a refused submit, focus lands on an error summary at the top that links to each field, and the page
title starts with "Error:" (the first thing a screen reader says), on every form page through base.html."""

from playwright.sync_api import expect

from schedules.management.commands.demo import ACCOUNTS
from tests.e2e.conftest import assert_accessible, screenshot, sign_in, sign_in_staff

FOCUSED_ID = "document.activeElement && document.activeElement.id"


def test_staff_form_errors_are_summarised_focused_and_linked(page, demo):
    sign_in_staff(page, *ACCOUNTS["nurse"][:2])
    page.goto(f"/clinic/{demo.clinic.pk}/patients/new/")
    assert not page.title().startswith("Error:")
    page.get_by_label("Clinic record number").fill("R-900")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state("load")

    assert page.title().startswith("Error: ")
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_have_accessible_name("There is a problem")
    name_link = summary.get_by_role("link", name="Name: This field is required.")
    expect(name_link).to_have_attribute("href", "#id_patient-name")
    assert_accessible(page)
    screenshot(page, "error-summary-staff-phone")
    name_link.click()
    assert page.evaluate(FOCUSED_ID) == "id_patient-name"


def test_patient_forms_say_error_in_the_title_and_focus_the_summary(page, demo):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(ACCOUNTS["patient"][0])
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")
    assert page.title().startswith("Error: ")
    expect(page.locator("#error-summary")).to_be_focused()
    assert_accessible(page)

    sign_in(page, *ACCOUNTS["patient"][:2])
    page.goto("/accounts/password_change/")
    page.get_by_role("button", name="Change password").click()
    page.wait_for_load_state("load")
    assert page.title().startswith("Error: ")
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    summary.get_by_role("link").first.click()
    assert page.evaluate(FOCUSED_ID) == "id_old_password"
    assert_accessible(page)
