"""The background worker: runs each unit of work in turn, healthchecks' ``sendalerts`` way.

A unit is a function ``unit(*, limit) -> int`` that does at most ``limit`` things and returns how many
it did; it claims its work itself (a conditional UPDATE), so any number of workers may run at once.
Add a unit by appending it to UNITS.
"""

import logging
import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from feeds import fetchlog
from notices import delivery, planner
from schedules import jobs

logger = logging.getLogger(__name__)

# The clinic-wide recomputes first: the notices planner then sees the schedules they changed.
UNITS = [
    jobs.recompute_stale_plans,
    planner.plan_notices,
    delivery.send_due,
    fetchlog.flush,  # calendar fetches counted in Redis, into the access log
]
# Items per turn where a unit's own batch is not the --limit default: the recompute claims a batch of plans in one
# transaction, and smaller turns would cost a commit and the other units' turns every hundred plans.
TURN = {jobs.recompute_stale_plans: jobs.CLAIM_BATCH}


class Command(BaseCommand):
    stealth_options = ("units",)  # another command may run a few of the units (send_notices)
    help = "Run the background units of work (notices planner and sender, ...): until idle, once, or forever."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep running; SIGTERM finishes the unit at hand.")
        parser.add_argument("--once", action="store_true", help="Run each unit once, then stop.")
        parser.add_argument("--interval", type=float, default=15, help="Seconds to sleep when idle (--loop).")
        parser.add_argument("--limit", type=int, default=None,
                            help="Most items each unit handles per turn (default: 100, the recompute one batch).")

    def handle(self, *args, loop=False, once=False, interval=15, limit=None, units=None, **options):
        units = UNITS if units is None else units
        self.stopping = False
        if loop:  # SIGTERM (a process manager) or Ctrl-C: finish the unit at hand, then stop
            signal.signal(signal.SIGTERM, self._stop)
            signal.signal(signal.SIGINT, self._stop)
        while not self.stopping:
            close_old_connections()  # a long-running process must not keep a connection the database dropped
            done = sum(self._run(unit, limit) for unit in units if not self.stopping)
            if once or (not loop and done == 0):
                return
            if done == 0:
                self._sleep(interval)

    def _run(self, unit, limit: int | None) -> int:
        try:
            done = unit(limit=limit or TURN.get(unit, 100))
        except Exception:
            # One broken unit must not stop the others (a mail server down is handled inside the sender).
            logger.exception("Unit %s failed", unit.__qualname__)
            return 0
        if done:
            self.stdout.write(f"{unit.__module__}.{unit.__name__}: {done}")
        return done

    def _stop(self, *_):
        self.stopping = True

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end:
            time.sleep(min(1, seconds))
