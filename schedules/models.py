"""Protocols, closures, therapy plans, recorded fills, holds, and the stored projection of planned fills."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from patients.history import HistoricalRecords
from schedules import engine
from schedules.progress import short_date


class Infusate(models.TextChoices):
    FUDR = engine.Infusate.FUDR.value, "FUDR"
    FUDR_DEX = engine.Infusate.FUDR_DEX.value, _("FUDR with dexamethasone")
    HEPARINIZED_SALINE = engine.Infusate.HEPARINIZED_SALINE.value, _("Heparinized saline")
    SALINE = engine.Infusate.SALINE.value, _("Saline")
    GLYCERIN = engine.Infusate.GLYCERIN.value, _("Glycerin")


class FillKind(models.TextChoices):
    IMPLANT = engine.FillKind.IMPLANT.value, _("Implant fill")
    CHEMO = engine.FillKind.CHEMO.value, _("Chemotherapy")
    REST = engine.FillKind.REST.value, _("Rest")
    HELD = engine.FillKind.HELD.value, _("Chemo held")
    MAINTENANCE = engine.FillKind.MAINTENANCE.value, _("Maintenance")


def validate_cycle_steps(value) -> None:
    """A cycle is a list of {"infusate", "days"}: the chemo step first, then one or more rest steps."""
    if not isinstance(value, list) or len(value) < 2:
        raise ValidationError(_("A cycle needs a chemo step followed by at least one rest step."))
    for index, step in enumerate(value):
        if not isinstance(step, dict) or set(step) != {"infusate", "days"}:
            raise ValidationError(_("Each step needs exactly an infusate and a number of days."))
        if step["infusate"] not in Infusate.values:
            raise ValidationError(_("Unknown infusate %(value)s."), params={"value": step["infusate"]})
        if not isinstance(step["days"], int) or not 1 <= step["days"] <= 90:
            raise ValidationError(_("A step lasts 1 to 90 days."))
        is_chemo = engine.Infusate(step["infusate"]).is_chemo
        if is_chemo != (index == 0):
            raise ValidationError(_("The first step is the chemo (FUDR) step and only the first."))


class Protocol(models.Model):
    """A clinic's therapy template (docs/schedule-rules.md: protocol)."""

    clinic = models.ForeignKey("patients.Clinic", on_delete=models.CASCADE, related_name="protocols")
    name = models.CharField(_("name"), max_length=100)
    first_chemo_after_days = models.PositiveSmallIntegerField(
        _("first chemo, days after surgery"), default=14, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    cycle_steps = models.JSONField(
        _("cycle steps"), default=list,
        validators=[validate_cycle_steps],
        help_text=_('E.g. [{"infusate": "fudr", "days": 14}, {"infusate": "heparinized_saline", "days": 14}]'),
    )
    cycle_count = models.PositiveSmallIntegerField(
        _("number of cycles"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("Empty: open-ended."),
    )
    maintenance_infusate = models.CharField(
        _("maintenance infusate"), max_length=32, choices=Infusate.choices, default=Infusate.HEPARINIZED_SALINE
    )
    maintenance_days = models.PositiveSmallIntegerField(
        _("maintenance: days between fills"), default=14, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "name"], name="protocol_name_unique_in_clinic"),
            # A chemo step and at least one rest step: a second element exists (validate_cycle_steps says more).
            models.CheckConstraint(condition=Q(cycle_steps__1__isnull=False), name="protocol_cycle_has_two_steps"),
            models.CheckConstraint(
                condition=Q(maintenance_infusate__in=Infusate.values), name="protocol_maintenance_infusate_known"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if self.maintenance_infusate and engine.Infusate(self.maintenance_infusate).is_chemo:
            raise ValidationError(
                {"maintenance_infusate": _("Maintenance fills are not chemotherapy: pick a rest infusate.")}
            )

    @classmethod
    def default_steps(cls) -> list[dict]:
        return [
            {"infusate": Infusate.FUDR.value, "days": 14},
            {"infusate": Infusate.HEPARINIZED_SALINE.value, "days": 14},
        ]


class ClinicClosure(models.Model):
    """A date the clinic is closed (a holiday): no fill is planned on it (S7)."""

    clinic = models.ForeignKey("patients.Clinic", on_delete=models.CASCADE, related_name="closures")
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=100, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["clinic", "date"], name="one_closure_per_clinic_day")]

    def __str__(self) -> str:
        return f"{self.date}: {self.name}" if self.name else str(self.date)


class EndReason(models.TextChoices):
    """S8: why a therapy ends; the reason says which of the two ends it is (CHEMO_ENDS, THERAPY_OVER)."""

    # Chemotherapy ends: the pump stays in, so maintenance refills continue.
    COMPLETED = "completed", _("Chemotherapy completed")
    TOXICITY = "toxicity", _("Stopped for toxicity")
    PROGRESSION = "progression", _("Progression")
    PATIENT_CHOICE = "patient_choice", _("The patient's choice")
    OTHER = "other", _("Other reason (the pump stays in)")
    # Therapy over: nothing is planned after the date.
    PUMP_REMOVED = "pump_removed", _("Pump removed")
    MOVED_CARE = "moved_care", _("Care moved to another clinic")
    DEATH = "death", _("Death")


CHEMO_ENDS = frozenset({EndReason.COMPLETED, EndReason.TOXICITY, EndReason.PROGRESSION, EndReason.PATIENT_CHOICE,
                        EndReason.OTHER})
THERAPY_OVER = frozenset({EndReason.PUMP_REMOVED, EndReason.MOVED_CARE, EndReason.DEATH})
CHEMO_END_CHOICES = [(r.value, r.label) for r in EndReason if r in CHEMO_ENDS]
THERAPY_OVER_CHOICES = [(r.value, r.label) for r in EndReason if r in THERAPY_OVER]


class TherapyPlan(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        ENDED = "ended", _("Ended")

    EndReason = EndReason
    CHEMO_ENDS = CHEMO_ENDS
    THERAPY_OVER = THERAPY_OVER

    patient = models.OneToOneField("patients.Patient", on_delete=models.CASCADE, related_name="plan")
    surgery_date = models.DateField(_("surgery date"), help_text=_("The day the pump was (or will be) implanted."))
    protocol = models.ForeignKey(Protocol, verbose_name=_("protocol"), on_delete=models.PROTECT, related_name="plans")
    # Per-patient overrides of the protocol; empty means "as the protocol says".
    first_chemo_after_days = models.PositiveSmallIntegerField(
        _("first chemo, days after surgery"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(120)],
    )
    cycle_count = models.PositiveSmallIntegerField(
        _("number of cycles"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    open_ended = models.BooleanField(
        _("open-ended"), default=False, help_text=_("Repeat cycles until staff end the therapy.")
    )
    # S8, chemotherapy ended: the plan stays active (status) because maintenance refills continue.
    chemo_end_date = models.DateField(_("end of chemotherapy"), null=True, blank=True)
    chemo_end_reason = models.CharField(
        _("why chemotherapy ended"), max_length=20, choices=CHEMO_END_CHOICES, blank=True
    )
    chemo_end_note = models.CharField(_("note on the end of chemotherapy"), max_length=300, blank=True)
    # S8, therapy over (status "ended"): nothing is planned after end_date.
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    end_date = models.DateField(_("end date"), null=True, blank=True)
    end_reason = models.CharField(
        _("end reason"), max_length=20, choices=THERAPY_OVER_CHOICES, blank=True
    )
    end_note = models.CharField(_("end note"), max_length=300, blank=True)
    # The clinic-local day the stored projection was last computed: refresh_schedules rolls it forward.
    projected_on = models.DateField(null=True, blank=True, editable=False)
    # The stored projection is current while projected_version == inputs_version. A clinic-wide change
    # (closures, open weekdays, tolerance, a protocol) raises inputs_version of every plan it touches in one
    # UPDATE and leaves the recompute to the worker (schedules.jobs); a recompute stores the inputs_version it
    # read, so a change made meanwhile leaves the plan stale and it is picked up again (also after a crash).
    inputs_version = models.PositiveIntegerField(default=1, editable=False)
    projected_version = models.PositiveIntegerField(default=0, editable=False)
    # A fingerprint of the stored projection as the last recompute wrote it (services._fingerprint): a clinic-wide
    # recompute that projects the same digest writes nothing and reads none of the plan's stored rows. Only
    # services writes it, with the rows, in one transaction; empty means "compare the rows".
    projection_digest = models.CharField(max_length=32, blank=True, editable=False)
    history = HistoricalRecords(
        excluded_fields=["projected_on", "inputs_version", "projected_version", "projection_digest"]
    )

    class Meta:
        indexes = [
            # The worker's queue, and "updating N patients": usually empty, so tiny.
            models.Index(
                fields=["id"], condition=Q(projected_version__lt=F("inputs_version")), name="plan_projection_stale"
            ),
            # Ended therapies, whose planned fills no page lists (selectors.planned_fills): few.
            models.Index(fields=["id"], condition=~Q(status="active"), name="plan_therapy_over"),
            # From a refill to its patient without visiting the table (the dashboard sorts a day's refills by name).
            models.Index(fields=["id", "patient"], name="plan_patient_by_id"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("surgery_date")),
                name="therapy_ends_after_surgery",
            ),
            models.CheckConstraint(
                condition=(Q(status="active", end_date__isnull=True) | Q(status="ended", end_date__isnull=False)),
                name="ended_therapy_has_end_date",
            ),
            models.CheckConstraint(
                condition=Q(chemo_end_date__isnull=True) | Q(chemo_end_date__gte=F("surgery_date")),
                name="chemo_ends_after_surgery",
            ),
            models.CheckConstraint(
                condition=Q(chemo_end_date__isnull=True, chemo_end_reason="")
                | Q(chemo_end_date__isnull=False, chemo_end_reason__gt=""),
                name="chemo_end_has_date_and_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"Plan of {self.patient}"

    @property
    def is_updating(self) -> bool:
        """A clinic-wide change is not yet in this plan's stored schedule: the worker is on it."""
        return self.projected_version < self.inputs_version

    @property
    def chemo_ended(self) -> bool:
        return self.chemo_end_date is not None

    @property
    def therapy_over(self) -> bool:
        return self.status == self.Status.ENDED

    def clean(self):
        if self.chemo_end_date and self.end_date and self.end_date < self.chemo_end_date:
            raise ValidationError(
                {"end_date": _("Chemotherapy ended on %(date)s: the therapy ends on or after it.")
                 % {"date": short_date(self.chemo_end_date)}}
            )
        if self.pk and self.surgery_date:
            first = self.recorded_fills.order_by("date").values_list("date", flat=True).first()
            if first is not None and first < self.surgery_date:
                raise ValidationError(
                    {
                        "surgery_date": _("A fill is already recorded on %(date)s, before this surgery date.")
                        % {"date": short_date(first)}
                    }
                )


class RecordedFill(models.Model):
    """A fill that happened: a fact entered by staff (S5)."""

    plan = models.ForeignKey(TherapyPlan, on_delete=models.CASCADE, related_name="recorded_fills")
    date = models.DateField(_("date"))
    infusate = models.CharField(_("infusate"), max_length=32, choices=Infusate.choices)
    appointment_time = models.TimeField(_("appointment time"), null=True, blank=True)
    volume_in_ml = models.DecimalField(
        _("volume put in (mL)"), max_digits=5, decimal_places=1, null=True, blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(200)],
    )
    volume_returned_ml = models.DecimalField(
        _("volume returned (mL)"), max_digits=5, decimal_places=1, null=True, blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(200)],
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "date"], name="one_recorded_fill_per_plan_day"),
            models.CheckConstraint(condition=Q(infusate__in=Infusate.values), name="recorded_fill_infusate_known"),
            models.CheckConstraint(condition=Q(volume_in_ml__gte=0), name="volume_in_not_negative"),
            models.CheckConstraint(condition=Q(volume_returned_ml__gte=0), name="volume_returned_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.get_infusate_display()} on {self.date}"

    def clean(self):
        if self.plan_id and self.date and self.date < self.plan.surgery_date:
            raise ValidationError({"date": "A fill cannot be before the surgery date."})


class Hold(models.Model):
    """Staff hold a future chemo fill (S6): it is given as heparinized saline instead.

    The fill is named by its cycle and attempt (the attempt-th time that cycle's chemo is due), which
    stays with the appointment when earlier fills are recorded late, early or held (engine.project).
    """

    plan = models.ForeignKey(TherapyPlan, on_delete=models.CASCADE, related_name="holds")
    cycle = models.PositiveSmallIntegerField(_("cycle"), validators=[MinValueValidator(1)])
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=1, validators=[MinValueValidator(1)])
    planned_date = models.DateField(
        _("planned date"), help_text=_("The date the held fill was planned on when it was held.")
    )
    reason = models.CharField(_("reason"), max_length=300)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["plan", "cycle", "attempt"], name="one_hold_per_chemo_fill"),
            models.CheckConstraint(condition=Q(cycle__gte=1, attempt__gte=1), name="hold_cycle_and_attempt_from_one"),
        ]

    def __str__(self) -> str:
        return f"Hold of cycle {self.cycle} ({self.planned_date})"

    @property
    def key(self) -> tuple[int, int]:
        return (self.cycle, self.attempt)


class ScheduledFill(models.Model):
    """The stored projection: one row per fill of a plan, recorded or planned, kept by services.recompute.

    A row is the same appointment for its whole life (plan, sequence): when it moves, its date
    changes and its revision rises; when it no longer happens, it turns inactive rather than
    disappearing, so calendar feeds can follow it.
    """

    # No index of its own: the unique (plan, sequence) index serves every lookup by plan, and one index fewer to
    # write is cheaper for every row a recompute writes.
    plan = models.ForeignKey(TherapyPlan, on_delete=models.CASCADE, related_name="scheduled_fills", db_index=False)
    # Denormalised from plan.patient.clinic so the clinic-wide "who is due" questions use one index.
    clinic = models.ForeignKey("patients.Clinic", on_delete=models.CASCADE, related_name="+")
    sequence = models.PositiveIntegerField()
    date = models.DateField()
    infusate = models.CharField(max_length=32, choices=Infusate.choices)
    kind = models.CharField(max_length=16, choices=FillKind.choices)
    cycle = models.PositiveSmallIntegerField(null=True, blank=True)
    phase_days = models.PositiveSmallIntegerField()
    phase_end = models.DateField(null=True, blank=True)
    recorded = models.BooleanField(default=False)
    # A recorded fill's appointment time; planned fills are all-day until staff record them.
    appointment_time = models.TimeField(null=True, blank=True)
    held = models.BooleanField(default=False)
    moved_from = models.DateField(null=True, blank=True)
    closed_day = models.BooleanField(default=False)
    capacity_warning = models.BooleanField(default=False)
    measured_flow_ml_per_day = models.FloatField(null=True, blank=True)
    flow_deviation = models.BooleanField(default=False)
    # S12 on the visit where staff can act on it: the measured flow of the fill before (sequence - 1), when that
    # fill is recorded and its flow is out of tolerance. Stored so the dashboard's warnings need no lookup per row.
    previous_deviating_flow = models.FloatField(null=True, blank=True)
    active = models.BooleanField(default=True)
    revision = models.PositiveIntegerField(default=0)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["plan", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "sequence"], name="one_row_per_fill"),
            models.CheckConstraint(condition=Q(infusate__in=Infusate.values), name="scheduled_fill_infusate_known"),
        ]
        # Planned refills (selectors.planned_fills): never the implant fill, which every plan has, unrecorded,
        # on its surgery date (in a big clinic most rows of the past that are neither recorded nor cancelled).
        indexes = [
            # With the plan: the dashboard counts a section from this index alone (selectors.planned_fills).
            models.Index(
                fields=["clinic", "date", "plan"], condition=Q(active=True, recorded=False) & ~Q(kind="implant"),
                name="planned_refill_clinic_date",
            ),
            models.Index(
                fields=["date"], condition=Q(active=True, recorded=False) & ~Q(kind="implant"),
                name="planned_refill_date",
            ),
            # The dashboard's warnings: few rows.
            models.Index(
                fields=["clinic", "date"],
                condition=Q(active=True, recorded=False)
                & (Q(capacity_warning=True) | Q(closed_day=True) | Q(previous_deviating_flow__isnull=False)),
                name="planned_fill_warning",
            ),
        ]

    def __str__(self) -> str:
        return f"Fill {self.sequence} of {self.plan_id} on {self.date}"

    # Fields the engine decides; a change in any of them is a new revision of the appointment.
    PROJECTED_FIELDS = (
        "date", "infusate", "kind", "cycle", "phase_days", "phase_end", "recorded", "appointment_time", "held",
        "moved_from",
        "closed_day", "capacity_warning", "measured_flow_ml_per_day", "flow_deviation", "previous_deviating_flow",
        "active",
    )

    @property
    def is_chemo(self) -> bool:
        return engine.Infusate(self.infusate).is_chemo


class CalendarSubscription(models.Model):
    """A secret iCalendar feed link of one patient's fills, for one subscriber ("Maria's phone").

    Only a SHA-256 hash of the link's token is stored: the token itself is shown once, when it is made.
    """

    class Detail(models.TextChoices):
        DISCREET = "discreet", _("Discreet")
        DETAILED = "detailed", _("Detailed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="calendar_subscriptions")
    # A caregiver's own subscription; empty: the patient's (made by the patient or by staff for them).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(_("name"), max_length=80)
    detail = models.CharField(_("detail"), max_length=10, choices=Detail.choices, default=Detail.DISCREET)
    # The events' titles and descriptions are in the language the subscriber reads, chosen with the link.
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    # Feed fetches touch last_fetched_at only: not an audited change.
    history = HistoricalRecords(excluded_fields=["last_fetched_at"])

    class Meta:
        # Active links first on every database (SQLite and PostgreSQL sort NULL differently).
        ordering = [F("revoked_at").asc(nulls_first=True), "created_at", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_detailed(self) -> bool:
        return self.detail == self.Detail.DETAILED
