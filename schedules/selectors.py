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
    return ScheduledFill.objects.filter(_planned()).select_related("plan__patient")


def _planned():
    """planned_fills()'s condition, whole (each filter() call copies the query: the dashboard builds many)."""
    from django.db.models import Q

    ended = TherapyPlan.objects.exclude(status=TherapyPlan.Status.ACTIVE)
    return Q(active=True, recorded=False) & ~Q(kind=FillKind.IMPLANT) & ~Q(plan__in=ended)


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


def _section_condition(*, today: dt.date, section: str):
    from django.db.models import Q

    if section == "overdue":
        return Q(date__lt=today)
    if section == "today":
        return Q(date=today)
    if section == "week":
        return Q(date__gt=today, date__lte=today + dt.timedelta(days=7))
    if section == "warnings":
        window = (today - dt.timedelta(days=WARNING_WINDOW_DAYS), today + dt.timedelta(days=WARNING_WINDOW_DAYS))
        return _warning_condition() & Q(date__range=window)
    raise ValueError(f"no dashboard section {section!r}")


def _section_fills(*, clinic: Clinic, today: dt.date, section: str) -> QuerySet[ScheduledFill]:
    from django.db.models import Q

    condition = _planned() & Q(clinic=clinic) & _section_condition(today=today, section=section)
    return ScheduledFill.objects.filter(condition)


# Most urgent first: the oldest overdue refill, then by day, each day's patients by name.
_DUE_ORDER = ("date", "plan__patient__name", "sequence")
# What a row of the due tables shows (clinic/_due_table.html): nothing else is read.
_DUE_ROW_FIELDS = (
    "date", "infusate", "kind", "cycle", "sequence", "recorded", "held", "moved_from", "closed_day",
    "capacity_warning", "flow_deviation", "measured_flow_ml_per_day", "previous_deviating_flow",
)


def _deviating_flow(section: str):
    from django.db.models import F, FloatField, Value
    from django.db.models.functions import Cast

    # Typed, so the UNION of the dashboard's sections agrees on the column's type.
    return F("previous_deviating_flow") if section == "warnings" else Cast(Value(None), FloatField())


def due_section(*, clinic: Clinic, today: dt.date, section: str) -> QuerySet[ScheduledFill]:
    """One section of the dashboard (DUE_SECTIONS), whole, most urgent first: the planned refills that are overdue
    (S10), due today, due in the next 7 days, or that carry a warning. Each row has the patient's name, public id
    and record number as patient_name, patient_public_id and patient_record_number (as dashboard_sections' rows).

    Warnings, four weeks either side of today: the phase the fill starts outlasts the pump (S11), it is stuck on
    a closed day (S7), or the fill before it measured a flow out of tolerance (S12, as ``deviating_flow``: shown
    on the visit where staff can act on it; stored on each row by the recompute as previous_deviating_flow).
    Each section is a range of the partial (clinic, date, plan) index of planned refills, or for warnings of the
    partial index of the few rows that carry one.
    """
    from django.db.models import F

    return (
        _section_fills(clinic=clinic, today=today, section=section)
        .annotate(
            deviating_flow=_deviating_flow(section),
            patient_name=F("plan__patient__name"),
            patient_public_id=F("plan__patient__public_id"),
            patient_record_number=F("plan__patient__record_number"),
        )
        .only(*_DUE_ROW_FIELDS)
        .order_by(*_DUE_ORDER)
    )


def due_section_count(*, clinic: Clinic, today: dt.date, section: str) -> int:
    """How many rows due_section has, counted from the section's index alone."""
    return _section_fills(clinic=clinic, today=today, section=section).count()


# dashboard_sections' SQL, in the words of planned_fills() and _section_condition() (a test holds them equal).
# Written out because building the same query with the ORM, four sections of three nested queries, cost the
# dashboard 15-30 ms of CPU per request on a busy machine, more than everything else on the page together.
_PLANNED_SQL = (
    'f."active" AND NOT f."recorded" AND NOT (f."kind" = \'implant\') AND f."clinic_id" = %(clinic)s'
    ' AND f."plan_id" NOT IN (SELECT "id" FROM "schedules_therapyplan" WHERE NOT ("status" = \'active\'))'
)
_SECTION_SQL = {
    "overdue": 'f."date" < %(today)s',
    "today": 'f."date" = %(today)s',
    "week": 'f."date" > %(today)s AND f."date" <= %(week_end)s',
    "warnings": '(f."capacity_warning" OR f."closed_day" OR f."previous_deviating_flow" IS NOT NULL)'
                ' AND f."date" BETWEEN %(warnings_from)s AND %(warnings_to)s',
}
_SECTION_PART_SQL = """
    SELECT {number} AS "section", first."id",
           (SELECT COUNT(*) FROM "schedules_scheduledfill" f WHERE {planned} AND {condition}) AS "section_size"
    FROM (SELECT f."id" FROM "schedules_scheduledfill" f
          INNER JOIN "schedules_therapyplan" p ON p."id" = f."plan_id"
          INNER JOIN "patients_patient" pa ON pa."id" = p."patient_id"
          WHERE {planned} AND {condition}
          ORDER BY f."date", pa."name", f."sequence" LIMIT %(limit)s) first"""
_DASHBOARD_SQL = """
SELECT f."id", f."date", f."infusate", f."kind", f."cycle", f."sequence", f."recorded", f."held", f."moved_from",
       f."closed_day", f."capacity_warning", f."flow_deviation", f."measured_flow_ml_per_day",
       f."previous_deviating_flow", chosen."section", chosen."section_size",
       pa."name" AS "patient_name", pa."public_id" AS "patient_public_id",
       pa."record_number" AS "patient_record_number"
FROM ({parts}) chosen
INNER JOIN "schedules_scheduledfill" f ON f."id" = chosen."id"
INNER JOIN "schedules_therapyplan" p ON p."id" = f."plan_id"
INNER JOIN "patients_patient" pa ON pa."id" = p."patient_id"
""".format(parts="\n    UNION ALL".join(
    _SECTION_PART_SQL.format(number=number, planned=_PLANNED_SQL, condition=_SECTION_SQL[name])
    for number, name in enumerate(DUE_SECTIONS)
))


def dashboard_sections(*, clinic: Clinic, today: dt.date, limit: int = DASHBOARD_ROWS) -> dict[str, dict]:
    """Every dashboard section (due_section) with its exact count and its first `limit` rows, in one query.

    {"overdue": {"count": 210, "rows": [...]}, "today": ..., "week": ..., "warnings": ...}

    One UNION ALL of a part per section: a part picks the section's first `limit` rows by id (their own
    ORDER BY ... LIMIT, walking the section's index range in date order, so only the first day's rows are
    sorted by name) and carries the section's size as a scalar subquery that the database runs once, over the
    index alone. A section without rows counts 0. The rows are ScheduledFills with the fields due_section's
    have (the others deferred) and the same patient_name, patient_public_id and patient_record_number.
    """
    import uuid

    params = {
        "clinic": clinic.pk, "today": today, "week_end": today + dt.timedelta(days=7), "limit": limit,
        "warnings_from": today - dt.timedelta(days=WARNING_WINDOW_DAYS),
        "warnings_to": today + dt.timedelta(days=WARNING_WINDOW_DAYS),
    }
    sections = {name: {"count": 0, "rows": []} for name in DUE_SECTIONS}
    for row in ScheduledFill.objects.raw(_DASHBOARD_SQL, params):
        name = DUE_SECTIONS[row.section]
        row.deviating_flow = row.previous_deviating_flow if name == "warnings" else None
        # Extra columns come as the database returns them: SQLite keeps a UUID as 32 hex digits.
        row.patient_public_id = uuid.UUID(str(row.patient_public_id))
        sections[name]["count"] = row.section_size
        sections[name]["rows"].append(row)
    for section in sections.values():
        # The database chose these rows in _DUE_ORDER; a UNION keeps no order, so sort them again (names by code
        # point: the database's order under a C collation, nearly so under another).
        section["rows"].sort(key=lambda f: (f.date, f.patient_name, f.sequence))
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
