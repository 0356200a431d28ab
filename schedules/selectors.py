"""Reads over the stored projection: the clinic-wide and per-patient questions, in constant queries."""

import datetime as dt

from django.db.models import QuerySet
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from patients import search as patient_search
from patients.models import Clinic, Patient
from schedules.models import ClinicClosure, FillKind, ScheduledFill, TherapyPlan


def planned_fills() -> QuerySet[ScheduledFill]:
    """Refills still to be given (not recorded, not cancelled), with their patient, for listing.

    The implant fill is the surgery itself, a fact: never "due" at the pump clinic; nor is anything of a
    therapy that has ended (a refill missed before the end stays in its record, not on the dashboard).
    Ended therapies are few and have a partial index: "not one of them" is a small hashed list the database
    checks against each fill, so counting a range of the planned-refill index reads that index alone (a join
    on the plan's status would read every plan).
    """
    ended = TherapyPlan.objects.exclude(status=TherapyPlan.Status.ACTIVE)
    return (
        ScheduledFill.objects.filter(active=True, recorded=False)
        .exclude(kind=FillKind.IMPLANT)
        .exclude(plan__in=ended)
        .select_related("plan__patient")
    )


def fills_due_between(*, clinic: Clinic, start: dt.date, end: dt.date) -> QuerySet[ScheduledFill]:
    """Planned fills of the clinic's patients dated start..end inclusive, by date then patient."""
    return planned_fills().filter(clinic=clinic, date__range=(start, end)).order_by("date", "plan__patient__name")


def overdue_fills(*, clinic: Clinic, today: dt.date | None = None) -> QuerySet[ScheduledFill]:
    """S10: planned fills whose date has passed with nothing recorded."""
    today = today or clinic.today()
    return planned_fills().filter(clinic=clinic, date__lt=today).order_by("date", "plan__patient__name")


def fills_due_on(day: dt.date) -> QuerySet[ScheduledFill]:
    """Every clinic's planned fills on one day: what reminders for "tomorrow" ask."""
    return planned_fills().filter(date=day).select_related("clinic").order_by("clinic", "plan__patient__name")


def clinic_closed_on(clinic: Clinic, day: dt.date) -> str:
    """Why the clinic is closed on ``day`` ("Saturday", "Thanksgiving Day", "a closure day"), or "" if it is open.

    Opening hours are not modelled: a clinic is open or closed for the whole day.
    """
    if day.weekday() not in clinic.open_weekday_numbers:
        return date_format(day, "l")
    closure = ClinicClosure.objects.filter(clinic=clinic, date=day).values_list("name", flat=True).first()
    if closure is None:
        return ""
    return closure or _("a closure day")


def patient_fills(patient: Patient) -> list[ScheduledFill]:
    """All fills of a patient's therapy, recorded and planned, in order (one query)."""
    return list(
        ScheduledFill.objects.filter(plan__patient=patient, active=True).order_by("sequence")
    )


# --- Clinic staff pages (issue 4) ---

# The dashboard shows each section's most urgent rows and its exact count; the section's own page lists them all.
DASHBOARD_ROWS = 10
WARNING_WINDOW_DAYS = 28
DUE_SECTIONS = ("overdue", "today", "week", "warnings")  # in the dashboard's order of urgency


def _warning_condition():
    from django.db.models import Q

    return Q(capacity_warning=True) | Q(closed_day=True) | Q(previous_deviating_flow__isnull=False)


def _section_fills(*, clinic: Clinic, today: dt.date, section: str) -> QuerySet[ScheduledFill]:
    fills = planned_fills().filter(clinic=clinic)
    if section == "overdue":
        return fills.filter(date__lt=today)
    if section == "today":
        return fills.filter(date=today)
    if section == "week":
        return fills.filter(date__gt=today, date__lte=today + dt.timedelta(days=7))
    if section == "warnings":
        window = (today - dt.timedelta(days=WARNING_WINDOW_DAYS), today + dt.timedelta(days=WARNING_WINDOW_DAYS))
        return fills.filter(_warning_condition(), date__range=window)
    raise ValueError(f"no dashboard section {section!r}")


# Most urgent first: the oldest overdue refill, then by day, each day's patients by name.
_DUE_ORDER = ("date", "plan__patient__name", "sequence")
# What a row of the due tables shows (clinic/_due_table.html): nothing else is read.
_DUE_ROW_FIELDS = (
    "date", "infusate", "kind", "cycle", "sequence", "recorded", "held", "moved_from", "closed_day",
    "capacity_warning", "flow_deviation", "measured_flow_ml_per_day", "plan", "plan__patient",
    "plan__patient__public_id", "plan__patient__name", "plan__patient__record_number",
)


def _deviating_flow(section: str):
    from django.db.models import F, FloatField, Value
    from django.db.models.functions import Cast

    # Typed, so the UNION of the dashboard's sections agrees on the column's type.
    return F("previous_deviating_flow") if section == "warnings" else Cast(Value(None), FloatField())


def due_section(*, clinic: Clinic, today: dt.date, section: str) -> QuerySet[ScheduledFill]:
    """One section of the dashboard (DUE_SECTIONS), whole, most urgent first: the planned refills that are overdue
    (S10), due today, due in the next 7 days, or that carry a warning.

    Warnings, four weeks either side of today: the phase the fill starts outlasts the pump (S11), it is stuck on
    a closed day (S7), or the fill before it measured a flow out of tolerance (S12, as ``deviating_flow``: shown
    on the visit where staff can act on it; stored on each row by the recompute as previous_deviating_flow).
    Each section is a range of the partial (clinic, date, plan) index of planned refills, or for warnings of the
    partial index of the few rows that carry one.
    """
    return (
        _section_fills(clinic=clinic, today=today, section=section)
        .annotate(deviating_flow=_deviating_flow(section))
        .only(*_DUE_ROW_FIELDS)
        .order_by(*_DUE_ORDER)
    )


def dashboard_sections(*, clinic: Clinic, today: dt.date, limit: int = DASHBOARD_ROWS) -> dict[str, dict]:
    """Every dashboard section (due_section) with its exact count and its first `limit` rows, in one query.

    {"overdue": {"count": 210, "rows": [...]}, "today": ..., "week": ..., "warnings": ...}

    One UNION ALL of a part per section: a part fetches the section's first `limit` rows by id (their own
    ORDER BY ... LIMIT, walking the section's index range in date order, so only the first day's rows are
    sorted by name) and carries the section's size as a scalar subquery that the database runs once, over the
    index alone. A section without rows counts 0.
    """
    from django.db.models import Count, IntegerField, Subquery, Value

    parts = []
    for number, name in enumerate(DUE_SECTIONS):
        fills = _section_fills(clinic=clinic, today=today, section=name)
        first = fills.order_by(*_DUE_ORDER).values("pk")[:limit]
        size = fills.order_by().values("clinic").annotate(n=Count("*")).values("n")
        parts.append(
            ScheduledFill.objects.filter(pk__in=first)
            .select_related("plan__patient")
            .only(*_DUE_ROW_FIELDS)
            .annotate(deviating_flow=_deviating_flow(name), section=Value(number),
                      section_size=Subquery(size, output_field=IntegerField()))
            .order_by()  # a part of a UNION has no order of its own (SQLite refuses one)
        )
    sections = {name: {"count": 0, "rows": []} for name in DUE_SECTIONS}
    for row in parts[0].union(*parts[1:], all=True):
        section = sections[DUE_SECTIONS[row.section]]
        section["count"] = row.section_size
        section["rows"].append(row)
    for section in sections.values():
        # The database chose these rows in _DUE_ORDER; a UNION keeps no order, so sort them again (names by code
        # point: the database's order under a C collation, nearly so under another).
        section["rows"].sort(key=lambda f: (f.date, f.plan.patient.name, f.sequence))
    return sections


def with_plans_updating(clinics: QuerySet[Clinic]) -> QuerySet[Clinic]:
    """The clinics, each with ``updating``: how many of its plans wait for the background recompute (in the same
    query, from the partial index of out-of-date plans)."""
    from django.db.models import Count, F, IntegerField, OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce

    stale = (
        TherapyPlan.objects.filter(patient__clinic=OuterRef("pk"), projected_version__lt=F("inputs_version"))
        .order_by()
        .values("patient__clinic")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return clinics.annotate(updating=Coalesce(Subquery(stale, output_field=IntegerField()), Value(0)))


def patients_with_next_fill(*, clinic: Clinic, search: str = "") -> QuerySet[Patient]:
    """The clinic's patients (optionally matching a name or record number), each with its next refill date."""
    from django.db.models import OuterRef, Subquery

    next_fill = planned_fills().filter(plan__patient=OuterRef("pk")).order_by("date")
    patients = Patient.objects.filter(clinic=clinic)
    # Every word somewhere in the name or record number, accents, case and order aside ("lopez maria").
    for term in patient_search.terms(search):
        patients = patients.filter(search_text__contains=term)
    return patients.annotate(
        next_fill_date=Subquery(next_fill.values("date")[:1]),
        next_fill_infusate=Subquery(next_fill.values("infusate")[:1]),
    ).order_by("name", "record_number")
