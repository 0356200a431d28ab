"""Exactly once, proven with real processes and a real SMTP server: two workers at once, a worker killed
mid-batch and restarted, and a mail server that is down for a while.

Worker processes share the test database only on a database server: those two tests run on PostgreSQL
(`.ci/run` runs the suite with DATABASE_URL=postgres://...); the outage test runs everywhere.
"""

import collections
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from notices import delivery
from notices.models import Change, Notice
from tests.conftest import TODAY, make_clinic, make_patient, make_user
from tests.notices.smtp_server import SMTPServer

ROOT = Path(__file__).resolve().parents[2]
ON_POSTGRES = connection.vendor == "postgresql"
needs_postgres = pytest.mark.skipif(not ON_POSTGRES, reason="worker processes share the database: PostgreSQL only")


def due_notices(count: int, *, clinic=None) -> list[Notice]:
    """``count`` change notices due now, to one patient (each about another revision: all distinct)."""
    clinic = clinic or make_clinic("Clinic E", time_zone="America/New_York")
    patient = make_patient(clinic, "Erin Estes", "E-1", surgery=TODAY - dt.timedelta(days=10),
                           user=make_user("erin"))
    change = Change.objects.create(
        clinic=clinic, patient=patient, plan=patient.plan, sequence=1, revision=1, detected_at=timezone.now(),
        lines=[{"sequence": 1, "old_date": "2026-03-16", "new_date": "2026-03-17", "what": "moved",
                "reason": "clinic"}],
    )
    return Notice.objects.bulk_create(
        Notice(patient=patient, recipient_key="patient", plan=patient.plan, sequence=1, fill_date=TODAY,
               kind=Notice.Kind.CHANGE, fill_revision=revision, change=change,
               due_at=timezone.now() - dt.timedelta(minutes=1))
        for revision in range(1, count + 1)
    )


def worker_env(server: SMTPServer, **extra) -> dict:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ, "DEBUG": "1", "DATABASE_URL": url, "SITE_URL": "https://pumpcare.example.org",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(server.port), "EMAIL_USE_TLS": "0", "LOG_LEVEL": "WARNING", **extra,
    }


def start_worker(server: SMTPServer, **extra) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "send_notices", "--limit", "10"], cwd=ROOT, env=worker_env(server, **extra),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def sent_by(output: str) -> int:
    return sum(int(line.rsplit(": ", 1)[1]) for line in output.splitlines() if "send_due: " in line)


def duplicates(server: SMTPServer) -> int:
    counts = collections.Counter(server.inbox.message_ids())
    return sum(n - 1 for n in counts.values())


@pytest.fixture
def server():
    server = SMTPServer().start()
    yield server
    server.stop()


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_send_500_due_notices_each_exactly_once(server, time_machine):
    notices = due_notices(500)
    workers = [start_worker(server), start_worker(server)]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    per_worker = [sent_by(out) for out, _ in outputs]
    print(f"two workers: {len(server.inbox.messages)} received, {duplicates(server)} duplicates, "
          f"handled per worker {per_worker}")
    assert len(server.inbox.messages) == 500 and duplicates(server) == 0
    assert {m["Message-ID"] for m in server.inbox.messages} == {
        f"<notice-{n.public_id}@pumpcare.example.org>" for n in notices
    }
    assert Notice.objects.filter(status="sent").count() == 500
    assert all(n > 0 for n in per_worker)  # both took part: the claims really raced


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_and_restarted_sends_the_rest_and_no_duplicate(server):
    due_notices(500)
    worker = start_worker(server, NOTICES_CLAIM_SECONDS="2")

    def crash_at_the_138th(message):
        if len(server.inbox.messages) == 137:
            os.kill(worker.pid, signal.SIGKILL)  # dies with this message in flight, before the server took it
            return True
        return False

    server.inbox.before_accept = crash_at_the_138th
    worker.wait(timeout=300)
    server.inbox.before_accept = None
    assert worker.returncode == -signal.SIGKILL
    assert len(server.inbox.messages) == 137
    claimed = Notice.objects.filter(status="sending").count()
    assert claimed > 0  # the rest of its batch stays claimed by the dead worker...
    while Notice.objects.filter(status="sending", claimed_until__gte=timezone.now()).exists():
        time.sleep(0.5)  # ...until its claim times out
    restarted = start_worker(server)
    output, errors = restarted.communicate(timeout=300)
    assert restarted.returncode == 0, errors
    print(f"kill test: {len(server.inbox.messages)} received, {duplicates(server)} duplicates, "
          f"{claimed} claimed by the dead worker, {sent_by(output)} handled after the restart")
    assert len(server.inbox.messages) == 500 and duplicates(server) == 0
    assert Notice.objects.filter(status="sent").count() == 500


@pytest.mark.django_db
def test_the_mail_server_down_then_up_delivers_every_notice_once(settings, time_machine, client_for):
    time_machine.move_to(dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC), tick=False)
    server = SMTPServer()  # not started yet: connections are refused
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_USE_TLS = False  # the test server speaks plain SMTP (production defaults to STARTTLS)
    due_notices(50)
    assert delivery.send_due(limit=100) == 50
    assert set(Notice.objects.values_list("status", "attempts")) == {("pending", 1)}
    assert "ConnectionRefusedError" in Notice.objects.first().last_error
    time_machine.shift(dt.timedelta(seconds=30))
    assert delivery.send_due(limit=100) == 0  # backing off: nothing due yet
    time_machine.shift(dt.timedelta(minutes=1))
    assert delivery.send_due(limit=100) == 50  # still down: second attempt, next in 5 minutes
    server.start()
    try:
        time_machine.shift(dt.timedelta(minutes=5))
        assert delivery.send_due(limit=100) == 50
        assert delivery.send_due(limit=100) == 0
    finally:
        server.stop()
    print(f"outage: {len(server.inbox.messages)} received, {duplicates(server)} duplicates after 2 failed rounds")
    assert len(server.inbox.messages) == 50 and duplicates(server) == 0
    assert set(Notice.objects.values_list("status", "attempts")) == {("sent", 3)}


@pytest.mark.django_db
def test_the_sender_gives_up_loudly_after_the_limit(settings, time_machine, client_for, caplog):
    time_machine.move_to(dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC), tick=False)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.NOTICES_MAX_ATTEMPTS = "127.0.0.1", SMTPServer().port, 3
    [notice] = due_notices(1)
    for _ in range(3):
        delivery.send_due()
        time_machine.shift(dt.timedelta(hours=1))
    notice.refresh_from_db()
    assert (notice.status, notice.attempts) == ("failed", 3)
    assert any("gave up after 3 attempts" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
    assert delivery.send_due() == 0  # given up: never sent later by surprise
    staff = make_user("nurse")
    clinic = notice.patient.clinic
    clinic.memberships.create(user=staff)
    http = client_for(staff)
    page = http.get(reverse("notices:patient", args=[notice.patient.public_id])).content.decode()
    assert "Failed: call them" in page and "3 attempts" in page
    dashboard = http.get(reverse("staff:clinic_dashboard", args=[clinic.pk])).content.decode()
    assert "1 email could not be sent" in dashboard and "Erin Estes" in dashboard
