"""A patient sees where they are signed in and signs out a browser they left signed in (issue 14, "Own data")."""

from io import StringIO

from django.core.management import call_command

from schedules.management.commands.demo import ACCOUNTS
from tests.e2e.conftest import assert_accessible, screenshot, sign_in


def test_a_patient_signs_out_a_browser_left_signed_in_elsewhere(browser, page, live_server, transactional_db,
                                                                  frozen):
    call_command("demo", allow_production=True, stdout=StringIO())
    username, password, *_ = ACCOUNTS["patient"]
    library = browser.new_context(base_url=live_server.url).new_page()
    sign_in(library, username, password)
    sign_in(page, username, password)
    page.get_by_role("link", name="Where you are signed in").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1, name="Where you are signed in").is_visible()
    assert page.get_by_text("This browser", exact=True).is_visible()
    assert_accessible(page)
    screenshot(page, "signed-in-browsers-phone")
    page.get_by_role("button", name="Sign out this browser").click()
    page.wait_for_load_state()
    assert page.get_by_text("Signed out of 1 other browser").is_visible()
    assert page.get_by_role("button", name="Sign out this browser").count() == 0
    assert_accessible(page)
    library.goto("/")
    assert "/accounts/login/" in library.url
    library.context.close()
