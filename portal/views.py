"""Patient and caregiver pages: the next refill, the calendar, the whole therapy, a printable schedule.

Every page reads the stored projection (selectors.patient_fills: one query) plus the plan and, for a
month, that month's closures: a constant number of queries whatever the number of fills.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.db import models
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_safe

from patients import access, audit
from portal import month_calendar, timeline
from schedules import progress, selectors
from schedules.models import ClinicClosure, TherapyPlan

UPCOMING_COUNT = 4
# Months outside this range are typing errors, not therapy: 404 rather than a grid of nothing.
FIRST_YEAR, LAST_YEAR = 2000, 2200


@login_required
def home(request):
    """`/`: staff go to their dashboard; a patient or caregiver sees the one patient they follow, or a choice."""
    if access.is_clinic_staff(request.user):
        return redirect("staff:dashboard")
    followed = list(access.followed_patients(request.user).select_related("clinic").order_by("name"))
    if len(followed) == 1:
        # A caregiver's look at `/` is a view of the patient's record like any other: audited.
        audit.record_view(request, followed[0])
        return _home(request, followed[0])
    return render(request, "portal/choose_patient.html", {"followed": followed})


def _therapy(patient):
    """The patient's plan (with its protocol) and all their fills: two queries."""
    plan = TherapyPlan.objects.select_related("protocol").filter(patient=patient).first()
    fills = selectors.patient_fills(patient) if plan is not None else []
    return plan, fills


def _cycles_total(plan: TherapyPlan | None) -> int | None:
    if plan is None or plan.open_ended:
        return None
    return plan.cycle_count or plan.protocol.cycle_count


def _base_context(request, patient, plan, fills, today) -> dict:
    is_self = patient.user_id is not None and patient.user_id == request.user.pk
    return {
        "patient": patient,
        "clinic": patient.clinic,
        "plan": plan,
        "fills": fills,
        "today": today,
        "is_self": is_self,
        # Templates say "Your next refill" or "Alice's next refill" as whole translated sentences.
        "first_name": patient.name.split()[0],
        "tel": progress.tel_href(patient.clinic.phone),
    }


def _home(request, patient):
    today = patient.clinic.today()
    plan, fills = _therapy(patient)
    context = _base_context(request, patient, plan, fills, today)
    end_date = plan.end_date if plan is not None else None
    # Once the therapy is over nothing is due, not even a refill that was never recorded before the end.
    nxt = None if end_date is not None and today > end_date else progress.next_fill(fills, today)
    context.update(
        next_fill=nxt,
        next_words=progress.what_goes_in(nxt) if nxt else "",
        next_when=progress.relative_day(nxt.date, today) if nxt else "",
        overdue=nxt is not None and progress.is_overdue(nxt, today),
        where=progress.where(fills, today, cycles_total=_cycles_total(plan), end_date=end_date),
        upcoming=[(f, progress.what_goes_in(f)) for f in progress.upcoming(fills, today, UPCOMING_COUNT)],
        given=[(f, progress.what_goes_in(f)) for f in progress.recorded(fills)],
        surgery_ahead=bool(fills) and fills[0].date >= today,
    )
    context["offline_page"] = context["is_self"]
    response = render(request, "portal/home.html", context)
    if context["is_self"]:
        # The service worker keeps only pages marked so: the patient's own next refill, never anyone else's.
        response["X-Offline-Page"] = "own"
    return response


@require_safe
@login_required
def patient_home(request, public_id):
    return _home(request, access.get_patient(request, public_id))


@require_safe
@login_required
def therapy(request, public_id):
    patient = access.get_patient(request, public_id)
    today = patient.clinic.today()
    plan, fills = _therapy(patient)
    context = _base_context(request, patient, plan, fills, today)
    end_date = plan.end_date if plan is not None else None
    context.update(
        timeline=timeline.build(fills, today=today, end_date=end_date, cycles_total=_cycles_total(plan)),
        where=progress.where(fills, today, cycles_total=_cycles_total(plan), end_date=end_date),
    )
    return render(request, "portal/therapy.html", context)


@require_safe
@login_required
def calendar_now(request, public_id):
    patient = access.get_patient(request, public_id)
    today = patient.clinic.today()
    return redirect("portal:calendar_month", public_id=patient.public_id, year=today.year, month=today.month)


@require_safe
@login_required
def calendar_month(request, public_id, year: int, month: int):
    patient = access.get_patient(request, public_id)
    if not (1 <= month <= 12 and FIRST_YEAR <= year <= LAST_YEAR):
        raise Http404(_("No such month."))
    today = patient.clinic.today()
    plan, fills = _therapy(patient)
    first, last = month_calendar.month_bounds(year, month)
    # The grid shows a week either side of the month: closures there count too.
    closures = {
        c.date: c.name
        for c in ClinicClosure.objects.filter(
            clinic=patient.clinic, date__range=(first - dt.timedelta(days=7), last + dt.timedelta(days=7))
        )
    }
    grid = month_calendar.month_grid(
        year,
        month,
        fills=fills,
        today=today,
        closures=closures,
        end_date=plan.end_date if plan is not None else None,
    )
    context = _base_context(request, patient, plan, fills, today)
    prev_year, prev_month = month_calendar.shift_month(year, month, -1)
    next_year, next_month = month_calendar.shift_month(year, month, 1)
    context.update(
        month=grid,
        month_fills=[(f, progress.what_goes_in(f) if f.kind != "implant" else _("pump surgery")) for f in grid.fills],
        prev=(prev_year, prev_month) if prev_year >= FIRST_YEAR else None,
        next=(next_year, next_month) if next_year <= LAST_YEAR else None,
        is_current=(year, month) == (today.year, today.month),
        closures_in_month=sorted((d, n) for d, n in closures.items() if first <= d <= last),
    )
    return render(request, "portal/calendar_month.html", context)


@require_safe
@login_required
def print_schedule(request, public_id):
    patient = access.get_patient(request, public_id)
    today = patient.clinic.today()
    plan, fills = _therapy(patient)
    context = _base_context(request, patient, plan, fills, today)
    context["rows"] = [(f, _print_words(f), _print_status(f, today)) for f in fills]
    return render(request, "portal/print.html", context)


def _print_words(fill) -> str:
    if fill.kind == "implant":
        return _("Pump surgery: %(name)s") % {"name": progress.infusate_name(fill.infusate)}
    return progress.what_goes_in(fill)


class PrintStatus(models.TextChoices):
    """A printed row's status: the value names its css class, the label is what the sheet says."""

    GIVEN = "given", pgettext_lazy("fill", "given")
    OVERDUE = "overdue", gettext_lazy("overdue")
    SURGERY = "surgery", gettext_lazy("surgery")
    PLANNED = "planned", gettext_lazy("planned")


def _print_status(fill, today: dt.date) -> PrintStatus:
    if fill.recorded:
        return PrintStatus.GIVEN
    if progress.is_overdue(fill, today):
        return PrintStatus.OVERDUE
    if fill.kind == "implant":
        return PrintStatus.SURGERY
    return PrintStatus.PLANNED


@require_safe
def living(request):
    return render(request, "portal/living.html")
