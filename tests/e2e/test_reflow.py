"""Reflow (WCAG 1.4.10): every page fits 320 CSS px and 200% browser zoom on a phone without scrolling sideways.

200% browser zoom on a 390 px phone lays a page out in a 195 CSS px viewport at twice the pixel density: a browser
context with that viewport and device_scale_factor=2 is what Chromium itself does when zoomed, media queries
included (CSS `zoom` on the root element would not change the width that media queries see, so it models zoom
less faithfully).
"""

from pprint import pformat

import pytest

from feeds.subscriptions import subscription_create
from patients.models import StaffMembership
from schedules.management.commands.demo import ACCOUNTS
from schedules.models import CalendarSubscription, Protocol, RecordedFill
from tests.conftest import make_clinic, make_user
from tests.e2e.conftest import (
    ARTIFACTS,
    NARROWEST,
    PHONE_ZOOM_200,
    assert_accessible,
    screenshot,
    sign_in,
    sign_in_staff,
)
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


def page_width(page) -> dict:
    return page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth})"
    )


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


# The elements that stick out past the right edge of the window (not those inside a scrolling box): named in a
# failure so the culprit is found at once.
WIDEST = r"""() => {
    const edge = document.documentElement.clientWidth;
    const clipped = el => { for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        if (getComputedStyle(a).overflowX !== 'visible') return true; } return false; };
    const found = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const el = node.nodeType === Node.TEXT_NODE ? node.parentElement : node;
        let rect = node.getBoundingClientRect ? node.getBoundingClientRect() : null;
        if (!rect) { const range = document.createRange(); range.selectNodeContents(node);
                     rect = range.getBoundingClientRect(); }
        if (rect.right > edge + 0.5 && !clipped(el) && !(node !== el && getComputedStyle(el).overflowX !== 'visible')) {
            found.push(`${node.nodeType === Node.TEXT_NODE ? 'text in ' : ''}${el.tagName.toLowerCase()}` +
                       `.${[...el.classList].join('.')} ${Math.round(rect.right)}px ` +
                       `"${node.textContent.replace(/\s+/g, " ").trim().slice(0, 30)}"`);
        }
    }
    return found.slice(-6);
}"""


def walk(page, urls: dict[str, str]) -> None:
    """Visit each page: none scrolls sideways (the widths land in test-artifacts/), and each passes axe."""
    too_wide, widths = {}, {}
    for name, url in urls.items():
        page.goto(url)
        page.wait_for_load_state("load")
        width = widths[name] = page_width(page)
        if width["scroll"] > width["client"]:
            too_wide[name] = {**width, "past the edge": page.evaluate(WIDEST)}
        assert_accessible(page)
        if page.width_name == "zoom200":
            screenshot(page, f"zoom200-{name.replace(' ', '-')}")
            page.screenshot(path=str(ARTIFACTS / f"zoom200-{name.replace(' ', '-')}-first-screen.png"))
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / f"reflow-{page.width_name}.txt", "a") as out:
        for name, width in widths.items():
            out.write(f"{name:<28} {width['scroll']:>5} / {width['client']} px\n")
    assert not too_wide, "Pages wider than the window:\n" + pformat(too_wide, width=110)


SIGNED_OUT_PAGES = {"sign in": "/accounts/login/", "password reset": "/accounts/password_reset/"}


def patient_pages(patient) -> dict[str, str]:
    """Every page of the patient's own (a calendar link made for the link pages)."""
    subscription, _token = subscription_create(
        patient=patient, name="Kitchen tablet", detail=CalendarSubscription.Detail.DISCREET, by=patient.user
    )
    base = f"/p/{patient.public_id}"
    link = f"{base}/calendar-subscriptions/{subscription.public_id}"
    return {
        "home": f"{base}/",
        "calendar": f"{base}/calendar/",
        "therapy": f"{base}/therapy/",
        "print": f"{base}/print/",
        "living with the pump": "/living-with-the-pump/",
        "calendar links": f"{base}/calendar-subscriptions/",
        "calendar link": f"{link}/",
        "rename calendar link": f"{link}/rename/",
        "change password": "/accounts/password_change/",
    }


def caregiver_pages(patient) -> dict[str, str]:
    base = f"/p/{patient.public_id}"
    return {"caregiver home": "/", "caregiver patient home": f"{base}/", "caregiver calendar": f"{base}/calendar/",
            "caregiver therapy": f"{base}/therapy/", "caregiver print": f"{base}/print/"}


def staff_pages(patient) -> dict[str, str]:
    clinic = patient.clinic
    base = f"/clinic/clinic/{patient.public_id}"
    fill = RecordedFill.objects.filter(plan__patient=patient).first()
    protocol = Protocol.objects.filter(clinic=clinic).first()
    return {
        "dashboard": f"/clinic/{clinic.pk}/",
        "patient list": f"/clinic/{clinic.pk}/patients/",
        "new patient": f"/clinic/{clinic.pk}/patients/new/",
        "clinic settings": f"/clinic/{clinic.pk}/settings/",
        "protocol": f"/clinic/{clinic.pk}/protocols/{protocol.pk}/",
        "staff patient": f"{base}/",
        "edit patient": f"{base}/edit/",
        "record fill": f"{base}/fills/new/",
        "correct fill": f"{base}/fills/{fill.pk}/",
        "end therapy": f"{base}/end/",
        "history": f"/clinic/patients/{patient.public_id}/history/",
    }


def test_every_patient_page_reflows(narrow_page, demo):
    walk(narrow_page, SIGNED_OUT_PAGES)
    sign_in(narrow_page, *ACCOUNTS["patient"][:2])
    assert_header_inside_its_bar(narrow_page)
    screenshot(narrow_page, f"patient-home-{narrow_page.width_name}")
    walk(narrow_page, patient_pages(demo))


def test_every_caregiver_page_reflows(narrow_page, demo):
    sign_in(narrow_page, *ACCOUNTS["caregiver"][:2])
    walk(narrow_page, caregiver_pages(demo))


def test_every_staff_page_reflows(narrow_page, demo):
    sign_in_staff(narrow_page, *ACCOUNTS["nurse"][:2])
    assert_header_inside_its_bar(narrow_page)
    walk(narrow_page, staff_pages(demo))


def test_staff_header_keeps_sign_out_in_the_dark_bar(narrow_page, transactional_db, frozen):
    clinic = make_clinic("Riverside", time_zone="America/New_York")
    StaffMembership.objects.create(user=make_user("nora", first_name="Nora", last_name="Nurse"), clinic=clinic)
    sign_in_nurse(narrow_page, "nora")
    assert_header_inside_its_bar(narrow_page)
    screenshot(narrow_page, f"staff-dashboard-{narrow_page.width_name}")
