"""Calendar subscriptions: who manages which, and the writes (create, rename, rotate, revoke).

A subscription's link carries a secret token of 256 random bits; only its SHA-256 hash is stored, so
a copy of the database does not give anyone a working link. The token is returned to the caller once,
when it is made (create, rotate), and cannot be shown again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from patients import access
from patients.models import Patient
from schedules.models import CalendarSubscription

# Calendar apps poll every few hours; a link fetched more often than this is misbehaving or leaked.
RATE_LIMIT = 60
RATE_WINDOW_SECONDS = 10 * 60
# last_fetched_at is for the "last fetched" column: once a minute tells the same story. (The access log,
# patients.audit, keeps every fetch.)
FETCH_RECORD_EVERY = dt.timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def manages_all(user, patient: Patient) -> bool:
    """The patient and their clinic's staff manage every subscription of the patient; caregivers their own."""
    return patient.user_id == user.pk or access.editable_patients(user).filter(pk=patient.pk).exists()


def manageable_subscriptions(
    user, patient: Patient, *, all_of_them: bool | None = None
) -> QuerySet[CalendarSubscription]:
    """The subscriptions this user (who may see the patient: get_patient passed) may list and change.

    ``all_of_them`` is manages_all(user, patient) when the caller has already asked it.
    """
    subscriptions = CalendarSubscription.objects.filter(patient=patient).select_related("owner")
    if all_of_them if all_of_them is not None else manages_all(user, patient):
        return subscriptions
    return subscriptions.filter(owner=user)


@transaction.atomic
def subscription_create(*, patient: Patient, name: str, detail: str, by) -> tuple[CalendarSubscription, str]:
    """A new subscription and its token (shown once). A caregiver's is their own; else it is the patient's."""
    token, token_hash = new_token()
    owner = None if manages_all(by, patient) else by
    if owner is not None and detail == CalendarSubscription.Detail.DETAILED:
        raise ValidationError("Only the patient or their clinic can set up a calendar with drug names.")
    subscription = CalendarSubscription(
        patient=patient, owner=owner, name=name, detail=detail, token_hash=token_hash, created_by=by
    )
    subscription.full_clean()
    subscription.save()
    return subscription, token


def _locked(subscription: CalendarSubscription) -> CalendarSubscription:
    return CalendarSubscription.objects.select_for_update().get(pk=subscription.pk)


@transaction.atomic
def subscription_rename(*, subscription: CalendarSubscription, name: str) -> CalendarSubscription:
    subscription = _locked(subscription)
    subscription.name = name
    subscription.full_clean()
    subscription.save(update_fields=["name"])
    return subscription


@transaction.atomic
def subscription_rotate(*, subscription: CalendarSubscription) -> tuple[CalendarSubscription, str]:
    """A new secret link for the same subscriber: the old link stops working at once."""
    subscription = _locked(subscription)
    if subscription.revoked_at is not None:
        raise ValueError("A stopped calendar link cannot be renewed.")
    token, subscription.token_hash = new_token()
    subscription.rotated_at = timezone.now()
    subscription.save(update_fields=["token_hash", "rotated_at"])
    return subscription, token


@transaction.atomic
def subscription_revoke(*, subscription: CalendarSubscription) -> CalendarSubscription:
    subscription = _locked(subscription)
    if subscription.revoked_at is None:
        subscription.revoked_at = timezone.now()
        subscription.save(update_fields=["revoked_at"])
    return subscription


def subscription_for_token(token: str) -> CalendarSubscription | None:
    """The subscription of a feed link (revoked ones included), with its patient and clinic."""
    try:
        return CalendarSubscription.objects.select_related("patient__clinic", "owner").get(token_hash=hash_token(token))
    except CalendarSubscription.DoesNotExist:
        return None


def subscription_is_live(subscription: CalendarSubscription) -> bool:
    """Not revoked, and a caregiver's link stops when their access to the patient does."""
    if subscription.revoked_at is not None:
        return False
    if subscription.owner_id is None:
        return True
    return access.visible_patients(subscription.owner).filter(pk=subscription.patient_id).exists()


def subscription_fetched(subscription: CalendarSubscription) -> None:
    """Note a fetch; a conditional UPDATE so polling writes at most once a minute (and skips the history)."""
    now = timezone.now()
    if subscription.last_fetched_at is not None and subscription.last_fetched_at >= now - FETCH_RECORD_EVERY:
        return
    CalendarSubscription.objects.filter(pk=subscription.pk).filter(
        Q(last_fetched_at__isnull=True) | Q(last_fetched_at__lt=now - FETCH_RECORD_EVERY)
    ).update(last_fetched_at=now)


def rate_limited(subscription: CalendarSubscription) -> int | None:
    """Count a fetch of this link; over the limit, the seconds until the window ends (for Retry-After)."""
    now = int(timezone.now().timestamp())
    window = now // RATE_WINDOW_SECONDS
    # The key holds part of the hash, never the token: the cache is no place for a secret.
    key = f"feed-rate:{subscription.token_hash[:32]}:{window}"
    cache.add(key, 0, timeout=RATE_WINDOW_SECONDS + 60)
    try:
        count = cache.incr(key)
    except ValueError:  # the key expired between add and incr
        cache.set(key, 1, timeout=RATE_WINDOW_SECONDS + 60)
        count = 1
    if count > RATE_LIMIT:
        return (window + 1) * RATE_WINDOW_SECONDS - now
    return None
