"""Sign-ins for patients and caregivers: created, granted and revoked by clinic staff.

The set-your-password email uses Django's password-reset tokens (single use, expiring), so no password
ever passes through staff hands.
"""

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

from patients import language, sessions
from patients.models import CaregiverAccess, Patient, Preferences


def _account_user(email: str):
    User = get_user_model()
    user = User.objects.filter(username__iexact=email).first()
    if user is None:
        user = User(username=email, email=email)
        user.set_unusable_password()
    elif user.is_staff or user.is_superuser:
        # An administrator's account is never turned into (or back on as) a patient's or caregiver's.
        raise AccountRefused(_("This email belongs to an administrator; use the person's own email."))
    user.is_active = True
    user.save()
    return user


class AccountRefused(Exception):
    """The email belongs to someone who cannot take this sign-in (clinic staff, another patient)."""


@transaction.atomic
def patient_login_create(*, patient, email: str, language: str | None = None):
    """Give a patient a sign-in (username = email). The caller sends the set-your-password link.

    ``language``: what the invitation (and, until they choose, the pages) is written in.
    """
    existing = get_user_model().objects.filter(username__iexact=email).first()
    if existing is not None and (existing.memberships.exists() or hasattr(existing, "patient")):
        raise AccountRefused(_("This email already belongs to another account; use another email."))
    user = _account_user(email)
    _language_if_unset(user, language)
    patient.user = user
    patient.save(update_fields=["user"])
    return user


def _patients_own_emails(patient) -> set[str]:
    emails = {patient.email}
    if patient.user is not None:
        emails |= {patient.user.get_username(), patient.user.email}
    return {e.strip().lower() for e in emails if e}


def end_of_day(patient, day: dt.date) -> dt.datetime:
    """The moment a grant "until ``day``" ends: midnight after that day in the patient's clinic."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=patient.clinic.zone)


@transaction.atomic
def caregiver_grant(*, patient, email: str, by, expires_on: dt.date | None = None, language: str | None = None):
    """Let a caregiver follow a patient (read-only), until revoked or until ``expires_on`` (the last day).

    Staff and the patient both call this. Refused: clinic staff and administrators (a caregiver account
    never carries a clinic's access) and the patient's own email (they see their pages already). Granting
    again to a caregiver who has access changes the expiry. Returns (grant, created).
    """
    # Staff accounts are matched by their email too: a nurse's username need not be her email.
    holders = get_user_model().objects.filter(Q(username__iexact=email) | Q(email__iexact=email))
    if holders.filter(Q(memberships__isnull=False) | Q(is_staff=True) | Q(is_superuser=True)).exists():
        raise AccountRefused(_("This email belongs to clinic staff; use the caregiver's own email."))
    if email.strip().lower() in _patients_own_emails(patient):
        raise AccountRefused(_("This is the patient's own email; a caregiver needs their own email."))
    expires_at = end_of_day(patient, expires_on) if expires_on is not None else None
    user = _account_user(email)
    _language_if_unset(user, language)
    grant = CaregiverAccess.objects.active().filter(patient=patient, user=user).first()
    if grant is not None:
        if grant.expires_at != expires_at:
            grant.expires_at = expires_at
            grant.save(update_fields=["expires_at"])
        return grant, False
    return CaregiverAccess.objects.create(patient=patient, user=user, granted_by=by, expires_at=expires_at), True


def _deactivate_if_unused(user) -> None:
    if (
        not user.caregiver_grants.active().exists()
        and not Patient.objects.filter(user=user).exists()
        and not user.memberships.exists()
        and not user.is_staff
    ):
        user.is_active = False
        user.save(update_fields=["is_active"])


@transaction.atomic
def email_change(*, user, email: str) -> None:
    """A patient's or caregiver's new email, which is also their username (sign-in and password links)."""
    email = email.strip()
    taken = get_user_model().objects.filter(Q(username__iexact=email) | Q(email__iexact=email)).exclude(pk=user.pk)
    if taken.exists():
        raise AccountRefused(_("This email already belongs to another account."))
    user.username = user.email = email
    user.save(update_fields=["username", "email"])


@transaction.atomic
def caregiver_revoke(*, grant) -> None:
    grant.revoked_at = timezone.now()
    grant.save(update_fields=["revoked_at"])
    _deactivate_if_unused(grant.user)
    # Signed out now: a session kept from before would come back to life if access were granted again.
    sessions.end_sessions(grant.user)


@transaction.atomic
def patient_login_revoke(*, patient) -> None:
    user = patient.user
    patient.user = None
    patient.save(update_fields=["user"])
    if user is not None:
        _deactivate_if_unused(user)
        sessions.end_sessions(user)


def set_password_email_send(*, user, base_url: str, template: str) -> None:
    """Email a set-your-password link (Django's password-reset token: single use, expires)."""
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    context = {"user": user, "link": base_url.rstrip("/") + path}
    # In the recipient's language, whatever language the member of staff sending it reads.
    with override(language.language_for(user)):
        subject = render_to_string(f"emails/{template}_subject.txt", context).strip()
        body = render_to_string(f"emails/{template}.txt", context)
    send_mail(subject, body, None, [user.email])


def _language_if_unset(user, language: str | None) -> None:
    """The language staff chose for an invitation, unless the person already chose their own."""
    if language in dict(settings.LANGUAGES) and not Preferences.objects.filter(user=user).exists():
        Preferences.objects.create(user=user, language=language)


@transaction.atomic
def language_save(*, user, language: str) -> None:
    """Save the language a person reads (pages, emails, notices); an unknown code is refused."""
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"Unknown language {language!r}.")
    Preferences.objects.update_or_create(user=user, defaults={"language": language})
