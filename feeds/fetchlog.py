"""Feed fetches in the access log: one AccessEvent per link per day with a count, written off the poll path.

With Redis, polls only count in Redis (feeds.answers) and `flush()` moves the counts into the database: the
worker runs it (`python manage.py worker`), and the calendar-links page runs it before showing "last updated".
Without Redis (development) or while it is down, each fetch is written at once.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Q

from feeds import answers
from feeds.models import RetiredLink
from patients import audit
from schedules.models import CalendarSubscription

logger = logging.getLogger(__name__)

# last_fetched_at is for the "last updated" column: once a minute tells the same story.
FETCH_RECORD_EVERY = dt.timedelta(minutes=1)


def record(*, subscription: CalendarSubscription, count: int, at: dt.datetime) -> None:
    """`count` fetches of this subscription's link, the last at `at`."""
    audit.record_feed_fetches(patient_id=subscription.patient_id, detail=audit.feed_detail(subscription),
                              count=count, at=at)
    # A conditional UPDATE: polling writes at most once a minute here (and skips the history).
    CalendarSubscription.objects.filter(pk=subscription.pk).filter(
        Q(last_fetched_at__isnull=True) | Q(last_fetched_at__lte=at - FETCH_RECORD_EVERY)
    ).update(last_fetched_at=at)


def record_one(*, subscription_id: int, at: dt.datetime) -> None:
    """One fetch, written at once (no Redis to buffer it)."""
    subscription = CalendarSubscription.objects.filter(pk=subscription_id).first()
    if subscription is not None:
        record(subscription=subscription, count=1, at=at)


def _subscription_of(link: str) -> CalendarSubscription | None:
    """The subscription whose token hash (current or retired) starts with this link name."""
    found = CalendarSubscription.objects.filter(token_hash__startswith=link).first()
    if found is None:
        retired = RetiredLink.objects.select_related("subscription").filter(token_hash__startswith=link).first()
        found = retired.subscription if retired else None
    return found


def flush(*, limit: int = 0) -> int:
    """Write the fetches buffered in Redis to the access log; how many links' days were written.

    Takes the whole buffer at once (the worker's `limit` does not split it: it is one small hash).
    """
    taken = answers.take_fetches()
    if not taken:
        return 0
    written = 0
    try:
        with transaction.atomic():
            for link, _day, count, last in taken:
                subscription = _subscription_of(link)
                if subscription is None:  # a wrong or long-gone link: counted by the rate limit, not logged
                    continue
                record(subscription=subscription, count=count, at=dt.datetime.fromtimestamp(last, dt.UTC))
                written += 1
    except Exception:
        answers.put_back(taken)
        raise
    return written


def flush_quietly() -> None:
    """flush() for a page that only wants fresh numbers: a failure (Redis down) must not break the page."""
    try:
        flush()
    except Exception:
        logger.exception("Could not flush the buffered calendar fetches")
