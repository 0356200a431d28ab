"""The demo clinic loads once, covers every stage of therapy, and its accounts sign in."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from patients.models import Patient
from schedules.models import FillKind, RecordedFill, ScheduledFill


def run_demo() -> str:
    out = StringIO()
    call_command("demo", allow_production=True, stdout=out)
    return out.getvalue()


def test_demo_is_idempotent_and_prints_the_accounts(db, frozen):
    first = run_demo()
    counts = (Patient.objects.count(), RecordedFill.objects.count(), ScheduledFill.objects.count())
    second = run_demo()
    assert (Patient.objects.count(), RecordedFill.objects.count(), ScheduledFill.objects.count()) == counts
    assert "nothing changed" in second
    for role in ("nurse", "patient", "caregiver"):
        assert role in first and role in second
    assert counts[0] >= 12


def test_demo_covers_every_stage(db, frozen):
    run_demo()
    planned = ScheduledFill.objects.filter(active=True)
    patients = Patient.objects.select_related("plan")
    assert any(p.plan.surgery_date > p.clinic.today() for p in patients)  # surgery next week
    assert planned.filter(recorded=False, date__lt=patients[0].clinic.today()).exists()  # overdue
    assert planned.filter(kind=FillKind.HELD, recorded=True).exists()  # chemo held (recorded)
    assert planned.filter(kind=FillKind.HELD, recorded=False).exists()  # chemo hold planned
    assert planned.filter(kind=FillKind.MAINTENANCE).exists()
    assert planned.filter(capacity_warning=True).exists()
    assert planned.filter(flow_deviation=True).exists()
    assert patients.filter(plan__status="ended", plan__end_reason="pump_removed").exists()  # therapy over
    # Chemotherapy completed, the pump still in: maintenance refills planned after the end (S8).
    weller = patients.get(record_number="RCC-1008").plan
    assert weller.status == "active" and weller.chemo_end_reason == "completed"
    maintenance = planned.filter(plan=weller, recorded=False, kind=FillKind.MAINTENANCE)
    assert maintenance.filter(date__gt=weller.chemo_end_date).exists()


def test_demo_accounts_sign_in(db, frozen):
    output = run_demo()
    for line in output.splitlines():
        if "password:" in line:
            username = line.split("username:")[1].split()[0]
            password = line.split("password:")[1].strip()
            client = Client()
            response = client.post(reverse("login"), {"username": username, "password": password})
            assert response.status_code == 302, username
            assert client.get(reverse("home"), follow=True).status_code == 200


def test_demo_refuses_to_run_in_production(db, frozen, settings):
    from patients.models import Clinic

    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("demo", stdout=StringIO())
    assert not Clinic.objects.exists()
    settings.DEBUG = True
    out = StringIO()
    call_command("demo", stdout=out)
    assert "Demo clinic loaded" in out.getvalue()
