"""Dark mode follows the system setting (prefers-color-scheme) with the same guarantees: axe-core finds no
violation (colour contrast included) on any patient, caregiver or staff page."""

import pytest
from playwright.sync_api import expect

from schedules.management.commands.demo import ACCOUNTS
from tests.e2e.conftest import PHONE, assert_accessible, screenshot, sign_in, sign_in_staff
from tests.e2e.test_reflow import SIGNED_OUT_PAGES, caregiver_pages, patient_pages, staff_pages


@pytest.fixture
def dark_page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, color_scheme="dark")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def visit(page, urls: dict[str, str]) -> None:
    for name, url in urls.items():
        page.goto(url)
        assert_accessible(page)
        screenshot(page, f"dark-{name.replace(' ', '-')}")


def test_dark_mode_follows_the_system_setting(dark_page, demo):
    page = dark_page
    page.goto("/accounts/login/")
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "dark")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(22, 25, 29)"
    page.emulate_media(color_scheme="light")
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "light")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"


def test_every_patient_and_caregiver_page_passes_axe_in_dark_mode(dark_page, demo):
    visit(dark_page, SIGNED_OUT_PAGES)
    sign_in(dark_page, *ACCOUNTS["patient"][:2])
    visit(dark_page, patient_pages(demo))
    dark_page.get_by_role("button", name="Sign out").click()
    sign_in(dark_page, *ACCOUNTS["caregiver"][:2])
    visit(dark_page, caregiver_pages(demo))


def test_every_staff_page_passes_axe_in_dark_mode(dark_page, demo):
    sign_in_staff(dark_page, *ACCOUNTS["nurse"][:2])
    visit(dark_page, staff_pages(demo))
