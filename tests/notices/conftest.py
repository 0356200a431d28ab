"""Fixtures and helpers of the notices tests: a real SMTP server, followers, and a clock walked hour by hour."""

import datetime as dt

import pytest
from django.utils import timezone

from notices import delivery, planner
from notices.models import Notice
from patients.models import CaregiverAccess
from schedules import jobs
from tests.conftest import TODAY, make_patient, make_user
from tests.notices.smtp_server import SMTPServer

DRUG_WORDS = ("fudr", "chemo", "heparin", "saline", "dexamethasone", "glycerin")


@pytest.fixture
def smtp(settings):
    """Notices go through a real SMTP server run by the test."""
    server = SMTPServer().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", server.port, False
    settings.SITE_URL = "https://pumpcare.example.org"
    yield server
    server.stop()


@pytest.fixture
def carla(clinic_a):
    """A patient whose first chemo fill is Monday 16 March 2026, with a caregiver, Dan."""
    patient = make_patient(clinic_a, "Carla Cruz", "C-100", surgery=TODAY - dt.timedelta(days=10),
                           user=make_user("carla"))
    CaregiverAccess.objects.create(patient=patient, user=make_user("dan"))
    return patient


def step(time_machine, when: dt.datetime) -> None:
    # The worker recomputes a clinic-wide change (closures) within seconds of it, before the clock moves on.
    while jobs.recompute_stale_plans(limit=1000):
        pass
    time_machine.move_to(when, tick=False)
    planner.plan_notices()
    delivery.send_due()


def settle(time_machine) -> None:
    """Let the last changes go quiet and run the planner and sender once."""
    step(time_machine, timezone.now() + dt.timedelta(minutes=6))


def walk(time_machine, until: dt.datetime, *, hours: int = 1) -> None:
    """Walk the clock to ``until`` on the hour, running the worker's units at each hour."""
    now = timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    while now <= until:
        step(time_machine, now)
        now += dt.timedelta(hours=hours)


def walk_to_each_due_time(time_machine, until: dt.datetime, *, every: dt.timedelta = dt.timedelta(hours=6)) -> None:
    """Walk the clock to ``until`` by ``every``, stopping also at the moment each waiting notice falls due."""
    now = timezone.now()
    while now <= until:
        step(time_machine, now)
        next_due = (
            Notice.objects.filter(status="pending", due_at__gt=now).order_by("due_at").values_list("due_at", flat=True)
            .first()
        )
        now = min(now + every, next_due or now + every)
