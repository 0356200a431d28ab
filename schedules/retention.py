"""How long cancelled rows of the stored projection are kept (`manage.py prune`; rule in the README)."""

import datetime as dt

from django.conf import settings

from patients.retention import delete_in_batches
from schedules.models import ScheduledFill


def prune_inactive_fills(*, now: dt.datetime, dry_run: bool = False) -> int:
    """Planned fills that stopped happening (therapy ended, fewer cycles) stay as inactive rows so their
    identity and revision carry on if they come back; after INACTIVE_FILL_RETENTION_DAYS (90) without a change,
    and once their date is that far in the past too, they are deleted. Feeds never show inactive rows, and the
    record of what was given lives in the recorded fills and the history, not here."""
    cutoff = now - dt.timedelta(days=settings.INACTIVE_FILL_RETENTION_DAYS)
    old = ScheduledFill.objects.filter(active=False, changed_at__lt=cutoff, date__lt=cutoff.date())
    return delete_in_batches(old, dry_run=dry_run)
