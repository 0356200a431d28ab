"""Notices: preferences sit with the patient's pages, staff pages under /clinic/, the unsubscribe link alone."""

from django.urls import path

from notices import views

app_name = "notices"

urlpatterns = [
    path("p/<uuid:public_id>/emails/", views.preferences, name="preferences"),
    path("emails/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("clinic/clinic/<uuid:public_id>/notices/", views.patient_notices, name="patient"),
    path("clinic/<int:clinic_id>/notices/changes/", views.affected, name="affected"),
    path("clinic/<int:clinic_id>/notices/overdue-told/", views.told, name="told"),
]
