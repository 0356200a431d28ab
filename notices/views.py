"""Notices pages: a follower's email preferences, the one-click unsubscribe, and what staff see."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from notices import selectors, services
from notices.delivery import UNSUBSCRIBE_SALT
from notices.followers import follower as find_follower
from notices.forms import PreferenceForm
from notices.models import PATIENT_KEY, Preference, caregiver_key
from patients import access


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request, public_id):
    patient = access.get_patient(request, public_id)
    key = PATIENT_KEY if patient.user_id == request.user.pk else caregiver_key(request.user.pk)
    follower = find_follower(patient, key)
    if follower is None:  # staff look at who gets what on their own page
        return redirect("notices:patient", public_id=patient.public_id)
    own = follower.preference if follower.is_patient else find_follower(patient, PATIENT_KEY).preference
    form_options = {"is_patient": follower.is_patient, "details_allowed": own.caregivers_may_see_details}
    if request.method == "POST":
        form = PreferenceForm(request.POST, **form_options)
        if form.is_valid():
            services.preference_save(follower=follower, **form.cleaned_data)
            messages.success(request, _("Your email choices are saved."))
            return redirect("notices:preferences", public_id=patient.public_id)
    else:
        form = PreferenceForm(initial=PreferenceForm.initial_from(follower.preference), **form_options)
    context = {
        "patient": patient, "form": form, "follower": follower, "is_self": follower.is_patient,
        "unsubscribed": follower.preference.unsubscribed_at is not None,
    }
    return render(request, "notices/preferences.html", context)


def _preference_from(token: str) -> Preference:
    try:
        public_id = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        return Preference.objects.select_related("patient").get(public_id=public_id)
    except (signing.BadSignature, Preference.DoesNotExist, ValueError):
        raise Http404(_("This unsubscribe link is not valid.")) from None


@csrf_exempt  # RFC 8058: mail apps POST here without a session; the signed link is the only credential
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    preference = _preference_from(token)
    if request.method == "POST":
        services.unsubscribe(preference=preference)
        return render(request, "notices/unsubscribed.html", {"preference": preference})
    return render(request, "notices/unsubscribe.html", {"preference": preference, "token": token})


@require_GET
@access.staff_required
def patient_notices(request, public_id):
    """Who gets what for this patient, and every notice planned, sent or given up on."""
    patient = access.get_patient(request, public_id, edit=True)
    context = {
        "patient": patient,
        "followers": selectors.patient_followers(patient),
        "notices": selectors.patient_notices(patient),
    }
    return render(request, "notices/staff_patient.html", context)


@require_GET
@access.staff_required
def affected(request, clinic_id: int):
    """Patients whose fills moved, were held or cancelled lately, and whether each was told."""
    clinic = access.get_clinic(request, clinic_id)
    context = {
        "clinic": clinic,
        "rows": selectors.affected_patients(clinic=clinic),
        "pending": selectors.pending_moves(clinic=clinic),
        "failed": selectors.failed_notices(clinic=clinic),
        "days": selectors.AFFECTED_DAYS,
        "dashboard_url": reverse("staff:clinic_dashboard", args=[clinic.pk]),
    }
    return render(request, "notices/affected.html", context)


TOLD_PER_PAGE = 50


@require_GET
@access.staff_required
def told(request, clinic_id: int):
    """Everyone told in the last days that their refill is overdue (the dashboard names the first few)."""
    clinic = access.get_clinic(request, clinic_id)
    notices = selectors.told_notices(clinic=clinic, today=clinic.today())
    context = {
        "clinic": clinic,
        "page": Paginator(notices, TOLD_PER_PAGE).get_page(request.GET.get("page")),
        "days": selectors.TOLD_DAYS,
        "dashboard_url": reverse("staff:clinic_dashboard", args=[clinic.pk]),
    }
    return render(request, "notices/told.html", context)
