"""Clinics, their staff, patients with their pumps, and who may follow a patient."""

import uuid
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from patients import search
from patients.history import HistoricalRecords

# Weekday names in the active language, Monday (0) first, as date.weekday() counts (Django's translations).
WEEKDAY_NAMES = tuple(WEEKDAYS[day] for day in range(7))


# The IANA zones a clinic may have, enforced by the database too (a CHECK ... IN). Read from a file kept in the
# repository rather than from the system's tzdata, so an update of the system never changes the model (or the
# migrations) silently; a zone added to the file comes with a migration (makemigrations sees it).
CLINIC_TIME_ZONES = tuple(Path(__file__).with_name("time_zones.txt").read_text().split())


def validate_time_zone(value: str) -> None:
    if value not in CLINIC_TIME_ZONES or value not in available_timezones():
        raise ValidationError("%(value)s is not an IANA time zone (e.g. America/New_York).", params={"value": value})


class Clinic(models.Model):
    name = models.CharField(_("name"), max_length=200)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default=settings.DEFAULT_CLINIC_TIME_ZONE, validators=[validate_time_zone]
    )
    phone = models.CharField(_("phone"), max_length=40, help_text=_("Shown to patients as a tap-to-call link."))
    # db_default: rows written by code that predates the column (older migrations' states) still insert.
    address = models.CharField(
        _("address"),
        max_length=300,
        blank=True,
        default="",
        db_default="",
        help_text=_("Where patients come for refills: shown in their detailed calendars."),
    )
    # A pump left unfilled can clot its catheter: patients need a number that answers when the clinic is closed.
    after_hours_phone = models.CharField(
        _("after-hours phone"),
        max_length=40,
        blank=True,
        help_text=_("Shown to patients on days the clinic is closed (weekends, closure dates) and on the living page."),
    )
    # date.weekday() numbers of the days the clinic refills pumps: "01234" is Monday to Friday.
    open_weekdays = models.CharField(
        _("open weekdays"), max_length=7,
        default="01234",
        validators=[RegexValidator(r"^0?1?2?3?4?5?6?$", _("List weekdays as digits 0 (Monday) to 6 (Sunday)."))],
    )
    default_protocol = models.ForeignKey(
        "schedules.Protocol", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    flow_tolerance_percent = models.PositiveSmallIntegerField(
        _("flow tolerance (%)"), default=20,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("Flag a measured pump flow further than this (in %) from the pump's nominal rate."),
    )
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(open_weekdays__regex=r"^0?1?2?3?4?5?6?$"), name="clinic_open_weekdays_digits"
            ),
            models.CheckConstraint(condition=models.Q(time_zone__in=CLINIC_TIME_ZONES), name="clinic_time_zone_iana"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def today(self) -> date:
        """The clinic's local date: what "today" means for its patients' fills."""
        return timezone.now().astimezone(self.zone).date()

    @property
    def open_weekday_numbers(self) -> frozenset[int]:
        return frozenset(int(d) for d in self.open_weekdays)


class StaffMembership(models.Model):
    """A user who works at a clinic: sees and changes that clinic's patients."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "clinic"], name="one_membership_per_clinic")]

    def __str__(self) -> str:
        return f"{self.user} at {self.clinic}"


class Patient(models.Model):
    # URLs address patients by this, never by the row id.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, verbose_name=_("clinic"), on_delete=models.PROTECT, related_name="patients")
    name = models.CharField(_("name"), max_length=200)
    record_number = models.CharField(_("clinic record number"), max_length=40)
    date_of_birth = models.DateField(_("date of birth"))
    email = models.EmailField(_("contact email"), blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="patient"
    )
    pump_model = models.CharField(_("pump model"), max_length=100, blank=True)
    pump_reservoir_ml = models.DecimalField(
        "pump reservoir (mL)",
        max_digits=5,
        decimal_places=1,
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(200)],
    )
    pump_flow_ml_per_day = models.DecimalField(
        "nominal flow (mL/day)",
        max_digits=4,
        decimal_places=2,
        default=1,
        validators=[MinValueValidator(0.1), MaxValueValidator(10)],
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Name and record number as search compares them (patients.search.normalize), set by clean(): so the
    # staff search finds "Núñez" from "nunez" and "Maria Lopez" from "lopez maria" in one indexed column.
    # A database default too: rows written by code that predates the column (old migrations' models) stay valid.
    search_text = models.CharField(max_length=300, blank=True, default="", db_default="", editable=False)
    history = HistoricalRecords(excluded_fields=["search_text"])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "record_number"], name="record_number_unique_in_clinic"),
            models.CheckConstraint(condition=models.Q(pump_reservoir_ml__gt=0), name="pump_reservoir_positive"),
            models.CheckConstraint(condition=models.Q(pump_flow_ml_per_day__gt=0), name="pump_flow_positive"),
        ]
        indexes = [
            models.Index(fields=["clinic", "name"]),
            # The clinic dashboard sorts a day's refills by their patient's name: PostgreSQL reads the name of each
            # from this index alone instead of visiting the table once per refill (schedules.selectors).
            models.Index(fields=["id", "name"], name="patient_name_by_id"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.record_number})"

    def clean(self):
        # Every form and service that saves a patient validates it first (full_clean), so this keeps the
        # search column in step with the name wherever it is edited (staff pages, admin).
        self.search_text = search.patient_text(self.name, self.record_number)


class CaregiverAccessQuerySet(models.QuerySet):
    def active(self):
        """Grants in force now: not revoked, not past the expiry the patient (or staff) chose."""
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=timezone.now())
        )


class CaregiverAccess(models.Model):
    """A caregiver allowed to follow one patient, read-only, until revoked or until it expires."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="caregiver_grants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="caregiver_grants")
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(_("granted at"), default=timezone.now)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    # The end of the last day chosen, in the clinic's time zone; empty: until revoked.
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    history = HistoricalRecords()

    objects = CaregiverAccessQuerySet.as_manager()

    class Meta:
        verbose_name_plural = _("caregiver access")
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "user"],
                condition=models.Q(revoked_at__isnull=True),
                name="one_active_grant_per_caregiver",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} follows {self.patient}"

    @property
    def last_moment(self):
        """A moment on the last day of access (expires_at is the midnight after it): for "until <day>"."""
        return None if self.expires_at is None else self.expires_at - timedelta(seconds=1)


class AccessEvent(models.Model):
    """Who looked at a patient's record, or fetched their calendar feed: appended, never edited."""

    class Action(models.TextChoices):
        VIEW = "view", _("Viewed a page")
        FEED = "feed", _("Calendar feed fetched")
        EXPORT = "export", _("Record exported")

    at = models.DateTimeField(default=timezone.now, db_index=True)
    patient = models.ForeignKey(Patient, null=True, on_delete=models.SET_NULL, related_name="access_events")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=10, choices=Action.choices)
    # The page's URL name or the subscription's id: never a secret, never patient data.
    detail = models.CharField(max_length=100, blank=True)
    # Calendar fetches are one row per link per day: how many, `at` being the last.
    count = models.PositiveIntegerField(default=1, db_default=1)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["patient", "-at"])]

    def __str__(self) -> str:
        return f"{self.get_action_display()} at {self.at:%Y-%m-%d %H:%M}"


class UserSession(AbstractBaseSession):
    """A signed-in browser (Django's database session, plus whose it is): lets a person see and end their
    sessions, and lets revoking someone's access end theirs. Filled from the session's own data on each save
    (patients.sessions.SessionStore), so nothing here is written outside a session save."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+")
    user_agent = models.CharField(max_length=300, blank=True)
    signed_in_at = models.DateTimeField(null=True)
    last_active_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["user", "expire_date"])]

    @classmethod
    def get_session_store_class(cls):
        from patients.sessions import SessionStore

        return SessionStore


class Preferences(models.Model):
    """A person's own settings, the same for patients, caregivers and staff: the language they read.

    No row (or a blank language) means the person never chose: pages follow the browser and emails
    the language the sender chose for them.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences")
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)

    class Meta:
        verbose_name = _("preferences")
        verbose_name_plural = _("preferences")

    def __str__(self) -> str:
        return f"{self.user}: {self.language}"
