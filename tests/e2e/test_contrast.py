"""Contrast of controls (WCAG 1.4.11): the borders of inputs, selects, checkboxes and radios, and the keyboard
focus ring, are at least 3:1 against what lies around them, in light and in dark mode.

Computed in the browser from the rendered styles (getComputedStyle), so it measures what people see.
"""

import pytest

from schedules.management.commands.demo import ACCOUNTS
from tests.e2e.conftest import PHONE, sign_in_staff

# WCAG relative luminance and contrast ratio; the background is the first opaque one among the ancestors.
CONTRAST = r"""([selector, part]) => {
    const rgb = c => (c.match(/[\d.]+/g) || []).map(Number);
    const lum = c => { const f = v => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                       return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
    const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
    const behind = el => {
        for (let n = el.parentElement; n; n = n.parentElement) {
            const c = rgb(getComputedStyle(n).backgroundColor);
            if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
        }
        return rgb(getComputedStyle(document.documentElement).backgroundColor).slice(0, 3);
    };
    const el = document.querySelector(selector);
    const style = getComputedStyle(el);
    if (part === 'border') {
        return {ratio: ratio(rgb(style.borderTopColor), behind(el)), width: parseFloat(style.borderTopWidth),
                color: style.borderTopColor};
    }
    return {ratio: ratio(rgb(style.outlineColor), behind(el)), width: parseFloat(style.outlineWidth),
            style: style.outlineStyle, color: style.outlineColor};
}"""

CONTROLS = {
    "text input": "#id_patient-name",
    "date input": "#id_patient-date_of_birth",
    "select": "#id_plan-protocol",
    "checkbox": "#id_plan-open_ended",
    "number input": "#id_plan-first_chemo_after_days",
}


@pytest.fixture(params=["light", "dark"])
def scheme_page(request, browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, color_scheme=request.param)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def assert_contrast(page, controls: dict[str, str]) -> None:
    low = {}
    for name, selector in controls.items():
        border = page.evaluate(CONTRAST, [selector, "border"])
        if border["ratio"] < 3 or border["width"] < 1:
            low[f"{name} border"] = border
        page.locator(selector).first.focus()
        ring = page.evaluate(CONTRAST, [selector, "outline"])
        if ring["ratio"] < 3 or ring["width"] < 2 or ring["style"] == "none":
            low[f"{name} focus ring"] = ring
    assert not low, low


def test_control_borders_and_focus_ring_have_3_to_1(scheme_page, demo):
    patient = demo
    page = scheme_page
    sign_in_staff(page, *ACCOUNTS["nurse"][:2])
    page.goto(f"/clinic/{patient.clinic.pk}/patients/new/")
    page.wait_for_load_state("load")
    assert_contrast(page, CONTROLS)
    page.goto(f"/clinic/clinic/{patient.public_id}/end/")
    page.wait_for_load_state("load")
    assert_contrast(page, {"radio": "input[type=radio]"})
    # Buttons and links show the ring too, on the page and on the dark header.
    for selector in ("main button[type=submit]", "main a", ".site-header button", ".site-header a"):
        page.locator(selector).first.focus()
        ring = page.evaluate(CONTRAST, [selector, "outline"])
        assert ring["ratio"] >= 3 and ring["width"] >= 2 and ring["style"] != "none", (selector, ring)
