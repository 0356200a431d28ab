"""The demo patient makes a calendar link on a phone, copies it, and the link serves the calendar."""

from io import StringIO

from django.core.management import call_command

from patients.models import Patient
from schedules.management.commands.demo import ACCOUNTS
from tests.e2e.conftest import assert_accessible, screenshot, sign_in


def test_patient_makes_a_calendar_link(page, transactional_db, frozen):
    call_command("demo", allow_production=True, stdout=StringIO())
    patient = Patient.objects.get(user__username=ACCOUNTS["patient"][0])
    username, password, *_ = ACCOUNTS["patient"]
    sign_in(page, username, password)
    page.goto(f"/p/{patient.public_id}/calendar-subscriptions/")
    assert_accessible(page)
    screenshot(page, "subscriptions-list-phone")

    page.get_by_label("Name of this calendar link").fill("Daniel's phone")
    page.get_by_role("radio", name="Detailed: “Pump refill").check()
    page.get_by_role("button", name="Make the link").click()
    page.wait_for_load_state()
    link = page.get_by_label("Calendar link").input_value()
    assert "/feeds/" in link and link.endswith(".ics")
    assert page.get_by_role("link", name="Add to Apple Calendar").get_attribute("href").startswith("webcal://")
    assert page.get_by_role("img", name="QR code of the calendar link").is_visible()
    page.get_by_role("button", name="Copy link").click()
    page.get_by_role("status").filter(has_text="Select the link and copy it.").or_(
        page.get_by_role("status").filter(has_text="Link copied.")
    ).wait_for()
    assert_accessible(page)
    screenshot(page, "subscribe-page-phone")

    feed = page.request.get(link)
    assert feed.status == 200 and feed.headers["content-type"] == "text/calendar; charset=utf-8"
    assert b"Pump refill: start FUDR" in feed.body()

    # Issue 14: re-opening "How to add it" says why the link cannot be shown again, and gives the steps.
    page.goto(f"/p/{patient.public_id}/calendar-subscriptions/")
    page.get_by_role("link", name="How to add it (Daniel's phone)").click()
    page.get_by_text("The link cannot be shown again.").wait_for()
    assert page.get_by_role("heading", name="Get a reminder before each visit").is_visible()
    assert_accessible(page)
    screenshot(page, "subscribe-again-phone")
