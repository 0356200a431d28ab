"""Sign-ins for patients and caregivers: created, granted and revoked by clinic staff.

The set-your-password email uses Django's password-reset tokens (single use, expiring), so no password
ever passes through staff hands.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
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


@transaction.atomic
def caregiver_grant(*, patient, email: str, by, language: str | None = None):
    """Let a caregiver follow a patient (read-only). Returns (grant, created)."""
    existing = get_user_model().objects.filter(username__iexact=email).first()
    if existing is not None and existing.memberships.exists():
        raise AccountRefused(_("This email belongs to clinic staff; use the caregiver's own email."))
    user = _account_user(email)
    _language_if_unset(user, language)
    grant = CaregiverAccess.objects.active().filter(patient=patient, user=user).first()
    if grant is not None:
        return grant, False
    return CaregiverAccess.objects.create(patient=patient, user=user, granted_by=by), True


def _deactivate_if_unused(user) -> None:
    if (
        not user.caregiver_grants.filter(revoked_at__isnull=True).exists()
        and not Patient.objects.filter(user=user).exists()
        and not user.memberships.exists()
        and not user.is_staff
    ):
        user.is_active = False
        user.save(update_fields=["is_active"])


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
