"""Reflow (WCAG 1.4.10): the pages fit 320 CSS px and 200% browser zoom on a phone without scrolling sideways.

200% browser zoom on a 390 px phone lays a page out in a 195 CSS px viewport at twice the pixel density: a browser
context with that viewport and device_scale_factor=2 is what Chromium itself does when zoomed, media queries
included (CSS `zoom` on the root would not change the width media queries see).
"""

from io import StringIO

import pytest
from django.core.management import call_command

from patients.models import StaffMembership
from schedules.management.commands.demo import ACCOUNTS
from tests.conftest import make_clinic, make_user
from tests.e2e.conftest import NARROWEST, PHONE_ZOOM_200, assert_accessible, screenshot, sign_in
from tests.e2e.test_staff import sign_in_nurse

WIDTHS = {"320px": (NARROWEST, 1), "zoom200": (PHONE_ZOOM_200, 2)}


@pytest.fixture(params=list(WIDTHS))
def narrow_page(request, browser, live_server):
    viewport, scale = WIDTHS[request.param]
    context = browser.new_context(base_url=live_server.url, viewport=viewport, device_scale_factor=scale)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.width_name = request.param
    yield page
    context.close()


def assert_header_inside_its_bar(page) -> None:
    """Every item of the header (brand, links, "Sign out") lies inside the dark bar and inside the window."""
    boxes = page.evaluate(
        """() => {
            const bar = document.querySelector('.site-header .navbar').getBoundingClientRect();
            const items = [...document.querySelectorAll('.site-header .navbar a, .site-header .navbar button')]
                .filter(el => el.offsetParent !== null)
                .map(el => { const r = el.getBoundingClientRect();
                             return {text: el.textContent.trim(), left: r.left, right: r.right,
                                     top: r.top, bottom: r.bottom}; });
            return {bar: {left: bar.left, right: bar.right, top: bar.top, bottom: bar.bottom},
                    width: document.documentElement.clientWidth, items};
        }"""
    )
    bar = boxes["bar"]
    assert any(item["text"] == "Sign out" for item in boxes["items"])
    for item in boxes["items"]:
        assert item["left"] >= bar["left"] and item["right"] <= min(bar["right"], boxes["width"]), item
        assert item["top"] >= bar["top"] and item["bottom"] <= bar["bottom"], item


def test_patient_header_keeps_sign_out_in_the_dark_bar(narrow_page, transactional_db, frozen):
    call_command("demo", allow_production=True, stdout=StringIO())
    sign_in(narrow_page, *ACCOUNTS["patient"][:2])
    assert_header_inside_its_bar(narrow_page)
    assert_accessible(narrow_page)


def test_staff_header_keeps_sign_out_in_the_dark_bar(narrow_page, transactional_db, frozen):
    clinic = make_clinic("Riverside", time_zone="America/New_York")
    StaffMembership.objects.create(user=make_user("nora", first_name="Nora", last_name="Nurse"), clinic=clinic)
    sign_in_nurse(narrow_page, "nora")
    assert_header_inside_its_bar(narrow_page)
    screenshot(narrow_page, f"staff-dashboard-{narrow_page.width_name}")
