"""Writes of the notices app: a follower's preferences, and an unsubscribe from an email link."""

from django.db import transaction
from django.utils import timezone

from notices.followers import Follower
from notices.models import Notice, Preference


@transaction.atomic
def preference_save(*, follower: Follower, reminders: bool, days_ahead: int, changes: bool, overdue: bool,
                    wording: str, caregivers_may_see_details: bool | None = None) -> Preference:
    """Save one follower's choices. Saving turns emails back on after an unsubscribe: it is a new choice."""
    preference, _ = Preference.objects.select_for_update().get_or_create(
        patient=follower.patient, recipient_key=follower.key, defaults={"caregiver": follower.caregiver}
    )
    preference.reminders, preference.days_ahead = reminders, days_ahead
    preference.changes, preference.overdue, preference.wording = changes, overdue, wording
    if follower.is_patient and caregivers_may_see_details is not None:
        preference.caregivers_may_see_details = caregivers_may_see_details
    preference.unsubscribed_at = None
    preference.full_clean()
    preference.save()
    # Reminders already planned for days no longer wanted are dropped; the planner adds the new ones.
    wanted_days = preference.reminder_days() if preference.wants(Notice.Kind.REMINDER) else ()
    _pending(preference).filter(kind=Notice.Kind.REMINDER).exclude(days_before__in=wanted_days).update(
        status=Notice.Status.CANCELLED, last_error="preferences changed"
    )
    for kind in (Notice.Kind.CHANGE, Notice.Kind.OVERDUE):
        if not preference.wants(kind):
            _pending(preference).filter(kind=kind).update(status=Notice.Status.CANCELLED,
                                                          last_error="preferences changed")
    return preference


def _pending(preference: Preference):
    return Notice.objects.filter(
        patient=preference.patient, recipient_key=preference.recipient_key, status=Notice.Status.PENDING
    )


@transaction.atomic
def unsubscribe(*, preference: Preference) -> None:
    """Stop every email about this patient to this follower (RFC 8058 one-click, or the link's page)."""
    if preference.unsubscribed_at is None:
        Preference.objects.filter(pk=preference.pk).update(unsubscribed_at=timezone.now())
    _pending(preference).update(status=Notice.Status.CANCELLED, last_error="unsubscribed")
