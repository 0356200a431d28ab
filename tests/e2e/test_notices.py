"""A caregiver chooses their emails on a phone; a patient stops them with one click from an email."""

import datetime as dt
from io import StringIO

from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from notices import delivery
from notices.models import Change, Notice, Preference
from patients.models import CaregiverAccess, Patient
from schedules.management.commands.demo import ACCOUNTS
from tests.e2e.conftest import assert_accessible, screenshot, sign_in


def test_a_caregiver_changes_their_email_choices(page, transactional_db, frozen):
    call_command("demo", allow_production=True, stdout=StringIO())
    username, password, *_ = ACCOUNTS["caregiver"]
    grant = CaregiverAccess.objects.select_related("patient", "user").get(user__username=username)
    sign_in(page, username, password)
    page.goto(f"/p/{grant.patient.public_id}/")
    page.get_by_role("link", name="Emails").click()
    page.wait_for_load_state()
    assert_accessible(page)
    page.get_by_label("When a refill is overdue").uncheck()
    page.get_by_label("First reminder").select_option(label="The morning before only")
    page.get_by_role("button", name="Save my choices").click()
    page.wait_for_load_state()
    assert page.get_by_text("Your email choices are saved.").is_visible()
    assert not page.get_by_label("When a refill is overdue").is_checked()
    assert_accessible(page)
    screenshot(page, "notices-preferences-phone")
    preference = Preference.objects.get(patient=grant.patient, caregiver=grant.user)
    assert (preference.overdue, preference.days_ahead, preference.reminders) == (False, 1, True)


def test_a_patient_unsubscribes_with_one_click_from_the_email(page, transactional_db, frozen, live_server, settings):
    call_command("demo", allow_production=True, stdout=StringIO())
    settings.SITE_URL = live_server.url
    patient = Patient.objects.get(user__username=ACCOUNTS["patient"][0])
    plan = patient.plan
    change = Change.objects.create(
        clinic=patient.clinic, patient=patient, plan=plan, sequence=1, revision=99, detected_at=timezone.now(),
        lines=[{"sequence": 1, "old_date": "2026-03-16", "new_date": "2026-03-17", "what": "moved",
                "reason": "clinic"}],
    )
    Notice.objects.create(patient=patient, recipient_key="patient", plan=plan, sequence=1,
                          fill_date=dt.date(2026, 3, 17), kind="change", fill_revision=99, change=change,
                          due_at=timezone.now())
    delivery.send_due()
    [email] = mail.outbox
    link = email.extra_headers["List-Unsubscribe"].strip("<>")
    page.goto(link)  # from the email: not signed in
    assert_accessible(page)
    page.get_by_role("button", name="Stop these emails").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Emails stopped").is_visible()
    assert_accessible(page)
    screenshot(page, "notices-unsubscribed-phone")
    assert Preference.objects.get(patient=patient, recipient_key="patient").unsubscribed_at is not None
