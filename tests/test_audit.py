"""The audit trail: changes kept with who and when, views and exports logged, shown to staff read-only."""

import datetime as dt
import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from patients.models import AccessEvent
from schedules import services
from tests.conftest import TODAY

ROOT = Path(__file__).resolve().parent.parent


def history_url(patient):
    return reverse("patient_history", args=[patient.public_id])


def test_history_shows_who_changed_what_before_and_after(client_for, staff_a, patient_a):
    client = client_for(staff_a)
    fill, _ = services.fill_record(plan=patient_a.plan, date=TODAY, infusate="fudr", by=staff_a, volume_in_ml=30)
    services.fill_correct(fill=fill, by=staff_a, volume_in_ml=28)
    services.hold_add(plan=patient_a.plan, sequence=fill.plan.scheduled_fills.filter(kind="chemo", recorded=False)
                      .order_by("sequence").first().sequence, reason="ALP rising", by=staff_a)
    response = client.get(history_url(patient_a))
    assert response.status_code == 200
    changes = response.context["changes"]
    corrected = next(c for c in changes if c.what == "Recorded fill" and c.kind == "changed")
    assert ("volume put in (mL)", "30.0", "28.0") in corrected.fields
    assert any(c.what == "Hold" and c.kind == "created" for c in changes)
    assert any(c.what == "Therapy plan" and c.kind == "created" for c in changes)


def test_history_queries_do_not_grow_with_the_record(client_for, staff_a, patient_a, django_assert_max_num_queries):
    client = client_for(staff_a)
    for days in range(0, 140, 14):
        services.fill_record(plan=patient_a.plan, date=TODAY + dt.timedelta(days=days), infusate="fudr", by=staff_a)
    with django_assert_max_num_queries(15):
        assert client.get(history_url(patient_a)).status_code == 200


def test_history_is_staff_only_and_read_only(client_for, staff_a, staff_b, patient_a, caregiver_a):
    assert client_for(staff_b).get(history_url(patient_a)).status_code == 404
    assert client_for(patient_a.user).get(history_url(patient_a)).status_code == 404
    assert client_for(caregiver_a).get(history_url(patient_a)).status_code == 404
    assert client_for(staff_a).post(history_url(patient_a)).status_code == 405
    assert client_for(staff_a).get("/clinic/patients/not-a-uuid/history/").status_code == 404


def test_staff_and_caregiver_views_are_logged_but_not_a_patients_own(client_for, staff_a, patient_a, caregiver_a):
    from django.test import RequestFactory

    from patients import access

    for user in (staff_a, caregiver_a, patient_a.user):
        request = RequestFactory().get("/")
        request.user = user
        access.get_patient(request, patient_a.public_id)
    logged = set(AccessEvent.objects.filter(patient=patient_a, action="view").values_list("user__username", flat=True))
    assert logged == {"staff_a", "caregiver_a"}


def test_export_patient_gives_the_full_record_as_json(patient_a, staff_a):
    services.fill_record(plan=patient_a.plan, date=TODAY, infusate="fudr", by=staff_a, note="went well")
    out = StringIO()
    call_command("export_patient", str(patient_a.public_id), stdout=out)
    record = json.loads(out.getvalue())
    assert record["patient"]["name"] == "Alice Ames"
    assert record["recorded_fills"][0]["note"] == "went well"
    assert record["schedule"] and record["changes"]
    assert AccessEvent.objects.filter(patient=patient_a, action="export").exists()


@pytest.mark.parametrize("bad", ["nope", "00000000-0000-0000-0000-000000000000"])
def test_export_of_an_unknown_patient_is_a_clear_error(db, bad):
    with pytest.raises(CommandError, match="No patient"):
        call_command("export_patient", bad)


def test_migrations_reverse_to_zero_and_apply_again(tmp_path):
    """On a fresh database file with the demo clinic in it: every migration applies, reverses and applies again."""
    env = {"DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'migrations.sqlite3'}", "PATH": "/usr/bin:/bin",
           "DJANGO_SETTINGS_MODULE": "pumpcare.settings"}
    # One process for the five steps: starting Django five times cost more than the migrations themselves.
    steps = (
        "import django; django.setup()\n"
        "from django.core.management import call_command\n"
        "call_command('migrate', verbosity=0)\n"
        "call_command('demo')\n"
        "call_command('migrate', 'schedules', 'zero', verbosity=0)\n"
        "call_command('migrate', 'patients', 'zero', verbosity=0)\n"
        "call_command('migrate', verbosity=0)\n"
        "from patients.models import Patient\n"
        "print('patients after the round trip:', Patient.objects.count())\n"
    )
    result = subprocess.run([sys.executable, "-c", steps], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr
    # Reversing to zero drops the tables: the demo's patients are gone, and the schema is whole again.
    assert "patients after the round trip: 0" in result.stdout


def test_feed_fetches_are_logged_by_subscription_never_by_link(client, patient_a, caregiver_a):
    from feeds import subscriptions

    subscription, token = subscriptions.subscription_create(
        patient=patient_a, name="Kitchen tablet", detail="discreet", by=patient_a.user
    )
    client.get(reverse("feeds:feed", args=[token]))
    event = AccessEvent.objects.get(patient=patient_a, action="feed")
    assert str(subscription.public_id) in event.detail and token not in event.detail


def test_a_caregivers_look_at_the_landing_page_is_logged(client_for, caregiver_a, patient_a):
    assert client_for(caregiver_a).get(reverse("home")).status_code == 200
    assert AccessEvent.objects.filter(patient=patient_a, user=caregiver_a, action="view").exists()
