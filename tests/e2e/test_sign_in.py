"""A person signs in with a real browser and lands on their page; the page passes axe-core."""

from io import StringIO

from django.core.management import call_command

from schedules.management.commands.demo import ACCOUNTS
from tests.e2e.conftest import assert_accessible, screenshot, sign_in


def test_demo_patient_signs_in_on_a_phone(page, transactional_db, frozen):
    call_command("demo", allow_production=True, stdout=StringIO())
    page.goto("/")
    assert "/accounts/login/" in page.url
    assert_accessible(page)
    username, password, *_ = ACCOUNTS["patient"]
    sign_in(page, username, password)
    assert page.url.endswith("/")
    assert page.get_by_role("heading", level=1).is_visible()
    assert_accessible(page)
    screenshot(page, "sign-in-patient-phone")


def test_wrong_password_says_so(page, transactional_db, frozen):
    call_command("demo", allow_production=True, stdout=StringIO())
    sign_in(page, "patient", "not-the-password")
    assert "/accounts/login/" in page.url
    # In the error summary at the top (focused), and again above the form.
    assert page.locator("#error-summary").get_by_text("correct username and password").is_visible()
