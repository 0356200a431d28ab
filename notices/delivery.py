"""The notices sender: one unit of work per call. Claims due notices, sends each, marks it sent.

Claiming (healthchecks' ``sendalerts`` way, safe with many workers on any database): a conditional
UPDATE moves due rows from "pending" to "sending" with this call's claim token, and only rows that
still were pending change, so two workers never hold the same notice. On PostgreSQL the candidates are
first picked with ``SELECT ... FOR UPDATE SKIP LOCKED`` so workers take different rows instead of
racing for the same ones.

Exactly once, honestly: SMTP has no idempotency key. Each notice is marked sent right after the mail
server accepted it. If the worker dies between the two (a window of one UPDATE), the claim expires after
NOTICES_CLAIM_SECONDS and the notice is sent again: at-least-once in that window, never lost. The resend
carries the same Message-ID, so mail systems that deduplicate by it show one message. A worker that dies
before the server accepted the message (the usual crash: mid-batch, mid-connection) sends nothing twice.
"""

import contextlib
import datetime as dt
import logging
import smtplib
import uuid

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from notices.followers import follower as find_follower
from notices.models import Notice, Preference
from notices.wording import wording_for
from patients.language import language_for
from schedules.models import ScheduledFill, TherapyPlan

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "notices.unsubscribe"
RETRY_MINUTES = (1, 5, 15, 30, 60, 120, 240)  # back-off after each failed attempt; then give up


def unsubscribe_token(preference: Preference) -> str:
    return signing.dumps(str(preference.public_id), salt=UNSUBSCRIBE_SALT)


def absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def send_due(*, limit: int = 50, now: dt.datetime | None = None) -> int:
    """Send up to ``limit`` due notices. Returns how many were handled (sent, cancelled or put back)."""
    now = now or timezone.now()
    release_expired_claims(now=now)
    token = claim_due(limit=limit, now=now)
    notices = list(
        Notice.objects.filter(claim=token, status=Notice.Status.SENDING)
        .select_related("patient__clinic", "patient__user", "change", "caregiver")
        .order_by("due_at", "pk")
    )
    if not notices:
        return 0
    connection = get_connection()
    try:
        connection.open()
    except (smtplib.SMTPException, OSError) as error:
        logger.warning("Mail server unreachable, %s notices put back: %s", len(notices), error)
        for notice in notices:
            _failed(notice, token=token, error=error, now=now, quiet=True)
        return len(notices)
    try:
        for notice in notices:
            _send_one(notice, token=token, connection=connection, now=now)
    finally:
        # The messages are marked already; a broken goodbye changes nothing.
        with contextlib.suppress(smtplib.SMTPException, OSError):
            connection.close()
    return len(notices)


def release_expired_claims(*, now: dt.datetime) -> int:
    """Claims of a worker that died: back to pending (at-least-once, see the module docstring)."""
    return Notice.objects.filter(status=Notice.Status.SENDING, claimed_until__lt=now).update(
        status=Notice.Status.PENDING, claim=""
    )


def claim_due(*, limit: int, now: dt.datetime) -> str:
    token = uuid.uuid4().hex
    due = Notice.objects.filter(status=Notice.Status.PENDING, due_at__lte=now).order_by("due_at", "pk")
    with transaction.atomic():
        if db_connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        # The conditional UPDATE is the claim: a row another worker took meanwhile is no longer pending.
        Notice.objects.filter(pk__in=ids, status=Notice.Status.PENDING).update(
            status=Notice.Status.SENDING, claim=token, attempts=F("attempts") + 1,
            claimed_until=now + dt.timedelta(seconds=settings.NOTICES_CLAIM_SECONDS),
        )
    return token


def _still_true(notice: Notice) -> tuple[bool, ScheduledFill | None]:
    """A reminder or overdue notice goes out only if the fill is still what it says (planned, on that date)."""
    fill = ScheduledFill.objects.filter(plan_id=notice.plan_id, sequence=notice.sequence).first()
    if notice.kind == Notice.Kind.CHANGE:
        return True, fill
    ok = (
        fill is not None and fill.active and not fill.recorded and fill.date == notice.fill_date
        and TherapyPlan.objects.filter(pk=notice.plan_id, status=TherapyPlan.Status.ACTIVE).exists()
    )
    return ok, fill


def _finish(notice: Notice, *, token: str, **fields) -> bool:
    """Change a claimed notice only while the claim is still ours."""
    return bool(Notice.objects.filter(pk=notice.pk, claim=token, status=Notice.Status.SENDING).update(**fields))


def _send_one(notice: Notice, *, token: str, connection, now: dt.datetime) -> None:
    follower = find_follower(notice.patient, notice.recipient_key)
    true, fill = _still_true(notice)
    if follower is None or not follower.wants(notice.kind) or not true:
        why = "no longer true" if not true else "the follower no longer wants it or has no email"
        _finish(notice, token=token, status=Notice.Status.CANCELLED, claim="", last_error=why)
        return
    message = build_message(notice, follower=follower, fill=fill)
    try:
        connection.send_messages([message])
    except (smtplib.SMTPException, OSError) as error:
        _failed(notice, token=token, error=error, now=now)
        return
    _finish(notice, token=token, status=Notice.Status.SENT, sent_at=timezone.now(), to_email=follower.email,
            claim="", last_error="")


def _failed(notice: Notice, *, token: str, error: Exception, now: dt.datetime, quiet: bool = False) -> None:
    text = f"{type(error).__name__}: {error}"[:300]
    if notice.attempts >= settings.NOTICES_MAX_ATTEMPTS:
        # Loud: the log, and staff see it on the patient's notices page and the dashboard.
        logger.error("Notice %s gave up after %s attempts: %s", notice.public_id, notice.attempts, text)
        _finish(notice, token=token, status=Notice.Status.FAILED, claim="", last_error=text)
        return
    wait = RETRY_MINUTES[min(notice.attempts, len(RETRY_MINUTES)) - 1]
    if not quiet:
        logger.warning("Notice %s not sent (attempt %s), retrying in %s min: %s",
                       notice.public_id, notice.attempts, wait, text)
    _finish(notice, token=token, status=Notice.Status.PENDING, claim="", last_error=text,
            due_at=now + dt.timedelta(minutes=wait))


def build_message(notice: Notice, *, follower, fill: ScheduledFill | None) -> EmailMultiAlternatives:
    patient = notice.patient
    preference, _ = Preference.objects.get_or_create(
        patient=patient, recipient_key=follower.key, defaults={"caregiver": follower.caregiver}
    )
    reader = patient.user if follower.is_patient else follower.caregiver
    with translation.override(language_for(reader)):  # the reader's language, not the worker's
        return _message(notice, follower=follower, fill=fill, preference=preference)


def _message(notice: Notice, *, follower, fill: ScheduledFill | None, preference: Preference) -> EmailMultiAlternatives:
    patient = notice.patient
    words = wording_for(notice, is_patient=follower.is_patient, detailed=follower.detailed, fill=fill)
    unsubscribe = absolute(reverse("notices:unsubscribe", args=[unsubscribe_token(preference)]))
    context = {
        "language": translation.get_language(),
        "words": words,
        "clinic": patient.clinic,
        "patient_url": absolute(reverse("portal:patient_home", args=[patient.public_id])),
        "preferences_url": absolute(reverse("notices:preferences", args=[patient.public_id])),
        "unsubscribe_url": unsubscribe,
    }
    domain = settings.SITE_URL.split("//")[-1].split("/")[0].split(":")[0] or "pumpcare"
    message = EmailMultiAlternatives(
        subject=words.subject,
        body=render_to_string("notices/email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[follower.email],
        headers={
            # RFC 8058: mail apps show an unsubscribe button that POSTs here, no sign-in needed.
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            # The same id on a resend after a crash (see above), so inboxes can fold the two together.
            "Message-ID": f"<notice-{notice.public_id}@{domain}>",
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(render_to_string("notices/email.html", context), "text/html")
    return message
