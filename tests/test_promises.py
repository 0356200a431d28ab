"""README promises that had no test failing when they broke (issue 16). Each names, in a comment, the break it was
tried against: the test failed with that break in place and passes without it."""

import datetime as dt
import io
import logging
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from patients.models import AccessEvent
from schedules import jobs, services
from schedules.models import ClinicClosure, ScheduledFill, TherapyPlan
from tests.conftest import NOW, PASSWORD, TODAY, make_user
from tests.staff_fixtures import planned


@pytest.fixture
def superuser(db):
    return make_user("root", is_staff=True, is_superuser=True)


def worker_catches_up() -> None:
    """A clinic-wide change is recomputed in the background (the worker's recompute_stale_plans): do its turn."""
    jobs.recompute_stale_plans(limit=1000)


def dates(patient) -> list[dt.date]:
    return [f.date for f in planned(patient)]


# Break tried: closure_remove() deleting the closure without clinic_recompute().
def test_removing_a_closure_puts_the_fill_back_on_its_day(client_for, staff_a, clinic_a, patient_a):
    due = dates(patient_a)[1]
    services.closures_add(clinic=clinic_a, days={due: "Staff day"})
    worker_catches_up()
    assert due not in dates(patient_a)  # the closure moved that fill
    closure = ClinicClosure.objects.get(clinic=clinic_a, date=due)
    client_for(staff_a).post(reverse("staff:closure_remove", args=[clinic_a.pk, closure.pk]))
    worker_catches_up()
    assert due in dates(patient_a)
    moved_back = ScheduledFill.objects.get(plan__patient=patient_a, date=due, active=True)
    assert moved_back.moved_from is None


# Break tried: services.clinic_calendar() ignoring clinic.flow_tolerance_percent (always 0.20).
def test_the_clinics_tolerance_setting_decides_what_is_flagged(client_for, staff_a, clinic_a, patient_a):
    plan = TherapyPlan.objects.get(patient=patient_a)
    # 30 mL in at surgery, 9 mL back 14 days later: 1.5 mL/day on a 1 mL/day pump, 50% off.
    services.fill_record(plan=plan, date=plan.surgery_date, infusate="heparinized_saline", by=staff_a,
                         volume_in_ml=Decimal("30"))
    services.fill_record(plan=plan, date=plan.surgery_date + dt.timedelta(days=14), infusate="fudr", by=staff_a,
                         volume_returned_ml=Decimal("9"))
    page = reverse("staff:patient", args=[patient_a.public_id])
    client = client_for(staff_a)
    assert "out of tolerance" in client.get(page).content.decode()  # 50% is beyond the default 20%

    settings_data = {"clinic-open_days": ["0", "1", "2", "3", "4"], "clinic-flow_tolerance_percent": "60",
                     "clinic-default_protocol": str(clinic_a.default_protocol_id)}
    client.post(reverse("staff:clinic_settings", args=[clinic_a.pk]), settings_data)
    worker_catches_up()
    assert "out of tolerance" not in client.get(page).content.decode()  # within 60%

    client.post(reverse("staff:clinic_settings", args=[clinic_a.pk]), {**settings_data,
                                                                      "clinic-flow_tolerance_percent": "40"})
    worker_catches_up()
    assert "out of tolerance" in client.get(page).content.decode()


# Break tried: ClinicClosureAdmin.save_model (RecomputesClinicAdmin) and RecomputesPlanAdmin.save_model without
# their recompute call.
def test_saving_in_the_admin_recomputes(client_for, superuser, clinic_a, patient_a):
    client = client_for(superuser)
    due = dates(patient_a)[1]
    response = client.post(
        reverse("admin:schedules_clinicclosure_add"),
        {"clinic": clinic_a.pk, "date": due.isoformat(), "name": "Staff day", "_save": "Save"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    worker_catches_up()
    assert due not in dates(patient_a)

    plan = TherapyPlan.objects.get(patient=patient_a)
    first_chemo = planned(patient_a)[0]
    response = client.post(
        reverse("admin:schedules_recordedfill_add"),
        {"plan": plan.pk, "date": first_chemo.date.isoformat(), "infusate": "heparinized_saline",
         "note": "", "_save": "Save"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    recorded = ScheduledFill.objects.get(plan=plan, sequence=first_chemo.sequence, active=True)
    assert recorded.recorded and recorded.held  # saline where chemo was due: a hold, and chemo comes again


# Break tried: AccessEventAdmin without ReadOnlyMixin (its change, add and delete permissions).
def test_the_access_log_cannot_be_edited_or_deleted_in_the_admin(client_for, superuser, caregiver_a, patient_a):
    client_for(caregiver_a).get(f"/p/{patient_a.public_id}/")
    event = AccessEvent.objects.get(patient=patient_a, user=caregiver_a)
    kept = {"pk": event.pk, "action": event.action, "detail": event.detail, "at": event.at}
    admin = client_for(superuser)
    change_url = reverse("admin:patients_accessevent_change", args=[event.pk])
    page = admin.get(change_url)
    assert page.status_code == 200  # it can be read
    assert 'name="_save"' not in page.content.decode()
    assert admin.post(change_url, {"action": "export", "detail": "tampered"}).status_code == 403
    assert admin.post(reverse("admin:patients_accessevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    assert admin.get(reverse("admin:patients_accessevent_add")).status_code == 403
    bulk = admin.post(reverse("admin:patients_accessevent_changelist"),
                      {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"})
    assert bulk.status_code in (200, 302)  # the admin answers "no action selected": delete is not offered
    assert AccessEvent.objects.filter(**kept).exists()


# Break tried: the history template without its events table (and the view without "events").
def test_the_history_page_shows_who_looked(client_for, staff_a, caregiver_a, patient_a):
    client_for(caregiver_a).get(f"/p/{patient_a.public_id}/")
    page = client_for(staff_a).get(reverse("patient_history", args=[patient_a.public_id])).content.decode()
    from patients.audit import person_name

    assert person_name(caregiver_a) in page and "Viewed the next refill page" in page


# Break tried: the console handler in settings.LOGGING without its "redact_secrets" filter.
def test_log_lines_are_redacted_by_the_logging_configuration():
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    captured = io.StringIO()
    previous = handler.setStream(captured)
    try:
        logging.getLogger("django.request").error("Internal Server Error: %s", "/feeds/s3cr3tT0ken.ics")
        logging.getLogger("pumpcare.anything").warning("GET /accounts/reset/MQ/abc-123def/ took long")
    finally:
        handler.setStream(previous)
    output = captured.getvalue()
    assert "/feeds/[redacted]" in output and "/reset/[redacted]/" in output
    assert "s3cr3tT0ken" not in output and "abc-123def" not in output


# Break tried: AXES_COOLOFF_TIME = 0.5 (30 minutes) and = None (locked for good).
def test_a_locked_sign_in_cools_off_after_15_minutes(patient_a, outsider, settings, time_machine):
    def lock_out(username: str) -> Client:
        client = Client()
        for _ in range(settings.AXES_FAILURE_LIMIT):
            client.post(reverse("login"), {"username": username, "password": "wrong"})
        return client

    # Every try while locked is a failure too and starts the 15 minutes again, so each account is tried once.
    still_locked, cooled_off = lock_out("patient_a"), lock_out("outsider")
    time_machine.move_to(NOW + dt.timedelta(minutes=14, seconds=50), tick=False)
    assert still_locked.post(reverse("login"), {"username": "patient_a", "password": PASSWORD}).status_code == 429
    time_machine.move_to(NOW + dt.timedelta(minutes=15, seconds=10), tick=False)
    assert cooled_off.post(reverse("login"), {"username": "outsider", "password": PASSWORD}).status_code == 302


# Break tried: refresh_schedules selecting no stale plan (projected_on filter inverted).
def test_refresh_schedules_rolls_the_horizon_forward_once_a_day(patient_a, time_machine, settings):
    plan = TherapyPlan.objects.get(patient=patient_a)

    def last_planned() -> dt.date:
        return ScheduledFill.objects.filter(plan=plan, active=True).latest("date").date

    horizon = TODAY + dt.timedelta(days=settings.SCHEDULE_HORIZON_DAYS)
    assert horizon - dt.timedelta(days=28) < last_planned() <= horizon
    later = TODAY + dt.timedelta(days=60)
    time_machine.move_to(NOW + dt.timedelta(days=60), tick=False)
    out = io.StringIO()
    call_command("refresh_schedules", stdout=out)
    assert out.getvalue().strip() == "Refreshed 1 plans."
    horizon = later + dt.timedelta(days=settings.SCHEDULE_HORIZON_DAYS)
    assert horizon - dt.timedelta(days=28) < last_planned() <= horizon
    plan.refresh_from_db()
    assert plan.projected_on == later
    # Once a day: a second run finds nothing stale.
    out = io.StringIO()
    call_command("refresh_schedules", stdout=out)
    assert out.getvalue().strip() == "Refreshed 0 plans."
