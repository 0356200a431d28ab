"""Who may see and change which patient: the one place that decides. Every view goes through it.

- clinic staff (a StaffMembership) see and change their clinic's patients;
- a patient sees their own record (read-only);
- a caregiver sees the patients they were granted, until the grant is revoked (read-only).
Anything else answers 404, so other people's patients cannot even be told apart from nobody.
"""

from functools import wraps

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from patients import audit
from patients.models import CaregiverAccess, Clinic, Patient


def staff_clinics(user) -> QuerySet[Clinic]:
    if not user.is_authenticated:
        return Clinic.objects.none()
    return Clinic.objects.filter(memberships__user=user)


def clinic_people(user):
    """The accounts a member of staff may see in the admin: their clinics' staff, patients and caregivers."""
    clinics = staff_clinics(user)
    return get_user_model().objects.filter(
        Q(memberships__clinic__in=clinics)
        | Q(patient__clinic__in=clinics)
        | Q(caregiver_grants__patient__clinic__in=clinics)
    ).distinct()


def is_clinic_staff(user) -> bool:
    return staff_clinics(user).exists()


def visible_patients(user) -> QuerySet[Patient]:
    """Patients whose pages this user may read."""
    if not user.is_authenticated or not user.is_active:
        return Patient.objects.none()
    return Patient.objects.filter(
        Q(clinic__memberships__user=user) | Q(user=user) | Q(pk__in=_granted_patient_ids(user))
    ).distinct()


def _granted_patient_ids(user):
    """The patients this user follows as a caregiver now: grants neither revoked nor expired."""
    return CaregiverAccess.objects.active().filter(user=user).values("patient_id")


def editable_patients(user) -> QuerySet[Patient]:
    """Patients whose records this user may change: staff of the patient's clinic only."""
    if not user.is_authenticated or not user.is_active:
        return Patient.objects.none()
    return Patient.objects.filter(clinic__memberships__user=user)


def followed_patients(user) -> QuerySet[Patient]:
    """The patients a signed-in patient or caregiver follows (not the ones they see as staff)."""
    if not user.is_authenticated or not user.is_active:
        return Patient.objects.none()
    return Patient.objects.filter(Q(user=user) | Q(pk__in=_granted_patient_ids(user))).distinct()


def get_patient(request, public_id, *, edit: bool = False, related: tuple[str, ...] = ()) -> Patient:
    """The patient with this public id if request.user may see it (or change it, with edit=True); else 404.

    Every view of a patient's pages comes through here (so it is also where such views are audited).
    `related`: relations the view reads next, loaded in the same query (select_related).
    """
    user = request.user
    patients = editable_patients(user) if edit else visible_patients(user)
    try:
        patient = patients.select_related("clinic", *related).get(public_id=public_id)
    except (Patient.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such patient.") from None
    audit.record_view(request, patient)
    timezone.activate(patient.clinic.zone)  # times on this patient's pages are the clinic's
    return patient


def get_clinic(request, clinic_id) -> Clinic:
    """A clinic request.user works at; else 404."""
    try:
        clinic = staff_clinics(request.user).get(pk=clinic_id)
    except (Clinic.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such clinic.") from None
    timezone.activate(clinic.zone)
    return clinic


def staff_required(view):
    """A view for clinic staff only: sign-in required, and anyone without a clinic gets 404."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_clinic_staff(request.user):
            raise Http404("Not found.")
        return view(request, *args, **kwargs)

    return wrapped


def staff_patient_required(view):
    """staff_required for a view whose first step is get_patient(request, ..., edit=True), so one query fewer.

    That lookup already answers 404 to anyone who is not staff of the patient's clinic (no clinic at all, another
    clinic, a patient, a caregiver), exactly as staff_required would have; its separate query would only repeat
    the answer. A view that does anything before that lookup must use staff_required instead.
    """
    return login_required(view)
