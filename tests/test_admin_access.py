"""The admin's access matrix: no clinic reads or writes another clinic's records, and view-only users never write.

Every admin URL pattern (changelist, list filters, raw-id popup, add, change, delete, history, history form,
revert, autocomplete, bulk delete) x members of clinic A and clinic B x view-only and full permissions, GET and
POST. The records all belong to clinic A.
"""

import datetime as dt
import json

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.forms.models import model_to_dict
from django.urls import reverse

from patients.models import AccessEvent, CaregiverAccess, Clinic, Patient, StaffMembership, UserSession
from schedules.models import CalendarSubscription, ClinicClosure, Hold, RecordedFill, TherapyPlan
from tests.conftest import TODAY, make_user

User = get_user_model()
# Words that only clinic A's records contain: none may reach a member of clinic B.
CLINIC_A_MARKERS = ("Alice Ames", "A-100", "Clinic A", "patient_a", "caregiver_a", "Founders Day A", "Kitchen tablet A",
                    "held-reason-A", "555 0111")
PROJECT_APPS = ("patients", "schedules", "auth")


def grant(user, *, full: bool) -> None:
    perms = Permission.objects.filter(content_type__app_label__in=PROJECT_APPS)
    if not full:
        perms = perms.filter(codename__startswith="view_")
    user.user_permissions.add(*perms)


@pytest.fixture
def clinic_a_records(clinic_a, staff_a, patient_a, caregiver_a):
    clinic_a.phone = "+1 555 0111"
    clinic_a.save()
    plan = patient_a.plan
    ClinicClosure.objects.create(clinic=clinic_a, date=TODAY + dt.timedelta(days=30), name="Founders Day A")
    RecordedFill.objects.create(plan=plan, date=TODAY - dt.timedelta(days=20), infusate="heparinized_saline")
    Hold.objects.create(plan=plan, cycle=2, attempt=1, planned_date=TODAY + dt.timedelta(days=22),
                        reason="held-reason-A")
    CalendarSubscription.objects.create(patient=patient_a, name="Kitchen tablet A", token_hash="a" * 64,
                                        revoked_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    AccessEvent.objects.create(patient=patient_a, user=staff_a, action=AccessEvent.Action.VIEW, detail="x")
    return patient_a


@pytest.fixture
def personas(clinic_a, clinic_b):
    """Admin-site users of each clinic, with view-only or full permissions on every model."""
    built = {}
    for clinic, letter in ((clinic_a, "a"), (clinic_b, "b")):
        for full in (False, True):
            user = make_user(f"{letter}_{'admin' if full else 'viewer'}", is_staff=True)
            StaffMembership.objects.create(user=user, clinic=clinic)
            grant(user, full=full)
            built[(letter, full)] = user
    return built


def snapshot() -> dict:
    """Every row of every model the admin can reach, and of their histories: what a write would change."""
    state = {}
    for model in apps.get_models():
        # Sessions change with every request (last active): not a write to anyone's records.
        if model._meta.app_label in ("patients", "schedules", "auth") and model not in (AccessEvent, UserSession):
            state[model._meta.label] = sorted(map(repr, model.objects.values_list()))
    state["access events"] = sorted(map(repr, AccessEvent.objects.exclude(action="view").values_list()))
    state["admin log"] = LogEntry.objects.count()
    return state


def payload(obj, **changes) -> dict:
    """A POST body that the object's admin form would accept, with some values changed."""
    data = {}
    for name, value in model_to_dict(obj).items():
        if value is None or value is False:
            continue
        if isinstance(value, (list, dict)) and name == "cycle_steps":
            data[name] = json.dumps(value)
        elif isinstance(value, list):
            data[name] = [getattr(v, "pk", v) for v in value]
        elif hasattr(value, "pk"):
            data[name] = value.pk
        else:
            data[name] = str(value)
    data.update(changes)
    return data


def record_of(model, patient):
    """The clinic A record of this model in clinic_a_records."""
    clinic = patient.clinic
    return {
        Clinic: lambda: clinic,
        Patient: lambda: patient,
        StaffMembership: lambda: StaffMembership.objects.get(user__username="staff_a"),
        CaregiverAccess: lambda: CaregiverAccess.objects.get(patient=patient),
        AccessEvent: lambda: AccessEvent.objects.filter(patient=patient).first(),
        TherapyPlan: lambda: patient.plan,
        User: lambda: patient.user,
    }.get(model, lambda: model.objects.filter(pk__in=model._default_manager.all()).filter(
        **{f"{getattr(admin.site._registry[model], 'clinic_path', 'clinic')}": clinic}).first())()


def admin_requests(model, obj):
    """(method, url, data) for every admin URL pattern of this model, aimed at a clinic A record."""
    model_admin = admin.site._registry[model]
    info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    changes = {"name": "Taken over", "phone": "+1 555 0999", "clinic": "", "_save": "Save"}
    form = payload(obj, **{k: v for k, v in changes.items() if k in model_to_dict(obj) or k == "_save"})
    yield "GET", reverse(f"{info}_changelist"), None
    yield "GET", reverse(f"{info}_changelist") + "?_to_field=id&_popup=1", None
    yield "GET", reverse(f"{info}_changelist") + f"?clinic__id__exact={obj.pk}&q=A", None
    yield "POST", reverse(f"{info}_changelist"), {"action": "delete_selected", "_selected_action": [obj.pk],
                                                 "post": "yes"}
    yield "GET", reverse(f"{info}_add"), None
    yield "POST", reverse(f"{info}_add"), form
    yield "GET", reverse(f"{info}_change", args=[obj.pk]), None
    yield "POST", reverse(f"{info}_change", args=[obj.pk]), form
    yield "GET", reverse(f"{info}_delete", args=[obj.pk]), None
    yield "POST", reverse(f"{info}_delete", args=[obj.pk]), {"post": "yes"}
    yield "GET", reverse(f"{info}_history", args=[obj.pk]), None
    history = getattr(model, "history", None)
    if history is not None and hasattr(model_admin, "history_form_view"):
        version = history.filter(**{model._meta.pk.attname: obj.pk}).order_by("history_id").first().history_id
        url = reverse(f"{info}_simple_history", args=[obj.pk, version])
        yield "GET", url, None
        yield "POST", url, form
    if model is User:
        url = reverse("admin:auth_user_password_change", args=[obj.pk])
        yield "GET", url, None
        yield "POST", url, {"password1": "Taken-over-2026-x", "password2": "Taken-over-2026-x"}
    for field in model_admin.autocomplete_fields:
        query = f"app_label={model._meta.app_label}&model_name={model._meta.model_name}&field_name={field}&term="
        yield "GET", reverse("admin:autocomplete") + "?" + query, None


def registered_models():
    return [m for m in admin.site._registry if m._meta.app_label in PROJECT_APPS and m._meta.model_name != "group"]


def test_clinic_b_cannot_read_or_write_clinic_a_in_any_admin_view(clinic_a_records, personas, client_for):
    patient = clinic_a_records
    clients = {full: client_for(personas[("b", full)]) for full in (False, True)}
    before = snapshot()
    problems = []
    for full, client in clients.items():
        for model in registered_models():
            obj = record_of(model, patient)
            assert obj is not None, model
            for method, url, data in admin_requests(model, obj):
                response = client.post(url, data) if method == "POST" else client.get(url)
                where = f"{'admin' if full else 'viewer'} of B: {method} {url}"
                if response.status_code not in (200, 302, 403, 404):
                    problems.append(f"{where} answered {response.status_code}")
                # A form sent back shows what was posted: only what the user did not send counts as a leak.
                sent = json.dumps(data)
                leaked = [m for m in CLINIC_A_MARKERS if m in response.content.decode() and m not in sent]
                if leaked:
                    problems.append(f"{where} shows {leaked}")
                if method == "POST" and snapshot() != before:
                    problems.append(f"{where} wrote")
                    before = snapshot()
    assert not problems, "\n".join(problems)


def test_view_only_users_never_write_in_the_admin(clinic_a_records, personas, client_for):
    patient = clinic_a_records
    client = client_for(personas[("a", False)])
    before = snapshot()
    problems = []
    for model in registered_models():
        obj = record_of(model, patient)
        for method, url, data in admin_requests(model, obj):
            response = client.post(url, data) if method == "POST" else client.get(url)
            if response.status_code not in (200, 302, 403, 404):
                problems.append(f"viewer of A: {method} {url} answered {response.status_code}")
            if snapshot() != before:
                problems.append(f"viewer of A: {method} {url} wrote")
                before = snapshot()
    assert not problems, "\n".join(problems)


# The probe's findings, one by one ----------------------------------------------------------------------------


def history_url(obj, *version):
    name = "simple_history" if version else "history"
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_{name}", args=[obj.pk, *version])


def test_another_clinics_patient_history_answers_404(clinic_a_records, personas, client_for):
    patient = clinic_a_records
    client = client_for(personas[("b", False)])
    assert client.get(history_url(patient)).status_code == 404
    version = patient.history.first().history_id
    assert client.get(history_url(patient, version)).status_code == 404


def test_a_revert_cannot_move_another_clinics_patient(clinic_a_records, clinic_b, personas, client_for):
    patient = clinic_a_records
    version = patient.history.first().history_id
    for full in (False, True):
        client = client_for(personas[("b", full)])
        response = client.post(history_url(patient, version), payload(patient, clinic=clinic_b.pk, _save="Save"))
        assert response.status_code == 404
    patient.refresh_from_db()
    assert patient.clinic_id != clinic_b.pk


def test_a_view_only_user_cannot_revert_their_own_clinics_records(clinic_a_records, personas, client_for):
    patient = clinic_a_records
    version = patient.history.first().history_id
    client = client_for(personas[("a", False)])
    assert client.get(history_url(patient, version)).status_code == 200
    response = client.post(history_url(patient, version), payload(patient, name="Reverted", _save="Save"))
    assert response.status_code == 403
    patient.refresh_from_db()
    assert patient.name == "Alice Ames"


def test_a_full_admin_can_still_revert_their_own_clinics_records(clinic_a_records, personas, client_for):
    patient = clinic_a_records
    version = patient.history.first().history_id
    client = client_for(personas[("a", True)])
    response = client.post(history_url(patient, version), payload(patient, name="Reverted", _save="Save"))
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.name == "Reverted"


# Medium: choices, attribution, filters, audit ------------------------------------------------------------------


def test_user_choices_list_only_the_clinics_own_people(clinic_a_records, personas, client_for):
    page = client_for(personas[("b", True)]).get(reverse("admin:patients_caregiveraccess_add"))
    form = page.context["adminform"].form
    offered = {u.username for u in form.fields["user"].queryset}
    assert offered and not offered & {"patient_a", "caregiver_a", "staff_a", "a_admin"}
    assert "granted_by" not in form.fields  # set by the server, not chosen


def test_attribution_is_set_from_the_signed_in_user(clinic_a_records, personas, client_for):
    admin_a = personas[("a", True)]
    plan = clinic_a_records.plan
    client = client_for(admin_a)
    data = {"plan": plan.pk, "cycle": 3, "attempt": 1, "planned_date": "2026-05-01", "reason": "low platelets",
            "created_by": personas[("a", False)].pk}
    assert client.post(reverse("admin:schedules_hold_add"), data).status_code == 302
    assert Hold.objects.get(cycle=3).created_by == admin_a
    grant_data = {"patient": clinic_a_records.pk, "user": personas[("a", False)].pk,
                  "granted_at_0": "2026-03-10", "granted_at_1": "10:00", "granted_by": personas[("a", False)].pk}
    assert client.post(reverse("admin:patients_caregiveraccess_add"), grant_data).status_code == 302
    assert CaregiverAccess.objects.get(user=personas[("a", False)]).granted_by == admin_a


def test_list_filters_name_only_the_users_own_clinics(clinic_a_records, patient_b, personas, client_for):
    page = client_for(personas[("b", False)]).get(reverse("admin:patients_patient_changelist"))
    choices = [c["display"] for spec in page.context["cl"].filter_specs for c in spec.choices(page.context["cl"])]
    assert "Clinic A" not in choices and "Clinic A" not in page.content.decode()


def test_an_admin_look_at_a_patient_is_audited(clinic_a_records, personas, client_for):
    viewer = personas[("a", False)]
    client = client_for(viewer)
    assert client.get(reverse("admin:patients_patient_change", args=[clinic_a_records.pk])).status_code == 200
    assert client.get(reverse("admin:schedules_therapyplan_change", args=[clinic_a_records.plan.pk])).status_code == 200
    assert client.get(history_url(clinic_a_records)).status_code == 200
    events = AccessEvent.objects.filter(patient=clinic_a_records, user=viewer, action=AccessEvent.Action.VIEW)
    assert sorted(events.values_list("detail", flat=True)) == [
        "admin:patients_patient_change", "admin:patients_patient_history", "admin:schedules_therapyplan_change"]
