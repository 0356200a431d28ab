"""Benchmark: the clinic-scale targets of issue 13 over a clinic of 10,000 patients.

    .venv/bin/python benchmarks/clinic_scale.py [--patients 10000] [--requests 9]
        [--database-url postgres://postgres@127.0.0.1:5432/pumpcare_bench] [--reuse]
        [--parts closure,weekdays,protocol,fill,pages] [--workers 2]

--reuse keeps a PostgreSQL database that an earlier run built with the same --patients (minutes saved at 10,000
patients); the clinic-wide changes then toggle (the closure removed if the earlier run added it, else added;
Saturday closed if an earlier run opened it, else opened; the protocol's cycle count six, then seven, then six). A
closure recomputes the plans it can change (those with a fill on or searching past that day; about a tenth of the
clinic), a change of open weekdays or of the protocol every plan. --parts runs only some of the measurements.
--workers sets how many worker processes share the background recompute: two by default, as `make serve` runs
them; 1 runs it in this process.

Prints, with the machine's load average before and after:
- the pure engine projecting every plan of the clinic (inputs already in memory): the baseline;
- adding one closure day: the request's own time, then the background recompute of the plans it marked
  (the worker's unit of work run until the queue is empty), and its ratio to the engine (target <= 3x);
- opening the clinic on Saturdays, and a seventh cycle in the protocol: the same, for every plan of the clinic;
- recording one fill through the staff page (server time, median; target <= 20 ms);
- the dashboard, a section of it on its own page (the first and the last page), the patient list and its search
  (queries and median time; targets <= 8 queries, <= 50 ms).

Then a summary: each target with its measured value and "meets" or "BELOW", and the load average. Where the
target is a ratio, it is against the engine measured in the same run. Wall-clock times grow with the machine's
load; the CPU time spent (the workers', and on a local PostgreSQL its server processes') is printed beside them,
as it depends less on what else the machine runs.

Pages are timed as a server runs them: the test environment's template instrumentation (which copies every
template's context for the test client, a cost no server has) is switched off after set-up.

The database is a throwaway: a temporary SQLite file by default, or the PostgreSQL database named in
--database-url, which is dropped and created afresh (its name must contain "bench", so no real database is
ever dropped). A script that prints numbers, not a timed test: timings depend on the machine.
"""

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import dashboard  # noqa: E402 (the builder and the measuring helpers)

# The benchmark's moment: a weekday, so "due today" has rows (the tests' Tuesday, 11:00 in New York).
BENCHMARK_NOW = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)


def fresh_postgres_database(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"Refusing to drop {name!r}: the benchmark's database name must contain 'bench'.")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def server_cpu_seconds() -> float | None:
    """CPU time of this connection's PostgreSQL server process so far, when it runs on this machine (else None)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


RESULTS: list[tuple[str, str, str, bool]] = []


def target(name: str, measured: str, wanted: str, met: bool) -> None:
    RESULTS.append((name, measured, wanted, met))


def engine_seconds(clinic) -> tuple[float, float, int]:
    """The pure engine over every plan of the clinic, its inputs loaded beforehand (not timed)."""
    from django.conf import settings

    from schedules import engine, services
    from schedules.models import TherapyPlan

    calendar = services.clinic_calendar(clinic, clinic.closures.values_list("date", flat=True))
    today = clinic.today()
    plans = list(
        TherapyPlan.objects.filter(patient__clinic=clinic)
        .select_related("patient", "protocol")
        .prefetch_related("recorded_fills", "holds")
    )
    inputs = [
        (services.engine_plan(p), services.engine_recorded(p.recorded_fills.all()),
         frozenset(h.key for h in p.holds.all()))
        for p in plans
    ]
    started, started_cpu = time.perf_counter(), time.process_time()
    for plan, recorded, holds in inputs:
        engine.project(plan, calendar, today=today, recorded=recorded, holds=holds,
                       horizon_days=settings.SCHEDULE_HORIZON_DAYS)
    return time.perf_counter() - started, time.process_time() - started_cpu, len(inputs)


def closure_change(clinic, nurse) -> float:
    """Add one closure day (or remove it, when a reused database has it from an earlier run); return the seconds
    the service call took (the plans it marked are then recomputed in the background)."""
    from schedules import services

    today = clinic.today()
    day = today + dt.timedelta(days=(7 - today.weekday()) % 7 + 9)  # a Wednesday, 1-2 weeks ahead
    closed = clinic.closures.filter(date=day).first()
    print(f"closure: {'removing' if closed else 'adding'} {day}")
    started = time.perf_counter()
    if closed:
        services.closure_remove(closure=closed)
    else:
        services.closures_add(clinic=clinic, days={day: "Benchmark closure"}, by=nurse)
    return time.perf_counter() - started


def weekdays_change(clinic) -> float:
    """Open the clinic on Saturdays (or close it again, when a reused database has it open): a change of open
    weekdays marks every plan of the clinic, as a change of tolerance or of the protocol does."""
    from schedules import services

    saturday = "5"
    opening = saturday not in clinic.open_weekdays
    print(f"open weekdays: {'opening' if opening else 'closing'} on Saturdays")
    days = clinic.open_weekdays + saturday if opening else clinic.open_weekdays.replace(saturday, "")
    clinic.open_weekdays = "".join(sorted(days))
    started = time.perf_counter()
    services.clinic_settings_save(clinic=clinic)
    return time.perf_counter() - started


def protocol_change(clinic) -> float:
    """Give the clinic's protocol a seventh cycle (or take it away again, when a reused database has it): every
    plan that follows it is marked; most of their future fills change."""
    from schedules import services

    protocol = clinic.protocols.get()
    protocol.cycle_count = 7 if protocol.cycle_count == 6 else 6
    print(f"protocol: {protocol.cycle_count} cycles")
    started = time.perf_counter()
    services.protocol_save(protocol=protocol)
    return time.perf_counter() - started


def background_recompute(request: float, workers: int, url: str) -> dict:
    """The background recompute after a change whose service call took `request` seconds: the worker's unit of
    work run until the queue is empty, in this process (one worker) or in `workers` processes at once, as a
    deployment runs several (they share the queue: each claims its own batches). Wall clock from the start until
    the last worker is done; CPU, database time and plans summed over the workers; every batch's time."""
    if workers == 1:
        return {"request": request, **drain_queue()}
    command = [sys.executable, __file__, "--drain-queue", "--database-url", url]
    processes = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                 for _ in range(workers)]
    for process in processes:  # set up and connected: the wall clock starts with the work
        if process.stdout.readline().strip() != "ready":
            raise SystemExit("a worker process did not start")
    started = time.perf_counter()
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    results = [json.loads(process.stdout.readline()) for process in processes]
    wall = time.perf_counter() - started
    for process in processes:
        process.wait()
    servers = [result["server_cpu"] for result in results]
    return {
        "request": request, "wall": wall, "workers": workers,
        "cpu": sum(result["cpu"] for result in results),
        "server_cpu": None if None in servers else sum(servers),
        "database": sum(result["database"] for result in results),
        "plans": sum(result["plans"] for result in results),
        "batches": [seconds for result in results for seconds in result["batches"]],
    }


def drain_queue() -> dict:
    """The worker's unit of work, in this process, until the queue is empty: wall clock, this process's CPU, the
    database's time as the driver waited for it, the CPU of its PostgreSQL server process, plans recomputed, and
    the batches' times (one batch is one transaction: how long its plans stay locked)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from schedules import jobs

    recomputed = 0
    batches = []
    server_before = server_cpu_seconds()
    started, started_cpu = time.perf_counter(), time.process_time()
    with CaptureQueriesContext(connection) as queries:
        while True:
            batch_started = time.perf_counter()
            done = jobs.recompute_stale_plans(limit=jobs.CLAIM_BATCH)  # one batch: one transaction
            if not done:
                break
            batches.append(time.perf_counter() - batch_started)
            recomputed += done
    server_after = server_cpu_seconds()
    return {
        "wall": time.perf_counter() - started, "cpu": time.process_time() - started_cpu,
        "server_cpu": None if server_before is None else server_after - server_before,
        # SQLite works inside this process: its time is already in the CPU time.
        "database": 0.0 if connection.vendor == "sqlite" else sum(float(q["time"]) for q in queries),
        "plans": recomputed, "batches": batches,
    }


def drain_queue_when_told(url: str) -> None:
    """--drain-queue: one worker process of background_recompute. Set up (on the benchmark's day), say "ready",
    wait for "go", drain the queue, print the numbers as JSON."""
    dashboard.configure(url)
    import time_machine
    from django.db import connection

    time_machine.travel(BENCHMARK_NOW, tick=True).start()
    connection.ensure_connection()
    print("ready", flush=True)
    sys.stdin.readline()
    print(json.dumps(drain_queue()), flush=True)


def report_recompute(label: str, change: dict, engine_time: float, engine_cpu: float) -> None:
    """Print a clinic-wide change's background recompute against the engine, and record its targets."""
    busy = change["cpu"] + change["database"]
    batches = change["batches"]
    by = f" by {change['workers']} worker processes" if change.get("workers", 1) > 1 else ""
    print(f"{label}: request {ms(change['request'])}; background recompute of {change['plans']} plans{by} "
          f"{change['wall']:.2f} s = {change['wall'] / engine_time:.2f}x the engine's wall clock; "
          f"work: CPU {change['cpu']:.2f} s + waiting for the database {change['database']:.2f} s = "
          f"{busy / engine_cpu:.2f}x the engine's CPU")
    if change["server_cpu"] is not None:
        both = change["cpu"] + change["server_cpu"]
        print(f"  CPU of the worker{'s' if by else ''} {change['cpu']:.2f} s + of the PostgreSQL server "
              f"process{'es' if by else ''} {change['server_cpu']:.2f} s = {both / engine_cpu:.2f}x the engine's CPU")
    print(f"  {len(batches)} batches (one transaction each, its plans locked): median "
          f"{ms(statistics.median(batches))}, longest {ms(max(batches))} (target < 1 s)")
    ratio = change["wall"] / engine_time
    # The target is how long the change takes to finish (the wall clock). The work views above (CPU and database
    # time, summed over the workers) say where it went; on a busy machine they are steadier than the wall clock.
    target(f"clinic-wide recompute ({label}{by}), wall clock / the engine's", f"{ratio:.2f}x", "<= 3x", ratio <= 3)
    target("  longest plan lock during the recompute (one batch's transaction)", ms(max(batches)),
           "< 1000 ms", max(batches) < 1)


def built_clinic(patients: int):
    """The clinic (and its nurse) an earlier run built in this database, if it has `patients` patients."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.db.utils import OperationalError, ProgrammingError

    from patients.models import Clinic

    try:
        clinic = Clinic.objects.filter(name="Benchmark clinic").first()
    except (OperationalError, ProgrammingError):  # no such database, or no tables yet
        connection.close()
        return None
    if clinic is None or clinic.patients.count() != patients:
        return None
    call_command("migrate", verbosity=0)  # migrations landed since the clinic was built (new indexes)
    return clinic, get_user_model().objects.get(username="bench-nurse")


def fill_record_times(clinic, client, requests: int) -> list[float]:
    """Record today the next fill of `requests` patients through the staff page; each a POST and its redirect.

    Overdue fills first, then fills due in the next four days (one per patient): a clinic kept by --reuse has
    used up its overdue fills in earlier runs.
    """
    from django.urls import reverse

    from schedules import selectors

    today = clinic.today()
    fills = list(selectors.overdue_fills(clinic=clinic, today=today).order_by("plan_id")[: requests + 1])
    soon = selectors.fills_due_between(clinic=clinic, start=today, end=today + dt.timedelta(days=4))
    for fill in soon.order_by("plan_id", "date"):
        if len(fills) > requests:
            break
        if all(fill.plan_id != taken.plan_id for taken in fills):
            fills.append(fill)
    times = []
    cpu = []
    for fill in fills[1:]:  # the first one warms up
        data = {"date": today.isoformat(), "infusate": fill.infusate, "sequence": str(fill.sequence),
                "appointment_time": "", "volume_in_ml": "15", "volume_returned_ml": "", "note": ""}
        url = reverse("staff:fill_record", args=[fill.plan.patient.public_id])
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.post(url, data)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        assert response.status_code == 302, (response.status_code, response.context and response.context["form"].errors)
    first = fills[0]
    client.post(reverse("staff:fill_record", args=[first.plan.patient.public_id]),
                {"date": today.isoformat(), "infusate": first.infusate, "sequence": str(first.sequence)})
    return times, cpu


def cpu_median(client, url: str, requests: int) -> float:
    """This process's CPU time per request (Python, and SQLite's work; PostgreSQL's is in its own process)."""
    spent = []
    for _ in range(requests):
        started = time.process_time()
        client.get(url)
        spent.append(time.process_time() - started)
    return statistics.median(spent)


def last_page(clinic, section: str) -> int:
    """The number of a dashboard section's last page (its deepest OFFSET)."""
    from clinic.views import SECTION_ROWS_PER_PAGE
    from schedules import selectors

    rows = selectors.due_section(clinic=clinic, today=clinic.today(), section=section).count()
    return max(1, -(-rows // SECTION_ROWS_PER_PAGE))


def vacuum() -> None:
    """As autovacuum would after a bulk load or a clinic-wide recompute, on PostgreSQL: statistics, dead rows
    cleared, and the visibility map that lets the dashboard count from an index alone. This machine's PostgreSQL
    runs with autovacuum off; pages measured after a few toggles of --reuse would read millions of dead rows."""
    from django.db import connection

    if connection.vendor == "postgresql":
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        print(f"VACUUM ANALYZE: {time.perf_counter() - started:.1f} s")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=9)
    parser.add_argument("--database-url", default="", help="a PostgreSQL URL (dropped and created afresh)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the PostgreSQL database an earlier run built with as many patients")
    parser.add_argument("--parts", default="closure,weekdays,protocol,fill,pages",
                        help="which measurements, comma-separated: closure, weekdays, protocol (each with the "
                             "engine), fill, pages")
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes that share the background recompute (default 2, as `make serve` "
                             "runs; 1: in this process)")
    parser.add_argument("--drain-queue", action="store_true", help=argparse.SUPPRESS)  # one of those processes
    args = parser.parse_args()
    if args.drain_queue:
        drain_queue_when_told(args.database_url)
        return
    parts = set(args.parts.split(","))
    print(f"start: {load()}")
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'benchmark.sqlite3'}"
        reuse = args.reuse and url.startswith("postgres")
        if url.startswith("postgres") and not reuse:
            fresh_postgres_database(url)
        dashboard.configure(url)
        from django.db import connection
        from django.test.utils import setup_test_environment
        from django.urls import reverse

        setup_test_environment()
        from django.core import signals
        from django.db import close_old_connections

        # As in the test client: one connection across requests (the server's connection set-up is not timed).
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        import time_machine

        traveller = time_machine.travel(BENCHMARK_NOW, tick=True)
        traveller.start()
        print(f"database: {connection.vendor}")
        built = built_clinic(args.patients) if reuse else None
        if reuse and built is None:
            fresh_postgres_database(url)
        if built is None:
            clinic, nurse = dashboard.build_clinic(args.patients)
        else:
            clinic, nurse = built
            print(f"reusing the clinic of {args.patients} patients built earlier")
        client = dashboard.signed_in_client(nurse)
        dashboard.render_as_a_server()
        if built is None:
            vacuum()

        changes = [("closure", closure_change, (clinic, nurse)), ("weekdays", weekdays_change, (clinic,)),
                   ("protocol", protocol_change, (clinic,))]
        measured_changes = parts & {name for name, _, _ in changes}
        if measured_changes:
            engine_time, engine_cpu, plans = engine_seconds(clinic)
            print(f"engine: {plans} plans projected in {engine_time:.2f} s, CPU {engine_cpu:.2f} s "
                  "(before the clinic-wide changes)")
            measured = [(name, background_recompute(change(*arguments), args.workers, url))
                        for name, change, arguments in changes if name in parts]
            # The engine again, just after (the load may have changed meanwhile).
            engine_after, engine_after_cpu, _ = engine_seconds(clinic)
            print(f"engine again: {engine_after:.2f} s, CPU {engine_after_cpu:.2f} s")
            # The baseline: the engine before and after the changes, averaged (the load may change meanwhile).
            engine_time, engine_cpu = (engine_time + engine_after) / 2, (engine_cpu + engine_after_cpu) / 2
            print(f"engine baseline (the mean of both): {engine_time:.2f} s, CPU {engine_cpu:.2f} s")
            for name, change in measured:
                report_recompute(name, change, engine_time, engine_cpu)

        if measured_changes:
            vacuum()  # the recomputes rewrote tens of thousands of rows

        if "fill" in parts:
            times, cpu = fill_record_times(clinic, client, args.requests)
            print(f"fill recorded (staff page POST, with its recompute): median {ms(statistics.median(times))} "
                  f"(min {ms(min(times))}, max {ms(max(times))}; this process's CPU {ms(statistics.median(cpu))}; "
                  f"{len(times)} fills; target <= 20 ms)")
            target("recording one fill (POST, with its recompute), median", ms(statistics.median(times)), "<= 20 ms",
                   statistics.median(times) <= 0.020)

        if "pages" in parts:
            patients_url = reverse("staff:patients", args=[clinic.pk])
            for name, page_url, search in [
                ("dashboard", reverse("staff:dashboard"), None),
                ("dashboard section, next 7 days", reverse("staff:due_section", args=[clinic.pk, "week"]), None),
                ("the same, its last page", reverse("staff:due_section", args=[clinic.pk, "week"])
                 + f"?page={last_page(clinic, 'week')}", None),
                ("patient list", patients_url, ""),
                ("patient list, search by record number", patients_url, "B-0999"),
                ("patient list, search by name", patients_url, "patient 00999"),
            ]:
                if search is not None:
                    client.post(patients_url, {"q": search})
                queries, page_times, size = dashboard.measure(client, page_url, args.requests)
                cpu = cpu_median(client, page_url, args.requests)
                print(f"{name}: {queries} queries, median {ms(statistics.median(page_times))} "
                      f"(min {ms(min(page_times))}, max {ms(max(page_times))}; this process's CPU {ms(cpu)}; "
                      f"{size // 1024} KiB; target <= 8 queries, <= 50 ms)")
                target(f"{name}: queries", str(queries), "<= 8", queries <= 8)
                target(f"{name}: median", ms(statistics.median(page_times)), "<= 50 ms",
                       statistics.median(page_times) <= 0.050)
        traveller.stop()
        connection.close()
    print(f"end: {load()}")
    print(f"\nTargets of issue 13 ({args.patients} patients, {connection.vendor}; {load()}):")
    width = max(len(name) for name, *_ in RESULTS)
    for name, measured, wanted, met in RESULTS:
        print(f"  {name:<{width}}  {measured:>9}  target {wanted:<10} {'meets' if met else 'BELOW'}")


if __name__ == "__main__":
    main()
