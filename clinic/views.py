"""The clinic staff pages: dashboard, patients, fills, holds, clinic settings.

Every staff view is for clinic staff only (@access.staff_required, or @access.staff_patient_required for a
patient's pages, whose first step, get_patient(edit=True), makes the same check) and reaches patients and clinics
through patients.access, so staff of another clinic get 404. Writes go through schedules.services.
"""

import datetime as dt
import re
import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic import forms
from patients import access, audit
from patients import services as account_services
from schedules import engine, progress, selectors, services
from schedules.models import ClinicClosure, FillKind, Hold, Infusate, Protocol, RecordedFill, ScheduledFill, TherapyPlan

PATIENTS_PER_PAGE = 25
SECTION_ROWS_PER_PAGE = 50
PREVIEW_FILLS = 8


# --- helpers -------------------------------------------------------------------------------------------


def _clinic_or_first(request, clinic_id):
    """The clinic in the URL (access-checked), or the first clinic the staff member works at; and all of them."""
    clinics = list(selectors.with_plans_updating(access.staff_clinics(request.user)).order_by("name"))
    clinic = clinics[0] if clinic_id is None else next((c for c in clinics if c.pk == clinic_id), None)
    if clinic is None:
        raise Http404(_("No such clinic."))
    timezone.activate(clinic.zone)  # times on the clinic's pages are the clinic's
    return clinic, clinics


# For access.get_patient(related=...): the patient's plan and protocol in the patient's own query.
PLAN = ("plan__protocol",)


def _plan(patient) -> TherapyPlan:
    try:
        if type(patient).plan.is_cached(patient):  # loaded with the patient (PLAN)
            plan = patient.plan
        else:
            plan = TherapyPlan.objects.select_related("protocol").get(patient=patient)
    except TherapyPlan.DoesNotExist:
        raise Http404(_("This patient has no therapy plan.")) from None
    plan.patient = patient  # already loaded (with its clinic): forms and pages read it without a query
    return plan


def _say_moves(request, result: services.RecomputeResult, *, prefix: str) -> None:
    """Tell staff what moved: "Fill 5 moved from Mon 23 Mar to Wed 25 Mar"."""
    moves = result.moves
    if not moves:
        messages.success(request, _("%(prefix)s No planned fill moved.") % {"prefix": prefix})
        return
    shown = [
        _("fill %(number)d from %(old)s to %(new)s")
        % {"number": m.sequence, "old": _short_day(m.old_date), "new": _short_day(m.new_date)}
        for m in moves[:6]
    ]
    if len(moves) > 6:
        more = len(moves) - 6
        said = ngettext(
            "%(prefix)s Moved: %(moves)s and %(more)d more.", "%(prefix)s Moved: %(moves)s and %(more)d more.", more
        ) % {"prefix": prefix, "moves": "; ".join(shown), "more": more}
    else:
        said = _("%(prefix)s Moved: %(moves)s.") % {"prefix": prefix, "moves": "; ".join(shown)}
    messages.success(request, said)


def _short_day(day) -> str:
    """"Mon 23 Mar", "lun 23 mar"."""
    return date_format(day, "SHORT_WEEKDAY_DAY_MONTH_FORMAT")


def _say_updating(request, updating: int, *, prefix: str) -> None:
    """A clinic-wide change is recomputed in the background: say how many schedules are being updated."""
    if not updating:
        messages.success(request, _("%(prefix)s No patient's schedule is affected.") % {"prefix": prefix})
        return
    said = ngettext(
        "%(prefix)s Updating the schedule of %(count)d patient in the background: their pages say so until it is "
        "done (usually within a minute); “Changed dates: who was told” then lists the moved refills, and who was "
        "emailed.",
        "%(prefix)s Updating the schedules of %(count)d patients in the background: their pages say so until it "
        "is done (usually within a minute); “Changed dates: who was told” then lists the moved refills, and who "
        "was emailed.",
        updating,
    )
    messages.success(request, said % {"prefix": prefix, "count": updating})


def _patient_url(patient) -> str:
    return reverse("staff:patient", args=[patient.public_id])


# --- dashboard -----------------------------------------------------------------------------------------


def _due_rows(fills) -> list[ScheduledFill]:
    """The rows of a due table (clinic/_due_table.html) with their links and day worked out here, once per page
    rather than once per row: a page of 40 rows spent a third of its rendering in reverse() and date formats.
    Each link is reversed once for a placeholder id, which each row's id replaces; each day and infusate is put in
    words once."""
    placeholder = str(uuid.UUID(int=0))
    patient_url = reverse("staff:patient", args=[placeholder])
    record_url = reverse("staff:fill_record", args=[placeholder])
    days = {}
    infusates = {value: str(label) for value, label in Infusate.choices}
    rows = list(fills)
    for fill in rows:
        fill.infusate_label = infusates.get(fill.infusate, fill.infusate)
        public_id = str(fill.patient_public_id)
        fill.patient_url = patient_url.replace(placeholder, public_id)
        fill.record_url = f"{record_url.replace(placeholder, public_id)}?sequence={fill.sequence}"
        if fill.date not in days:
            days[fill.date] = (capfirst(date_format(fill.date, "D")), date_format(fill.date, "DAY_MONTH_ABBR_FORMAT"))
        fill.weekday, fill.day = days[fill.date]
    return rows



@require_GET
@access.staff_required
def dashboard(request, clinic_id: int | None = None):
    """Each section (overdue, due today, next 7 days, warnings): its exact count and its most urgent rows, with a
    link to the whole section (due_section)."""
    clinic, clinics = _clinic_or_first(request, clinic_id)
    today = clinic.today()
    sections = selectors.dashboard_sections(clinic=clinic, today=today)
    for section in sections.values():
        section["rows"] = _due_rows(section["rows"])
    context = {
        "clinic": clinic,
        "clinics": clinics,
        "today": today,
        "counts": {name: section["count"] for name, section in sections.items()},
        "sections": sections,
        "updating": clinic.updating,
    }
    return render(request, "clinic/dashboard.html", context)


SECTION_TITLES = {
    "overdue": gettext_lazy("Overdue"),
    "today": gettext_lazy("Due today"),
    "week": gettext_lazy("Next 7 days"),
    "warnings": gettext_lazy("Warnings"),
}
SECTION_EMPTY = {
    "overdue": gettext_lazy("Nothing overdue."),
    "today": gettext_lazy("No refills due today."),
    "week": gettext_lazy("No refills due in the next 7 days."),
    "warnings": gettext_lazy("No warnings."),
}


@require_GET
@access.staff_required
def due_section(request, clinic_id: int, section: str):
    """One dashboard section whole, most urgent first, a page of SECTION_ROWS_PER_PAGE at a time."""
    if section not in selectors.DUE_SECTIONS:
        raise Http404(_("No such list."))
    clinic, _clinics = _clinic_or_first(request, clinic_id)
    today = clinic.today()
    fills = selectors.due_section(clinic=clinic, today=today, section=section)
    paginator = Paginator(fills, SECTION_ROWS_PER_PAGE)
    # Counted without the rows' joins to their patients, from the section's index alone (fills.count() kept them).
    paginator.count = selectors.due_section_count(clinic=clinic, today=today, section=section)
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = _due_rows(page.object_list)
    context = {
        "clinic": clinic,
        "today": today,
        "section": section,
        "title": SECTION_TITLES[section],
        "empty": SECTION_EMPTY[section],
        "page": page,
        "updating": clinic.updating,
    }
    return render(request, "clinic/due_section.html", context)


# --- patients ------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@access.staff_required
def patient_list(request, clinic_id: int):
    """Patients of the clinic. A search is POSTed and kept in the session: names never sit in a URL."""
    clinic, clinics = _clinic_or_first(request, clinic_id)
    key = f"patient-search-{clinic.pk}"
    if request.method == "POST":
        # A NUL byte is refused by PostgreSQL: drop it rather than answer 500.
        request.session[key] = request.POST.get("q", "").replace("\x00", "").strip()[:100]
        return redirect("staff:patients", clinic.pk)
    search = request.session.get(key, "")
    patients = selectors.patients_with_next_fill(clinic=clinic, search=search)
    page = Paginator(patients, PATIENTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "clinic/patient_list.html",
        {"clinic": clinic, "clinics": clinics, "page": page, "search": search, "today": clinic.today()},
    )


def _patient_form_page(request, *, clinic, patient=None, plan=None):
    """Create or edit a patient with their plan; "Preview" shows the first fills without saving anything."""
    patient_form = forms.PatientForm(request.POST or None, instance=patient, clinic=clinic, prefix="patient")
    plan_form = forms.PlanForm(request.POST or None, instance=plan, clinic=clinic, prefix="plan")
    preview = None
    # Both forms validate, so every bad field gets its message at once.
    valid = request.method == "POST" and all([patient_form.is_valid(), plan_form.is_valid()])
    if valid and forms.check_patient_and_plan(patient_form, plan_form):
        new_patient, new_plan = patient_form.instance, plan_form.instance
        new_plan.patient = new_patient
        if "preview" in request.POST:
            try:
                fills = services.plan_preview(plan=new_plan, clinic=clinic, count=PREVIEW_FILLS)
                preview = [{"fill": f, "infusate": Infusate(f.infusate.value).label} for f in fills]
            except ValueError as error:
                plan_form.add_error(None, _("This plan cannot be projected: %(error)s.") % {"error": error})
        else:
            try:
                with transaction.atomic():
                    result = services.patient_save(patient=new_patient, plan=new_plan)
            except IntegrityError:
                # Another nurse saved this record number a moment ago: say so next to the field.
                patient_form.add_error("record_number", _("Another patient of this clinic has this record number."))
                new_patient.pk = patient.pk if patient else None
            except ValidationError as error:
                plan_form.add_error(None, error.messages)
                new_patient.pk = patient.pk if patient else None
            else:
                _say_moves(request, result, prefix=_("Saved."))
                return redirect(_patient_url(new_patient))
    return render(
        request,
        "clinic/patient_form.html",
        {
            "clinic": clinic,
            "patient": patient,
            "patient_form": patient_form,
            "plan_form": plan_form,
            "preview": preview,
        },
    )


@require_http_methods(["GET", "POST"])
@access.staff_required
def patient_create(request, clinic_id: int):
    clinic, _clinics = _clinic_or_first(request, clinic_id)
    return _patient_form_page(request, clinic=clinic)


@require_http_methods(["GET", "POST"])
@access.staff_patient_required
def patient_edit(request, public_id):
    patient = access.get_patient(request, public_id, edit=True)
    return _patient_form_page(request, clinic=patient.clinic, patient=patient, plan=_plan(patient))


def _corrections(plan: TherapyPlan) -> list[dict]:
    """Each correction of a recorded fill: when, who, and which values changed (old -> new), newest first.

    One query: the history rows of every fill of the plan, compared in memory (diff_against would query per row).
    """
    fields = ["date", "infusate", "appointment_time", "volume_in_ml", "volume_returned_ml", "note"]
    history = RecordedFill.history.filter(plan_id=plan.pk).select_related("history_user").order_by("id", "history_id")
    corrections = []
    previous = None
    for row in history:
        if previous is not None and previous.id == row.id and row.history_type == "~":
            changes = [
                (RecordedFill._meta.get_field(name).verbose_name, getattr(previous, name), getattr(row, name))
                for name in fields
                if getattr(previous, name) != getattr(row, name)
            ]
            if changes:
                corrections.append(
                    {"when": row.history_date, "order": row.history_id, "who": row.history_user,
                     "changes": changes, "fill_date": row.date}
                )
        previous = row
    return sorted(corrections, key=lambda c: (c["when"], c["order"]), reverse=True)


@require_GET
@access.staff_patient_required
def patient_detail(request, public_id):
    patient = access.get_patient(request, public_id, edit=True)
    plan = _plan(patient)
    today = patient.clinic.today()
    fills = selectors.patient_fills(patient)
    recorded = {f.date: f for f in plan.recorded_fills.select_related("recorded_by")}
    holds = services.holds_by_sequence(fills, plan.holds.all())
    rows = []
    for fill in fills:
        rows.append(
            {
                "fill": fill,
                "record": recorded.get(fill.date) if fill.recorded else None,
                "hold": holds.get(fill.sequence),
                "can_hold": fill.kind == FillKind.CHEMO and not fill.recorded and fill.date >= today,
            }
        )
    next_fill = next((f for f in fills if not f.recorded and f.kind != FillKind.IMPLANT), None)
    return render(
        request,
        "clinic/patient_detail.html",
        {
            "patient": patient,
            "clinic": patient.clinic,
            "plan": plan,
            "rows": rows,
            "next_fill": next_fill,
            "late": None if plan.status == TherapyPlan.Status.ENDED else progress.overdue(fills, today),
            "today": today,
            "corrections": _corrections(plan),
            "grants": patient.caregiver_grants.active().select_related("user"),
            "email_form": forms.AccountEmailForm(initial={"email": patient.email}),
            "caregiver_form": forms.AccountEmailForm(prefix="caregiver"),
        },
    )


# --- fills ---------------------------------------------------------------------------------------------


def _expected_fill(plan, sequence_param) -> ScheduledFill | None:
    """The planned fill a new record is for: the one asked for (from the dashboard) or the patient's next."""
    planned = ScheduledFill.objects.filter(plan=plan, active=True, recorded=False).exclude(kind=FillKind.IMPLANT)
    if sequence_param and re.fullmatch(r"[0-9]{1,6}", str(sequence_param)):
        asked = planned.filter(sequence=int(sequence_param)).first()
        if asked is not None:
            return asked
    return planned.order_by("sequence").first()


ALREADY_RECORDED_MESSAGE = gettext_lazy("This refill was already recorded: nothing was added.")


@require_http_methods(["GET", "POST"])
@access.staff_patient_required  # the patient's lookup checks staff membership
def fill_record(request, public_id):
    if request.method != "POST":
        return _fill_record(request, public_id)
    # One transaction for the whole submit: the audit row of this view and the record commit together, one
    # flush of the database's log instead of two. The service runs in it without a savepoint (two statements
    # fewer per fill): a record it refuses (a double submit, a colleague a moment earlier) rolls the whole
    # transaction back, and the refused submit is then audited on its own.
    try:
        with transaction.atomic():
            return _fill_record(request, public_id)
    except _RecordRefused as refused:
        audit.record_view(request, refused.patient)
        # The database kept exactly one record.
        messages.warning(request, ALREADY_RECORDED_MESSAGE)
        return redirect(_patient_url(refused.patient))


class _RecordRefused(Exception):
    def __init__(self, patient):
        self.patient = patient


def _fill_record(request, public_id):
    patient = access.get_patient(request, public_id, edit=True, related=PLAN)
    plan = _plan(patient)
    today = patient.clinic.today()
    expected = _expected_fill(plan, request.POST.get("sequence") or request.GET.get("sequence"))
    form = forms.FillForm(request.POST or None, plan=plan, today=today, expected=expected)
    if request.method == "POST":
        if form.is_valid():
            fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
            try:
                record, result = services.fill_record_expected(
                    plan=plan, sequence=form.cleaned_data.get("sequence"), by=request.user, savepoint=False, **fields
                )
            except (services.FillAlreadyRecorded, IntegrityError, ValidationError) as error:
                raise _RecordRefused(patient) from error  # out of fill_record's transaction, which rolls back
            held = expected is not None and expected.is_chemo and not engine.Infusate(record.infusate).is_chemo
            prefix = _("Fill recorded as a held cycle (chemo not given).") if held else _("Fill recorded.")
            _say_moves(request, result, prefix=prefix)
            return redirect(_patient_url(patient))
        if form.was_already_recorded():
            messages.warning(request, ALREADY_RECORDED_MESSAGE)
            return redirect(_patient_url(patient))
    return render(
        request,
        "clinic/fill_form.html",
        {
            "patient": patient, "clinic": patient.clinic, "form": form, "expected": expected, "plan": plan,
            "today": today,
        },
    )


@require_http_methods(["GET", "POST"])
@access.staff_patient_required
def fill_correct(request, public_id, fill_id: int):
    patient = access.get_patient(request, public_id, edit=True)
    plan = _plan(patient)
    record = get_object_or_404(RecordedFill, pk=fill_id, plan=plan)
    form = forms.FillForm(request.POST or None, instance=record, plan=plan, today=patient.clinic.today())
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in form.Meta.fields}
        if not changes:
            messages.info(request, _("Nothing changed."))
            return redirect(_patient_url(patient))
        try:
            with transaction.atomic():
                # The history row's user comes from the request (simple_history's HistoryRequestMiddleware).
                result = services.fill_correct(fill=RecordedFill.objects.get(pk=record.pk), by=request.user, **changes)
        except (IntegrityError, ValidationError):
            form.add_error("date", _("A fill is already recorded for this patient on this date."))
        else:
            _say_moves(request, result, prefix=_("Correction saved; the old values are kept in the history."))
            return redirect(_patient_url(patient))
    return render(
        request,
        "clinic/fill_form.html",
        {"patient": patient, "clinic": patient.clinic, "form": form, "record": record, "plan": plan},
    )


# --- holds and the end of therapy ----------------------------------------------------------------------


@require_POST
@access.staff_patient_required
def hold_add(request, public_id):
    patient = access.get_patient(request, public_id, edit=True)
    plan = _plan(patient)
    form = forms.HoldForm(request.POST)
    if not form.is_valid():
        missing_reason = "reason" in form.errors
        said = _("Give a reason for the hold.") if missing_reason else _("Choose a chemo fill to hold.")
        messages.error(request, said)
        return redirect(_patient_url(patient))
    sequence = form.cleaned_data["sequence"]
    fill = ScheduledFill.objects.filter(
        plan=plan, sequence=sequence, active=True, recorded=False, kind=FillKind.CHEMO,
        date__gte=patient.clinic.today(),
    ).first()
    if fill is None:
        messages.error(request, _("Only a future chemo fill can be held; the schedule may have changed, look again."))
        return redirect(_patient_url(patient))
    try:
        with transaction.atomic():
            _hold, result = services.hold_add(plan=plan, sequence=sequence, reason=form.cleaned_data["reason"],
                                          by=request.user)
    except IntegrityError:
        messages.warning(request, _("This fill is already held."))
        return redirect(_patient_url(patient))
    except ValidationError as error:
        messages.warning(request, " ".join(error.messages))
        return redirect(_patient_url(patient))
    _say_moves(request, result, prefix=_("Chemo of %(day)s held.") % {"day": _short_day(fill.date)})
    return redirect(_patient_url(patient))


@require_POST
@access.staff_patient_required
def hold_remove(request, public_id, hold_id: int):
    patient = access.get_patient(request, public_id, edit=True)
    hold = get_object_or_404(Hold, pk=hold_id, plan__patient=patient)
    result = services.hold_remove(hold=hold)
    _say_moves(request, result, prefix=_("Hold undone: chemo is planned again."))
    return redirect(_patient_url(patient))


@require_http_methods(["GET", "POST"])
@access.staff_patient_required
def therapy_end(request, public_id):
    patient = access.get_patient(request, public_id, edit=True)
    plan = _plan(patient)
    if plan.status == TherapyPlan.Status.ENDED:
        messages.info(request, _("This therapy is already over."))
        return redirect(_patient_url(patient))
    form = forms.EndTherapyForm(request.POST or None, plan=plan, today=patient.clinic.today())
    if request.method == "POST" and form.is_valid():
        end = form.cleaned_data["end_date"]
        result = services.therapy_end(
            plan=plan, end_date=end, reason=form.cleaned_data["reason"], note=form.cleaned_data["note"]
        )
        if form.cleaned_data["kind"] == form.CHEMO:
            said = _("Chemotherapy ended on %(date)s. The pump stays in: maintenance refills continue.") % {
                "date": progress.short_date(end)
            }
            messages.success(request, said)
        else:
            count = result.cancelled
            said = ngettext(
                "Therapy over. %(count)d planned fill cancelled.",
                "Therapy over. %(count)d planned fills cancelled.",
                count,
            ) % {"count": count}
            messages.success(request, said)
        return redirect(_patient_url(patient))
    context = {"patient": patient, "clinic": patient.clinic, "plan": plan, "form": form}
    return render(request, "clinic/therapy_end.html", context)


@require_POST
@access.staff_patient_required
def therapy_reopen(request, public_id):
    patient = access.get_patient(request, public_id, edit=True)
    plan = _plan(patient)
    if plan.status == TherapyPlan.Status.ENDED:
        services.therapy_reopen(plan=plan)
        messages.success(request, _("Therapy reopened: fills are planned again."))
    elif plan.chemo_ended:
        services.therapy_reopen(plan=plan)
        messages.success(request, _("Chemotherapy resumed: chemo fills are planned again."))
    else:
        messages.info(request, _("This therapy is active."))
    return redirect(_patient_url(patient))


# --- sign-ins for patients and caregivers --------------------------------------------------------------


def _send_link(request, user, template: str) -> None:
    account_services.set_password_email_send(user=user, base_url=request.build_absolute_uri("/"), template=template)


@require_POST
@access.staff_patient_required
def patient_login_create(request, public_id):
    patient = access.get_patient(request, public_id, edit=True)
    form = forms.AccountEmailForm(request.POST)
    if patient.user_id:
        messages.info(request, _("This patient already has a sign-in."))
    elif not form.is_valid():
        messages.error(request, _("Enter a valid email address for the patient's sign-in."))
    else:
        try:
            user = account_services.patient_login_create(
                patient=patient, email=form.cleaned_data["email"], language=form.cleaned_data["language"]
            )
        except account_services.AccountRefused as error:
            messages.error(request, str(error))
        else:
            _send_link(request, user, "staff_patient_invite")
            said = _("Sign-in created; a set-your-password link was emailed to %(email)s.") % {"email": user.email}
            messages.success(request, said)
    return redirect(_patient_url(patient) + "#access")


@require_POST
@access.staff_patient_required
def patient_login_revoke(request, public_id):
    patient = access.get_patient(request, public_id, edit=True)
    account_services.patient_login_revoke(patient=patient)
    messages.success(request, _("The patient's sign-in was removed."))
    return redirect(_patient_url(patient) + "#access")


@require_POST
@access.staff_patient_required
def caregiver_grant(request, public_id):
    patient = access.get_patient(request, public_id, edit=True)
    form = forms.AccountEmailForm(request.POST, prefix="caregiver")
    if not form.is_valid():
        messages.error(request, _("Enter a valid email address for the caregiver."))
        return redirect(_patient_url(patient) + "#access")
    try:
        grant, created = account_services.caregiver_grant(
            patient=patient, email=form.cleaned_data["email"], by=request.user, language=form.cleaned_data["language"]
        )
    except account_services.AccountRefused as error:
        messages.error(request, str(error))
        return redirect(_patient_url(patient) + "#access")
    if created:
        _send_link(request, grant.user, "staff_caregiver_invite")
        messages.success(
            request,
            _("Caregiver access granted; a set-your-password link was emailed to %(email)s.")
            % {"email": grant.user.email},
        )
    else:
        messages.info(request, _("This caregiver already has access."))
    return redirect(_patient_url(patient) + "#access")


@require_POST
@access.staff_patient_required
def caregiver_revoke(request, public_id, grant_id: int):
    patient = access.get_patient(request, public_id, edit=True)
    grant = get_object_or_404(patient.caregiver_grants.active(), pk=grant_id)
    account_services.caregiver_revoke(grant=grant)
    messages.success(request, _("Access of %(email)s revoked.") % {"email": grant.user.email or grant.user.username})
    return redirect(_patient_url(patient) + "#access")


# --- clinic settings -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@access.staff_required
def clinic_settings(request, clinic_id: int):
    clinic, clinics = _clinic_or_first(request, clinic_id)
    today = clinic.today()
    form = forms.ClinicSettingsForm(request.POST or None, instance=clinic, prefix="clinic")
    if request.method == "POST" and form.is_valid():
        form.save(commit=False)
        updating = services.clinic_settings_save(clinic=clinic)
        _say_updating(request, updating, prefix=_("Settings saved."))
        return redirect("staff:clinic_settings", clinic.pk)
    return render(
        request,
        "clinic/clinic_settings.html",
        {
            "clinic": clinic,
            "clinics": clinics,
            "form": form,
            "closures_form": forms.ClosuresForm(today=today, prefix="closures"),
            "holidays_form": forms.HolidaysForm(today=today, prefix="holidays"),
            "closures": clinic.closures.filter(date__gte=today - dt.timedelta(days=30)),
            "protocols": clinic.protocols.order_by("name"),
            "updating": clinic.updating,
        },
    )


@require_POST
@access.staff_required
def closures_add(request, clinic_id: int):
    clinic, clinics = _clinic_or_first(request, clinic_id)
    today = clinic.today()
    if "holidays-year" in request.POST:
        holidays_form = forms.HolidaysForm(request.POST, today=today, prefix="holidays")
        closures_form = forms.ClosuresForm(today=today, prefix="closures")
        days = holidays_form.holidays() if holidays_form.is_valid() else None
    else:
        holidays_form = forms.HolidaysForm(today=today, prefix="holidays")
        closures_form = forms.ClosuresForm(request.POST, today=today, prefix="closures")
        days = closures_form.cleaned_data["lines"] if closures_form.is_valid() else None
    if days is None:
        # The form sits far down the page: say so at the top, where the page opens.
        messages.error(request, _("No closure was added: see the message under “Closures” below."))
        return render(
            request,
            "clinic/clinic_settings.html",
            {
                "clinic": clinic,
                "clinics": clinics,
                "form": forms.ClinicSettingsForm(instance=clinic, prefix="clinic"),
                "closures_form": closures_form,
                "holidays_form": holidays_form,
                "closures": clinic.closures.filter(date__gte=today - dt.timedelta(days=30)),
                "protocols": clinic.protocols.order_by("name"),
            },
            status=400,
        )
    back = redirect(reverse("staff:clinic_settings", args=[clinic.pk]) + "#closures")
    try:
        added, updating = services.closures_add(clinic=clinic, days=days, by=request.user)
    except services.ClosuresChanged:
        messages.error(request, _("Someone else added closures at the same moment, so none of yours were added. "
                                  "Check the list below, then add the dates that are still missing."))
        return back
    already = len(days) - added
    prefix = ngettext("%(count)d closure date added.", "%(count)d closure dates added.", added) % {"count": added}
    if already:
        prefix += " " + ngettext("%(count)d was already closed.", "%(count)d were already closed.", already) % {
            "count": already
        }
    _say_updating(request, updating, prefix=prefix)
    return back


@require_POST
@access.staff_required
def closure_remove(request, clinic_id: int, closure_id: int):
    clinic, _clinics = _clinic_or_first(request, clinic_id)
    closure = get_object_or_404(ClinicClosure, pk=closure_id, clinic=clinic)
    updating = services.closure_remove(closure=closure)
    day = date_format(closure.date, "SHORT_WEEKDAY_DAY_MONTH_YEAR_FORMAT")
    _say_updating(request, updating, prefix=_("Closure of %(day)s removed.") % {"day": day})
    return redirect(reverse("staff:clinic_settings", args=[clinic.pk]) + "#closures")


@require_http_methods(["GET", "POST"])
@access.staff_required
def protocol_edit(request, clinic_id: int, protocol_id: int | None = None):
    clinic, _clinics = _clinic_or_first(request, clinic_id)
    protocol = get_object_or_404(Protocol, pk=protocol_id, clinic=clinic) if protocol_id else None
    form = forms.ProtocolForm(request.POST or None, instance=protocol, clinic=clinic)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                updating = services.protocol_save(protocol=form.instance)
        except (IntegrityError, ValidationError):
            form.add_error("name", _("The clinic already has a protocol with this name."))
        else:
            _say_updating(request, updating, prefix=_("Protocol “%(name)s” saved.") % {"name": form.instance.name})
            return redirect(reverse("staff:clinic_settings", args=[clinic.pk]) + "#protocols")
    return render(request, "clinic/protocol_form.html", {"clinic": clinic, "form": form, "protocol": protocol})
