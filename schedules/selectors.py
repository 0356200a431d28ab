"""Reads over the stored projection: the clinic-wide and per-patient questions, in constant queries."""

import datetime as dt

from django.db.models import QuerySet

from patients.models import Clinic, Patient
from schedules.models import FillKind, ScheduledFill


def planned_fills() -> QuerySet[ScheduledFill]:
    """Refills still to be given (not recorded, not cancelled), with their patient, for listing.

    The implant fill is the surgery itself, a fact: never "due" at the pump clinic.
    """
    return (
        ScheduledFill.objects.filter(active=True, recorded=False)
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


def patient_fills(patient: Patient) -> list[ScheduledFill]:
    """All fills of a patient's therapy, recorded and planned, in order (one query)."""
    return list(
        ScheduledFill.objects.filter(plan__patient=patient, active=True).order_by("sequence")
    )
