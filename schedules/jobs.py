"""Background units of work over schedules, run by `manage.py worker` (or `manage.py recompute_stale`).

A unit of work is a function `unit(*, limit: int) -> int`: it does at most `limit` items and returns how many
it did (0: nothing to do). It is safe to run in several workers at once and after a crash: work is claimed
in short transactions that a killed worker simply rolls back, so another run picks the same items up again.
"""

import gc

from django.db import transaction
from django.db.models import F

from schedules import services
from schedules.models import TherapyPlan

# Plans claimed and recomputed per transaction: their locks are held for well under a second (the benchmark
# prints the longest: up to 0.5 s on a busy 2-core machine, for a batch whose every plan changed), so a nurse
# recording a fill for one of them waits no longer than that. Larger batches cost fewer commits and statements
# (a full recompute of 10,000 plans: 4.5-5x the engine's time in batches of 100, 4.0-4.3x in 250, 3.3-3.7x in
# 500), but 500 changed plans held their locks for 0.9 s.
CLAIM_BATCH = 250


def stale_plans():
    """Plans whose stored projection is older than their inputs (see TherapyPlan.inputs_version)."""
    return TherapyPlan.objects.filter(projected_version__lt=F("inputs_version"))


def recompute_stale_plans(*, limit: int) -> int:
    """Recompute up to `limit` out-of-date plans (after a clinic-wide change); return how many were done.

    Each batch is claimed and recomputed in one short transaction: on PostgreSQL the rows are locked with
    SKIP LOCKED, so two workers take different plans and neither waits for the other; SQLite has one writer
    and its write transactions start IMMEDIATE (settings), so workers there take turns. A worker killed in
    the middle of a batch rolls it back, and the plans, still out of date, are claimed again by the next run.
    """
    done = 0
    while done < limit:
        # A batch makes a few hundred thousand short-lived objects (tuples, engine fills), almost none of
        # them in reference cycles: the cyclic collector waits for the batch's end rather than running every
        # few hundred allocations, which shortens the batch and so the time its plans stay locked.
        collecting = gc.isenabled()
        gc.disable()
        try:
            with transaction.atomic():
                # Plain rows, not model instances: a batch would build hundreds of plans, patients, clinics and
                # protocols only to read a few fields of each.
                plans = services.lock_plans(
                    stale_plans().order_by("pk")[: min(CLAIM_BATCH, limit - done)], skip_locked=True
                )
                if not plans:
                    break
                services.recompute_locked(plans)
        finally:
            if collecting:
                gc.enable()
        done += len(plans)
    return done
