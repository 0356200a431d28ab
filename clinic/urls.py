"""Clinic staff pages, mounted at /clinic/. Patients are addressed by public_id; clinics by id (access-checked)."""

from django.urls import path

from clinic import views

app_name = "staff"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("<int:clinic_id>/", views.dashboard, name="clinic_dashboard"),
    path("<int:clinic_id>/due/<slug:section>/", views.due_section, name="due_section"),
    path("<int:clinic_id>/patients/", views.patient_list, name="patients"),
    path("<int:clinic_id>/patients/new/", views.patient_create, name="patient_create"),
    path("<int:clinic_id>/settings/", views.clinic_settings, name="clinic_settings"),
    path("<int:clinic_id>/closures/", views.closures_add, name="closures_add"),
    path("<int:clinic_id>/closures/<int:closure_id>/remove/", views.closure_remove, name="closure_remove"),
    path("<int:clinic_id>/protocols/new/", views.protocol_edit, name="protocol_create"),
    path("<int:clinic_id>/protocols/<int:protocol_id>/", views.protocol_edit, name="protocol_edit"),
    path("clinic/<uuid:public_id>/", views.patient_detail, name="patient"),
    path("clinic/<uuid:public_id>/edit/", views.patient_edit, name="patient_edit"),
    path("clinic/<uuid:public_id>/fills/new/", views.fill_record, name="fill_record"),
    path("clinic/<uuid:public_id>/fills/<int:fill_id>/", views.fill_correct, name="fill_correct"),
    path("clinic/<uuid:public_id>/holds/", views.hold_add, name="hold_add"),
    path("clinic/<uuid:public_id>/holds/<int:hold_id>/remove/", views.hold_remove, name="hold_remove"),
    path("clinic/<uuid:public_id>/end/", views.therapy_end, name="therapy_end"),
    path("clinic/<uuid:public_id>/reopen/", views.therapy_reopen, name="therapy_reopen"),
    path("clinic/<uuid:public_id>/sign-in/", views.patient_login_create, name="patient_login_create"),
    path("clinic/<uuid:public_id>/sign-in/remove/", views.patient_login_revoke, name="patient_login_revoke"),
    path("clinic/<uuid:public_id>/caregivers/", views.caregiver_grant, name="caregiver_grant"),
    path(
        "clinic/<uuid:public_id>/caregivers/<int:grant_id>/revoke/", views.caregiver_revoke, name="caregiver_revoke"
    ),
]
