"""Who wants which emails, what the notices planner last saw of each upcoming fill, and every notice to send.

A notice is a row before it is an email: the sender claims due rows, sends them and marks them sent, so
nothing is lost when the worker or the mail server stops, and the uniqueness rule below means no notice
can be created twice, however many planners run.
"""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

PATIENT_KEY = "patient"


def caregiver_key(user_id: int) -> str:
    return f"caregiver:{user_id}"


class Preference(models.Model):
    """One follower's choices for one patient: the patient themself (caregiver empty) or one caregiver.

    Followers are named by ``recipient_key`` ("patient" or "caregiver:<user id>") rather than a nullable
    foreign key, so one unique rule holds on every database (NULLs are never equal in SQL).
    """

    class Wording(models.TextChoices):
        DISCREET = "discreet", _("Discreet: “clinic visit”, no drug names")
        DETAILED = "detailed", _("Detailed: what goes in the pump")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="notice_preferences")
    recipient_key = models.CharField(max_length=40)
    caregiver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    reminders = models.BooleanField("reminders before each refill", default=True)
    days_ahead = models.PositiveSmallIntegerField(
        "first reminder, days before", default=2, validators=[MinValueValidator(1), MaxValueValidator(7)]
    )
    changes = models.BooleanField("when a date moves or a refill is cancelled", default=True)
    overdue = models.BooleanField("when a refill is overdue", default=True)
    wording = models.CharField(max_length=10, choices=Wording.choices, default=Wording.DISCREET)
    # The patient's own choice: may their caregivers choose the detailed wording?
    caregivers_may_see_details = models.BooleanField(default=False)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "recipient_key"], name="one_notice_preference_per_follower")
        ]

    def __str__(self) -> str:
        return f"Notice preferences ({self.recipient_key})"

    @property
    def is_patient(self) -> bool:
        return self.recipient_key == PATIENT_KEY

    def wants(self, kind: str) -> bool:
        if self.unsubscribed_at is not None:
            return False
        return {
            Notice.Kind.REMINDER: self.reminders,
            Notice.Kind.CHANGE: self.changes,
            Notice.Kind.OVERDUE: self.overdue,
        }[kind]

    def reminder_days(self) -> tuple[int, ...]:
        """Days before a refill a reminder goes out: the chosen first one, and always the morning before."""
        return tuple(sorted({self.days_ahead, 1}, reverse=True))


class FillWatch(models.Model):
    """What the planner last saw (and so last told followers) of one upcoming fill: its date, hold and state.

    The planner compares the stored projection with this; a change undone before the planner looked
    compares equal, so it sends nothing.
    """

    plan = models.ForeignKey("schedules.TherapyPlan", on_delete=models.CASCADE, related_name="+")
    sequence = models.PositiveIntegerField()
    date = models.DateField()
    held = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    revision = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plan", "sequence"], name="one_watch_per_fill")]

    def __str__(self) -> str:
        return f"Fill {self.sequence} of plan {self.plan_id} seen on {self.date}"


class Change(models.Model):
    """Fills of one patient that moved, were held or cancelled, seen together: what followers are told.

    ``lines`` is a list of {"sequence", "old_date", "new_date" (or null: cancelled), "what", "reason"}.
    """

    clinic = models.ForeignKey("patients.Clinic", on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="notice_changes")
    plan = models.ForeignKey("schedules.TherapyPlan", on_delete=models.CASCADE, related_name="+")
    sequence = models.PositiveIntegerField()
    revision = models.PositiveIntegerField()
    lines = models.JSONField(default=list)
    detected_at = models.DateTimeField()

    class Meta:
        ordering = ["-detected_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "sequence", "revision"], name="one_change_per_fill_revision")
        ]
        indexes = [models.Index(fields=["clinic", "-detected_at"])]

    def __str__(self) -> str:
        return f"Change of plan {self.plan_id} seen {self.detected_at:%Y-%m-%d %H:%M}"


class Notice(models.Model):
    class Kind(models.TextChoices):
        REMINDER = "reminder", _("Reminder")
        CHANGE = "change", _("Change")
        OVERDUE = "overdue", _("Overdue")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        CANCELLED = "cancelled", _("Not sent (no longer true)")
        FAILED = "failed", _("Failed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="notices")
    recipient_key = models.CharField(max_length=40)
    caregiver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # The fill it is about: the appointment's identity (plan, sequence) and the date it was for.
    plan = models.ForeignKey("schedules.TherapyPlan", on_delete=models.CASCADE, related_name="+")
    sequence = models.PositiveIntegerField()
    fill_date = models.DateField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Reminders: how many days before the fill; 0 for the other kinds.
    days_before = models.PositiveSmallIntegerField(default=0)
    # Changes: the projection's revision of the fill when the change was seen; 0 for the other kinds.
    fill_revision = models.PositiveIntegerField(default=0)
    change = models.ForeignKey(Change, null=True, blank=True, on_delete=models.CASCADE, related_name="notices")
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    # The sender's claim: who is sending it and until when the claim holds (see notices/delivery.py).
    claim = models.CharField(max_length=32, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    to_email = models.EmailField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-due_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient_key", "plan", "sequence", "kind", "fill_date", "days_before", "fill_revision"],
                name="one_notice_per_follower_fill_and_kind",
            )
        ]
        indexes = [
            models.Index(fields=["due_at"], condition=models.Q(status="pending"), name="notice_pending_due"),
            models.Index(fields=["patient", "-due_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.fill_date} ({self.get_status_display()})"
