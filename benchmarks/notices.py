"""Benchmark: the notices planner over a clinic of many patients, in a throwaway SQLite database.

    .venv/bin/python benchmarks/notices.py [--patients 2000]

Builds the dashboard benchmark's clinic (every patient with an email), then times the planner's passes:
the first look (every upcoming fill watched), an idle pass (nothing changed: the cost of each worker turn),
and the pass after closing the busiest day of the next four weeks (the worker's recompute first), with the notices
it made. Prints each time
and its ratio to the idle pass measured in the same run. A script that prints numbers, not a timed test.
"""

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard import build_clinic, configure


def timed(function, **kwargs) -> tuple[float, int]:
    started = time.perf_counter()
    result = function(**kwargs)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        configure(f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
        from django.core.cache import cache
        from django.db import connection
        from django.db.models import Count
        from django.utils import timezone

        from notices import planner
        from notices.models import FillWatch, Notice
        from patients.models import Patient
        from schedules import jobs, services
        from schedules.models import ScheduledFill

        clinic, _ = build_clinic(args.patients)
        Patient.objects.update(email="patient@example.org")
        later = timezone.now() + dt.timedelta(minutes=10)  # every schedule quiet

        def run(when):
            cache.clear()  # the reminders pass too, every time
            done, queries = 0, []

            def count(execute, sql, params, many, context):
                queries.append(sql)
                return execute(sql, params, many, context)

            with connection.execute_wrapper(count):
                while True:
                    done += planner.plan_notices(limit=500, now=when)
                    if not planner.changed_plans(now=when, limit=1):
                        return done, len(queries)

        first, (made_first, queries_first) = timed(run, when=later)
        idle, (_, queries_idle) = timed(run, when=later)
        # Close the busiest day of the next four weeks: the change notices' worst case.
        today = clinic.today()
        four_weeks = (today + dt.timedelta(days=1), today + dt.timedelta(days=27))
        upcoming = ScheduledFill.objects.filter(plan__patient__clinic=clinic, active=True, recorded=False,
                                                date__range=four_weeks)
        closed = upcoming.values("date").annotate(fills=Count("pk")).order_by("-fills", "date")[0]["date"]
        services.closures_add(clinic=clinic, days={closed: "Benchmark closure"})
        while jobs.recompute_stale_plans(limit=1000):  # the worker's turn: the closure moves the fills
            pass
        after = timezone.now() + dt.timedelta(minutes=10)
        moved, (made_moved, queries_moved) = timed(run, when=after)
        print(f"{args.patients} patients, {FillWatch.objects.count()} fills watched, "
              f"{Notice.objects.filter(kind='change').count()} change notices after closing {closed}")
        print(f"idle pass (baseline): {idle * 1000:.0f} ms, {queries_idle} queries")
        print(f"first look:           {first * 1000:.0f} ms ({first / idle:.1f}x idle), {queries_first} queries, "
              f"{made_first} notices")
        print(f"after the closure:    {moved * 1000:.0f} ms ({moved / idle:.1f}x idle), {queries_moved} queries, "
              f"{made_moved} notices")


if __name__ == "__main__":
    main()
