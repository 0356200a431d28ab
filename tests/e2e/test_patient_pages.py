"""The demo patient and the demo caregiver read their pages in a real browser, on a phone and a desktop.

Every page passes axe-core; screenshots land in test-artifacts/ for a person to look at.
"""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from patients.models import Patient
from schedules.management.commands.demo import ACCOUNTS
from tests.e2e.conftest import DESKTOP, PHONE, assert_accessible, screenshot, sign_in


@pytest.fixture
def demo(transactional_db, frozen):
    call_command("demo", allow_production=True, stdout=StringIO())
    return Patient.objects.select_related("clinic").get(user__username=ACCOUNTS["patient"][0])


def month_heading(page) -> str:
    return page.get_by_role("heading", level=1).inner_text()


def walk_the_pages(page, patient, who: str, size: str) -> None:
    """Home, three months forward and back, the whole therapy, print and the living page: all accessible."""
    username, password, *_ = ACCOUNTS[who]
    sign_in(page, username, password)
    assert page.url.endswith("/")
    refill = page.locator(".refill-card")
    expect(refill).to_be_visible()
    # The demo patient's next refill is planned: a weekday and date, how far away, and what goes in.
    expect(refill).to_contain_text(re.compile(r"(Monday|Tuesday|Wednesday|Thursday|Friday) \d{1,2} \w+"))
    expect(refill).to_contain_text(re.compile(r"Today|Tomorrow|In \d+ days"))
    expect(refill).to_contain_text(re.compile(r"What goes in: (FUDR|heparinized saline)"))
    expect(page.locator(".where-card")).to_contain_text(re.compile(r"Day \d+ of \d+|Rest|Maintenance"))
    # Above the fold on a phone: the whole refill card is inside the first screen.
    box = refill.bounding_box()
    assert box is not None and box["y"] + box["height"] <= page.viewport_size["height"]
    assert_accessible(page)
    screenshot(page, f"{who}-home-{size}")

    page.get_by_role("link", name="Calendar", exact=True).click()
    today = patient.clinic.today()
    this_month = f"{today:%B} {today.year}"
    expect(page.get_by_role("heading", level=1)).to_have_text(this_month)
    expect(page.locator('td[aria-current="date"]')).to_have_count(1)
    assert_accessible(page)
    screenshot(page, f"{who}-calendar-{size}")
    months = [this_month]
    for _ in range(3):
        page.get_by_role("link", name="Next month").click()
        months.append(month_heading(page))
        assert_accessible(page)
    assert len(set(months)) == 4
    for expected in reversed(months[:-1]):
        page.get_by_role("link", name="Previous month").click()
        assert month_heading(page) == expected
    page.get_by_role("link", name="Previous month").click()
    page.get_by_role("link", name="This month").click()
    assert month_heading(page) == this_month

    page.get_by_role("link", name="Therapy", exact=True).click()
    expect(page.get_by_role("img", name="Timeline of the therapy")).to_be_visible()
    expect(page.locator(".phase-item-current")).to_have_count(1)
    assert_accessible(page)
    screenshot(page, f"{who}-therapy-{size}")

    page.get_by_role("link", name="Print", exact=True).click()
    expect(page.get_by_role("button", name="Print this schedule")).to_be_visible()
    expect(page.locator("table.print-table tbody tr")).not_to_have_count(0)
    assert_accessible(page)
    screenshot(page, f"{who}-print-{size}")
    page.emulate_media(media="print")
    # Print CSS: no navigation, black on white.
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator(".patient-nav")).to_be_hidden()
    assert page.evaluate("getComputedStyle(document.body).color") == "rgb(0, 0, 0)"
    screenshot(page, f"{who}-print-media-{size}")
    page.emulate_media(media="screen")

    page.get_by_role("link", name="Living with the pump").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Living with the pump")
    assert_accessible(page)


@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_demo_patient_reads_every_page(page, demo, size, viewport):
    page.set_viewport_size(viewport)
    walk_the_pages(page, demo, "patient", size)


@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_demo_caregiver_reads_every_page(page, demo, size, viewport):
    page.set_viewport_size(viewport)
    walk_the_pages(page, demo, "caregiver", size)
    expect(page.get_by_text("Living with the pump").first).to_be_visible()


def test_overdue_refill_on_a_phone_names_the_clinic_phone(page, demo):
    from schedules.models import ScheduledFill

    # Another demo patient's story: a refill two days late is recorded late; here we make one simply missed.
    patient = demo
    fills = ScheduledFill.objects.filter(plan__patient=patient, recorded=False, active=True).order_by("sequence")
    missed = fills.first()
    ScheduledFill.objects.filter(pk=missed.pk).update(date=patient.clinic.today().replace(day=1))
    sign_in(page, *ACCOUNTS["patient"][:2])
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Please call the clinic")
    expect(alert.get_by_role("link", name=patient.clinic.phone)).to_have_attribute("href", "tel:+15550100199")
    assert_accessible(page)
    screenshot(page, "patient-home-overdue-phone")


def test_password_pages_are_accessible(page, demo):
    page.goto("/accounts/password_reset/")
    assert_accessible(page)
    sign_in(page, *ACCOUNTS["patient"][:2])
    page.get_by_role("link", name="Change your password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Change your password")
    assert_accessible(page)
