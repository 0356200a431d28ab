"""How long notices are kept (`manage.py prune`; rule in the README's "Retention")."""

import datetime as dt

from django.conf import settings
from django.db.models import Exists, OuterRef, Q

from notices.models import Change, Notice
from patients.retention import delete_in_batches

FINISHED = [Notice.Status.SENT, Notice.Status.CANCELLED, Notice.Status.FAILED]


def prune_notices(*, now: dt.datetime, dry_run: bool = False) -> int:
    """Notices (reminders, change and overdue emails) are kept NOTICE_RETENTION_DAYS (two years) after they were
    made and after the refill they were about, once finished (sent, not sent, failed), with the changes they
    told of. The planner only makes notices for refills a week either side of today, so a deleted one is never
    made again; what was given and who changed it stays in the recorded fills and the audit history."""
    cutoff = now - dt.timedelta(days=settings.NOTICE_RETENTION_DAYS)
    old = Q(status__in=FINISHED, created_at__lt=cutoff, fill_date__lt=cutoff.date())
    kept_notices = Notice.objects.filter(~old, change=OuterRef("pk"))
    old_changes = Change.objects.filter(detected_at__lt=cutoff).exclude(Exists(kept_notices))
    # Notices first: a change's deletion would take its notices with it and count them twice.
    deleted = delete_in_batches(Notice.objects.filter(old), dry_run=dry_run)
    return deleted + delete_in_batches(old_changes, dry_run=dry_run)
