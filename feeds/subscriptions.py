"""Calendar subscriptions: who manages which, and the writes (create, rename, rotate, revoke).

A subscription's link carries a secret token of 256 random bits; only its SHA-256 hash is stored, so
a copy of the database does not give anyone a working link. The token is returned to the caller once,
when it is made (create, rotate), and cannot be shown again.

The writes open `with transaction.atomic():` around their whole body, not the decorator, so that mutmut
(`make mutation`, which skips decorated functions) checks their tests too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from feeds import answers
from feeds.models import FeedSettings, RetiredLink
from patients import access
from patients.models import Patient
from schedules.models import CalendarSubscription

# A stopped or replaced link serves an empty calendar this long, so calendar apps clear its events (they keep
# their last copy on any error); after that it answers 410 Gone.
STOPPED_GRACE = dt.timedelta(days=30)
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


def subscription_create(
    *, patient: Patient, name: str, detail: str, by, language: str = django_settings.LANGUAGE_CODE
) -> tuple[CalendarSubscription, str]:
    """A new subscription and its token (shown once). A caregiver's is their own; else it is the patient's."""
    with transaction.atomic():
        token, token_hash = new_token()
        owner = None if manages_all(by, patient) else by
        if owner is not None and detail == CalendarSubscription.Detail.DETAILED:
            raise ValidationError(_("Only the patient or their clinic can set up a calendar with drug names."))
        subscription = CalendarSubscription(
            patient=patient, owner=owner, name=name, detail=detail, language=language, token_hash=token_hash,
            created_by=by,
        )
        subscription.full_clean()
        subscription.save()
        return subscription, token


def _locked(subscription: CalendarSubscription) -> CalendarSubscription:
    return CalendarSubscription.objects.select_for_update().get(pk=subscription.pk)


def subscription_rename(*, subscription: CalendarSubscription, name: str) -> CalendarSubscription:
    with transaction.atomic():
        subscription = _locked(subscription)
        subscription.name = name
        subscription.full_clean()
        subscription.save(update_fields=["name"])
        return subscription


def subscription_rotate(*, subscription: CalendarSubscription) -> tuple[CalendarSubscription, str]:
    """A new secret link for the same subscriber: the old link stops working at once."""
    with transaction.atomic():
        subscription = _locked(subscription)
        if subscription.revoked_at is not None:
            raise ValueError("A stopped calendar link cannot be renewed.")
        now = timezone.now()
        RetiredLink.objects.create(subscription=subscription, token_hash=subscription.token_hash, retired_at=now)
        token, subscription.token_hash = new_token()
        subscription.rotated_at = now
        subscription.save(update_fields=["token_hash", "rotated_at"])
        _forget(subscription.patient_id)
        return subscription, token


def subscription_revoke(*, subscription: CalendarSubscription) -> CalendarSubscription:
    with transaction.atomic():
        subscription = _locked(subscription)
        if subscription.revoked_at is None:
            subscription.revoked_at = timezone.now()
            subscription.save(update_fields=["revoked_at"])
            _forget(subscription.patient_id)
        return subscription


@dataclass(frozen=True)
class Link:
    """What a feed URL points at: a subscription, and since when it is stopped (None: it is live)."""

    subscription: CalendarSubscription
    stopped_at: dt.datetime | None

    @property
    def live(self) -> bool:
        return self.stopped_at is None

    def gone(self, now: dt.datetime) -> bool:
        """Stopped longer ago than the grace period: answer 410."""
        return self.stopped_at is not None and now - self.stopped_at > STOPPED_GRACE


_LINKED = ("patient__clinic", "patient__feed_settings", "owner")


def link_for_token(token: str) -> Link | None:
    """The link of a feed URL (its subscription with patient, clinic and settings), stopped or not; else None."""
    token_hash = hash_token(token)
    subscription = CalendarSubscription.objects.select_related(*_LINKED).filter(token_hash=token_hash).first()
    if subscription is not None:
        return Link(subscription, stopped_since(subscription))
    retired = (
        RetiredLink.objects.select_related(*(f"subscription__{name}" for name in _LINKED))
        .filter(token_hash=token_hash)
        .first()
    )
    if retired is None:
        return None
    return Link(retired.subscription, retired.retired_at)


def stopped_since(subscription: CalendarSubscription) -> dt.datetime | None:
    """None while the link works; else when it stopped (revoked, or its caregiver's access ended)."""
    if subscription.revoked_at is not None:
        return subscription.revoked_at
    if subscription_is_live(subscription):
        return None
    ended = subscription.patient.caregiver_grants.filter(user_id=subscription.owner_id).aggregate(Max("revoked_at"))
    # No ended grant on record (e.g. the account was deactivated): stopped as of now, so the grace period applies.
    return ended["revoked_at__max"] or timezone.now()


def subscription_is_live(subscription: CalendarSubscription) -> bool:
    """Not revoked, and a caregiver's link stops when their access to the patient does."""
    if subscription.revoked_at is not None:
        return False
    if subscription.owner_id is None:
        return True
    return access.visible_patients(subscription.owner).filter(pk=subscription.patient_id).exists()


def feed_settings_save(*, patient: Patient, discreet_title: str, calendar_name: str) -> FeedSettings:
    """The patient's title for discreet visits and name for their calendars (every feed follows at once)."""
    with transaction.atomic():
        settings, _ = FeedSettings.objects.select_for_update().get_or_create(patient=patient)
        settings.discreet_title = discreet_title
        settings.calendar_name = calendar_name
        settings.full_clean()
        settings.save()
        _forget(patient.pk)
        return settings


def _forget(patient_id: int) -> None:
    """Drop the cached answers of every link of the patient (current and replaced): now, and again once the change
    commits, so a poll in between cannot keep the old answer."""
    hashes = list(CalendarSubscription.objects.filter(patient_id=patient_id).values_list("token_hash", flat=True))
    hashes += RetiredLink.objects.filter(subscription__patient_id=patient_id).values_list("token_hash", flat=True)
    links = [token_hash[:32] for token_hash in hashes]
    answers.forget(links)
    transaction.on_commit(lambda: answers.forget(links))
