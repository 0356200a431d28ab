"""Patient and caregiver pages of one patient's therapy, addressed by the patient's public id."""

from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("p/<str:public_id>/", views.patient_home, name="patient_home"),
    path("p/<str:public_id>/therapy/", views.therapy, name="therapy"),
    path("p/<str:public_id>/calendar/", views.calendar_now, name="calendar_now"),
    path("p/<str:public_id>/calendar/<int:year>/<int:month>/", views.calendar_month, name="calendar_month"),
    path("p/<str:public_id>/print/", views.print_schedule, name="print"),
    path("p/<str:public_id>/caregivers/", views.caregivers, name="caregivers"),
    path("p/<str:public_id>/caregivers/<int:grant_id>/remove/", views.caregiver_remove, name="caregiver_remove"),
    path("p/<str:public_id>/record.json", views.record_download, name="record_download"),
    path("account/", views.account, name="account"),
    path("living-with-the-pump/", views.living, name="living"),
]
