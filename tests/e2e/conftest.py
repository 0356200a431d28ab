"""Real-browser tests: Playwright drives Debian's Chromium against pytest-django's live server.

Screenshots land in test-artifacts/ (git-ignored) so a person can look at what patients see.
"""

import time
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import sync_playwright

from tests.conftest import NOW

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = {"width": 390, "height": 844}
# Browser zoom at 200% on that phone: the page lays out in half as many CSS pixels, drawn at twice the density.
PHONE_ZOOM_200 = {"width": 195, "height": 422}
NARROWEST = {"width": 320, "height": 640}  # WCAG 1.4.10 reflow: 320 CSS px wide
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def frozen(time_machine):
    """In a browser test the clock starts at NOW and ticks: the browser and the server wait on real time."""
    time_machine.move_to(NOW, tick=True)
    return NOW


@pytest.fixture
def demo(transactional_db, frozen):
    """The demo clinic (`manage.py demo`); returns the demo patient."""
    from io import StringIO

    from django.core.management import call_command

    from patients.models import Patient
    from schedules.management.commands.demo import ACCOUNTS

    call_command("demo", allow_production=True, stdout=StringIO())
    return Patient.objects.select_related("clinic").get(user__username=ACCOUNTS["patient"][0])


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (no cookies) at phone size, with the live server as base URL."""
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_accessible(page) -> None:
    """axe-core (WCAG 2 A/AA rules and best practices) finds no violation on the current page."""
    # After a click the new page may still be loading its style sheets: axe would then judge colours the page
    # never shows (a link's blue on the dark header before Bootstrap's white arrives).
    page.wait_for_load_state("load")
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def sign_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def current_totp_code(username: str) -> str:
    """The code the staff member's authenticator app shows now."""
    device = TOTPDevice.objects.get(user__username=username, confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"


def sign_in_staff(page, username: str, password: str) -> None:
    """Clinic staff sign in, then confirm with the code from their authenticator app."""
    sign_in(page, username, password)
    page.get_by_label("Code from your authenticator app").fill(current_totp_code(username))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state()
