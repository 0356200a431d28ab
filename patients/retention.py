"""How long the access log is kept (`manage.py prune`; the rule is in the README's Operations section)."""

import datetime as dt

from django.conf import settings
from django.db.models import Q

from patients.models import AccessEvent

DELETE_BATCH = 5000  # rows per DELETE: short transactions, whatever the backlog


def delete_in_batches(queryset, *, dry_run: bool) -> int:
    """Delete what the queryset selects, a batch per statement; with dry_run only count it."""
    if dry_run:
        return queryset.count()
    deleted = 0
    while ids := list(queryset.values_list("pk", flat=True)[:DELETE_BATCH]):
        # The rule's conditions again: a row that changed since it was picked (reactivated) stays.
        deleted += queryset.filter(pk__in=ids).delete()[0]
    return deleted


def prune_access_events(*, now: dt.datetime, dry_run: bool = False) -> int:
    """Calendar-feed fetches older than FEED_LOG_RETENTION_DAYS (a year) and every other access event (page
    views, exports) older than ACCESS_LOG_RETENTION_DAYS (six years, as HIPAA keeps audit records)."""
    feed_cutoff = now - dt.timedelta(days=settings.FEED_LOG_RETENTION_DAYS)
    cutoff = now - dt.timedelta(days=settings.ACCESS_LOG_RETENTION_DAYS)
    old = AccessEvent.objects.filter(
        Q(action=AccessEvent.Action.FEED, at__lt=feed_cutoff) | Q(at__lt=cutoff)
    )
    return delete_in_batches(old, dry_run=dry_run)
