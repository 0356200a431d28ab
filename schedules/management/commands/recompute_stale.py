"""Recompute the plans left out of date by a clinic-wide change (closures, weekdays, a protocol).

`manage.py worker` runs this unit of work with the others; this command runs it alone (e.g. after an import).
"""

import time

from django.core.management.base import BaseCommand

from schedules import jobs


class Command(BaseCommand):
    help = "Recompute every plan whose stored schedule is older than its inputs; --loop keeps watching."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep running, looking again every --interval s.")
        parser.add_argument("--interval", type=float, default=2.0)

    def handle(self, *args, loop=False, interval=2.0, **options):
        while True:
            total = 0
            while done := jobs.recompute_stale_plans(limit=1000):
                total += done
            self.stdout.write(f"Recomputed {total} plans.")
            if not loop:
                return
            time.sleep(interval)
