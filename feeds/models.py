"""What the feeds keep between fetches: UID seeds, what each event last showed, built bodies, retired links.

None of it is a secret and none of it names the patient: UIDs are derived from a random seed (not from
SECRET_KEY, which may rotate), bodies are the calendars already served, links are kept as SHA-256 hashes.
"""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class FeedKey(models.Model):
    """A random seed per plan, made once: every event UID of the plan derives from it and the wording."""

    plan = models.OneToOneField("schedules.TherapyPlan", on_delete=models.CASCADE, related_name="feed_key")
    seed = models.UUIDField(default=uuid.uuid4, editable=False)

    def __str__(self) -> str:
        return f"Feed key of plan {self.plan_id}"


class FeedEvent(models.Model):
    """The last content a calendar was shown for one event (by UID): SEQUENCE and LAST-MODIFIED rise only when
    what a person sees changes, not when the engine touches a field the feed does not show."""

    plan = models.ForeignKey("schedules.TherapyPlan", on_delete=models.CASCADE, related_name="+")
    uid = models.CharField(max_length=64)
    digest = models.CharField(max_length=64)
    sequence = models.PositiveIntegerField(default=0)
    modified_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plan", "uid"], name="one_feed_event_per_uid")]

    def __str__(self) -> str:
        return f"{self.uid} #{self.sequence}"


class FeedSnapshot(models.Model):
    """One variant of a patient's feed (wording, title, name, site), built once per content version.

    `version` hashes every input of the body; `etag` hashes the body itself, so the ETag and Last-Modified
    change only when the bytes do (a new clinic day rebuilds, but usually to the same bytes).
    """

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+")
    variant = models.CharField(max_length=64)
    version = models.CharField(max_length=64)
    etag = models.CharField(max_length=40)
    last_modified = models.DateTimeField()
    body = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["patient", "variant"], name="one_snapshot_per_variant")]

    def __str__(self) -> str:
        return f"Feed snapshot {self.etag}"


class RetiredLink(models.Model):
    """A replaced link (the hash of its old token): it serves an empty "(stopped)" calendar for a while, then 410."""

    subscription = models.ForeignKey(
        "schedules.CalendarSubscription", on_delete=models.CASCADE, related_name="retired_links"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    retired_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Retired link of {self.subscription_id}"


class FeedSettings(models.Model):
    """The patient's own words for their calendars: the discreet events' title and the calendar's name."""

    patient = models.OneToOneField("patients.Patient", on_delete=models.CASCADE, related_name="feed_settings")
    discreet_title = models.CharField(
        _("title of each visit in discreet calendars"),
        max_length=60,
        default="Clinic visit",
        help_text=_("What a discreet calendar calls each visit, e.g. “Appointment”. Avoid drug or illness names."),
    )
    calendar_name = models.CharField(
        _("name of the calendar"),
        max_length=60,
        blank=True,
        help_text=_(
            "Shown in the calendar app's list of calendars. Empty: “Clinic visits” (discreet) or "
            "“Pump refills” (detailed)."
        ),
    )

    class Meta:
        verbose_name_plural = _("feed settings")

    def __str__(self) -> str:
        return f"Calendar settings of patient {self.patient_id}"
