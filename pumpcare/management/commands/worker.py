"""The background worker: runs every unit of work in turn (`manage.py worker --loop` in production).

Run one or several (on PostgreSQL the units claim their work with SKIP LOCKED, so each item runs once); a
worker killed at any moment loses nothing, as each unit commits in short transactions and the next run
picks up what was left. SIGTERM (a deploy, `docker stop`) lets the current unit finish, then exits.
"""

import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from schedules import jobs

# Units of work, run in this order on every pass: each is `unit(*, limit: int) -> int`, does at most
# `limit` items and returns how many it did (0: nothing to do). Apps add theirs here (e.g. notices).
UNITS = [
    jobs.recompute_stale_plans,
]

# Items a unit may do per pass before the next unit gets its turn.
LIMIT = 1000


class Command(BaseCommand):
    help = "Run the background units of work (clinic-wide recomputes, ...) until none has work; --loop keeps on."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep running; sleep --interval s when idle.")
        parser.add_argument("--once", action="store_true", help="One pass over the units, then exit.")
        parser.add_argument("--interval", type=float, default=2.0, help="Seconds to sleep when no unit had work.")

    def handle(self, *args, loop=False, once=False, interval=2.0, **options):
        self.stopping = False
        previous = {sig: signal.signal(sig, self.stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            while not self.stopping:
                did = self.run_pass()
                if once or (not did and not loop):
                    break
                if not did:
                    self.sleep(interval)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("Worker stopped.")

    def run_pass(self) -> int:
        total = 0
        for unit in UNITS:
            if self.stopping:
                break
            close_old_connections()  # a long-running process: drop a connection the database has closed
            done = unit(limit=LIMIT)
            if done:
                self.stdout.write(f"{unit.__module__}.{unit.__name__}: {done}")
            total += done
        return total

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end:
            time.sleep(min(0.2, end - time.monotonic()))

    def stop(self, signum, frame) -> None:
        """Finish the unit of work under way, then exit: nothing is cut off mid-transaction."""
        self.stopping = True
