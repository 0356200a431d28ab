"""Benchmark: the clinic dashboard over a clinic of 10,000 patients, in a throwaway SQLite database.

    .venv/bin/python benchmarks/dashboard.py [--patients 10000] [--requests 9]

For the whole set of clinic-scale targets (clinic-wide recompute against the engine, recording a fill, the
dashboard and the search, on PostgreSQL too) see benchmarks/clinic_scale.py.

Prints how many queries the dashboard runs and its response time (median of several requests). The
database lives in a temporary folder and is deleted afterwards; nothing touches pumpcare.sqlite3.
A script that prints numbers, not a timed test: timings depend on the machine.
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def configure(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SECRET_KEY", "benchmark-only-" + "x" * 40)
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    os.environ.setdefault("SECURE_COOKIES", "0")
    os.environ.setdefault("PUMPCARE_PLAIN_STATIC", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pumpcare.settings")
    import django

    django.setup()


def build_clinic(patients: int):
    """A clinic with `patients` patients at every stage of therapy: surgery from 300 days ago to 30 days ahead."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction

    from patients import search
    from patients.models import Clinic, Patient, StaffMembership
    from schedules import services
    from schedules.models import ClinicClosure, Protocol, RecordedFill, TherapyPlan

    call_command("migrate", verbosity=0)
    clinic = Clinic.objects.create(name="Benchmark clinic", phone="+1 555 0100", time_zone="America/New_York")
    protocol = Protocol.objects.create(
        clinic=clinic, name="Standard", cycle_steps=Protocol.default_steps(), cycle_count=6
    )
    clinic.default_protocol = protocol
    clinic.save()
    import holidays

    today = clinic.today()
    ClinicClosure.objects.bulk_create(
        ClinicClosure(clinic=clinic, date=day, name=name)
        for day, name in holidays.US(years=[today.year, today.year + 1]).items()
    )
    nurse = get_user_model().objects.create_user("bench-nurse")
    StaffMembership.objects.create(user=nurse, clinic=clinic)
    started = time.perf_counter()
    with transaction.atomic():
        rows = Patient.objects.bulk_create(
            Patient(
                clinic=clinic,
                name=f"Patient {i:05}",
                record_number=f"B-{i:05}",
                search_text=search.patient_text(f"Patient {i:05}", f"B-{i:05}"),
                date_of_birth=dt.date(1950 + i % 30, 1 + i % 12, 1 + i % 28),
                pump_reservoir_ml=20 if i % 50 == 0 else 30,  # a few small pumps: capacity warnings
            )
            for i in range(patients)
        )
        plans = TherapyPlan.objects.bulk_create(
            TherapyPlan(
                patient=p,
                surgery_date=today - dt.timedelta(days=300 - i % 330),
                protocol=protocol,
                open_ended=i % 7 == 0,
            )
            for i, p in enumerate(rows)
        )
        # Every fill before today was given on its planned date, except the latest one of every 40th patient
        # (overdue): projected in memory first, so the stored projection is computed once, as in real life.
        calendar = services.clinic_calendar(clinic, clinic.closures.values_list("date", flat=True))
        given = []
        for index, plan in enumerate(plans):
            plan.protocol = protocol
            past = [
                f for f in services.engine.project(services.engine_plan(plan), calendar, today=today)
                if f.date < today and f.kind != "implant"
            ]
            if index % 40 == 0:
                past = past[:-1]
            given += [
                RecordedFill(plan=plan, date=f.date, infusate=f.infusate.value, volume_in_ml=30, recorded_by=nurse)
                for f in past
            ]
        RecordedFill.objects.bulk_create(given, batch_size=2000)
        result = services.recompute_plans(plans)
    print(
        f"built {patients} patients, {len(given)} recorded fills and {result.created} stored fills "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return clinic, nurse


def signed_in_client(nurse):
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client = Client()
    client.force_login(nurse)
    # Staff pass a second factor; the benchmark marks the session as verified, as the tests do.
    device = TOTPDevice.objects.create(user=nurse, name="bench", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def render_as_a_server() -> None:
    """Undo setup_test_environment's template instrumentation: it sends a signal for every template rendered
    (each include of each row), and the test client copies the whole context each time, a cost no server has.
    The test client's other set-up (the testserver host, the email outbox) stays."""
    from django.template import Template
    from django.test.utils import _TestState

    Template._render = _TestState.saved_data.template_render


def measure(client, url: str, requests: int) -> tuple[int, list[float], int]:
    from django.core import signals
    from django.db import close_old_connections, connection
    from django.test.utils import CaptureQueriesContext

    # As in the test client: keep one connection across requests, so the queries of one request are counted.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)

    client.get(url)  # warm-up: a fresh session's first request also writes its sign-in bookkeeping
    connection.queries_log.clear()  # a full log (maxlen) would make the count below read 0
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    count = len(queries)  # now: the next request clears the query log
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
    return count, times, len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        configure(f"sqlite:///{Path(folder) / 'benchmark.sqlite3'}")
        from django.test.utils import setup_test_environment
        from django.urls import reverse

        setup_test_environment()
        # A weekday, so "due today" has rows: the tests' Tuesday, 11:00 in New York.
        import time_machine

        traveller = time_machine.travel(dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC), tick=True)
        traveller.start()
        clinic, nurse = build_clinic(args.patients)
        client = signed_in_client(nurse)
        render_as_a_server()
        from schedules import selectors

        today = clinic.today()
        sections = selectors.dashboard_sections(clinic=clinic, today=today)
        print(f"dashboard counts: { {name: section['count'] for name, section in sections.items()} }")
        rows = selectors.DASHBOARD_ROWS
        reads = [("every section's count and first rows (the dashboard's one query)",
                  lambda: selectors.dashboard_sections(clinic=clinic, today=today))]
        reads += [(f"{name}, its page's first {rows} rows",
                   lambda name=name: list(selectors.due_section(clinic=clinic, today=today, section=name)[:rows]))
                  for name in selectors.DUE_SECTIONS]
        for name, read in reads:
            times = []
            for _ in range(args.requests):
                started = time.perf_counter()
                read()
                times.append(time.perf_counter() - started)
            print(f"  query {name}: median {statistics.median(times) * 1000:.1f} ms")
        patients_url = reverse("staff:patients", args=[clinic.pk])
        for name, url, search in [
            ("dashboard", reverse("staff:dashboard"), None),
            ("patient list", patients_url, ""),
            ("patient list, search", patients_url, "B-0999"),  # the term is POSTed, then kept in the session
        ]:
            if search is not None:
                client.post(patients_url, {"q": search})
            queries, times, size = measure(client, url, args.requests)
            print(
                f"{name}: {queries} queries, median {statistics.median(times) * 1000:.0f} ms "
                f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}; {args.requests} requests; "
                f"{size // 1024} KiB)"
            )


if __name__ == "__main__":
    main()
