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
    """
    return (
        ScheduledFill.objects.filter(active=True, recorded=False, plan__status=TherapyPlan.Status.ACTIVE)
        .exclude(kind=FillKind.IMPLANT)
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

DASHBOARD_ROWS = 100  # a section lists at most this many rows; the counts at the top say how many there are
WARNING_WINDOW_DAYS = 28


def dashboard_counts(*, clinic: Clinic, today: dt.date) -> dict[str, int]:
    """How many refills are overdue, due today and due in the next 7 days, in one aggregate query."""
    from django.db.models import Count, Q

    week_end = today + dt.timedelta(days=7)
    return planned_fills().filter(clinic=clinic, date__lte=week_end).aggregate(
        overdue=Count("pk", filter=Q(date__lt=today)),
        today=Count("pk", filter=Q(date=today)),
        week=Count("pk", filter=Q(date__gt=today)),
    )


def dashboard_due(*, clinic: Clinic, today: dt.date, limit: int = DASHBOARD_ROWS) -> dict:
    """The dashboard's three lists (overdue, due today, next 7 days) and their full counts, in one query.

    Each planned refill up to a week ahead is put in its section and numbered within it (a window function),
    and only the first `limit` of each section are fetched; the section's size comes along as another
    window, so the counts need no query of their own. An empty section has no rows and counts 0.
    (The warnings are a query of their own, over a partial index of the few rows that carry one.)
    """
    from django.db.models import Case, Count, F, IntegerField, Value, When, Window
    from django.db.models.functions import RowNumber

    sections = ("overdue", "today", "week")
    section = Case(
        When(date__lt=today, then=Value(0)), When(date=today, then=Value(1)), default=Value(2),
        output_field=IntegerField(),
    )
    rows = (
        planned_fills()
        .filter(clinic=clinic, date__lte=today + dt.timedelta(days=7))
        .annotate(
            section=section,
            position=Window(RowNumber(), partition_by=[section],
                            order_by=[F("date"), F("plan__patient__name"), F("sequence")]),
            section_size=Window(Count("pk"), partition_by=[section]),
        )
        .filter(position__lte=limit)
        .order_by("date", "plan__patient__name", "sequence")
    )
    lists: dict[str, list[ScheduledFill]] = {name: [] for name in sections}
    counts = dict.fromkeys(sections, 0)
    for row in rows:
        name = sections[row.section]
        lists[name].append(row)
        counts[name] = row.section_size
    return {"counts": counts, **lists}


def _warning_condition():
    from django.db.models import Q

    return Q(capacity_warning=True) | Q(closed_day=True) | Q(previous_deviating_flow__isnull=False)


def dashboard_warnings(*, clinic: Clinic, today: dt.date, limit: int = DASHBOARD_ROWS) -> list[ScheduledFill]:
    """Planned refills staff must look at, four weeks either side of today: the phase it starts outlasts the
    pump (S11), it is stuck on a closed day (S7), or the fill before it measured a flow out of tolerance (S12,
    as ``deviating_flow``: shown on the visit where staff can act on it). The dashboard gets them with its
    other lists (dashboard_due); this is the same list alone.

    One query over the partial (clinic, date) index of planned fills that carry a warning; the deviating flow
    of the fill before is stored on each row by the recompute (previous_deviating_flow).
    """
    from django.db.models import F

    window = (today - dt.timedelta(days=WARNING_WINDOW_DAYS), today + dt.timedelta(days=WARNING_WINDOW_DAYS))
    return list(
        planned_fills()
        .filter(clinic=clinic, date__range=window)
        .filter(_warning_condition())
        .annotate(deviating_flow=F("previous_deviating_flow"))
        .order_by("date", "plan__patient__name", F("sequence"))[:limit]
    )


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
