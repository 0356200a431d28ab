"""Clinic staff pages."""

from django.urls import path

from patients import views

app_name = "staff"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]
