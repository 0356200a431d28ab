"""Issue 14 on a phone (390x844): home overdue, the therapy with a future hold, living with the pump.

Each page passes axe-core; the screenshots in test-artifacts/ go into the issue's closing note.
"""

import datetime as dt
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from playwright.sync_api import expect

from patients.models import Patient
from schedules import services
from schedules.management.commands.demo import ACCOUNTS
from schedules.models import ScheduledFill
from tests.conftest import NOW
from tests.e2e.conftest import assert_accessible, screenshot, sign_in


@pytest.fixture
def demo(transactional_db, frozen):
    call_command("demo", allow_production=True, stdout=StringIO())
    patient = Patient.objects.select_related("clinic").get(user__username=ACCOUNTS["patient"][0])
    clinic = patient.clinic
    clinic.after_hours_phone = "+1 555 010 0911"
    clinic.save()
    return patient


def test_home_overdue_on_a_phone_tells_one_truth(page, demo, time_machine):
    # Two days after the next planned refill, with nothing recorded: a real overdue, nothing edited by hand.
    missed = ScheduledFill.objects.filter(plan__patient=demo, recorded=False, active=True).order_by("sequence").first()
    time_machine.move_to(NOW + dt.timedelta(days=(missed.date - demo.clinic.today()).days + 2), tick=True)
    sign_in(page, *ACCOUNTS["patient"][:2])
    card = page.locator(".refill-card")
    expect(card).to_contain_text("is overdue")
    expect(card).to_contain_text("The pump still holds")
    expect(card).to_contain_text("will move once it is recorded")
    expect(page.get_by_text("Planned from the overdue refill")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "issue14-home-overdue-phone")


def test_therapy_with_a_future_hold_says_will_be(page, demo):
    chemo = (
        ScheduledFill.objects.filter(plan__patient=demo, recorded=False, active=True, kind="chemo")
        .order_by("sequence")
        .first()
    )
    nurse = get_user_model().objects.get(username=ACCOUNTS["nurse"][0])
    services.hold_add(plan=demo.plan, sequence=chemo.sequence, reason="ALP rising", by=nurse)
    sign_in(page, *ACCOUNTS["patient"][:2])
    page.get_by_role("link", name="Therapy").first.click()
    expect(page.get_by_text("Chemotherapy will be on hold: heparinized saline will go in instead.")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "issue14-therapy-future-hold-phone")


def test_living_with_the_pump_call_now_first_with_the_tab_bar(page, demo):
    sign_in(page, *ACCOUNTS["patient"][:2])
    page.get_by_role("link", name="Living with the pump").first.click()
    expect(page.get_by_role("heading", level=2).first).to_have_text("Call now if you have")
    expect(page.locator(".call-now")).to_contain_text("100.4°F (38°C)")
    expect(page.locator(".call-now").get_by_role("link", name=demo.clinic.phone)).to_be_visible()
    expect(page.locator(".call-now")).to_contain_text("+1 555 010 0911")
    expect(page.get_by_role("navigation", name="Your pages")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "issue14-living-phone")
