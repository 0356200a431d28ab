"""URL roots: each app owns its own URLs."""

from django.contrib import admin
from django.urls import include, path

from patients import views as patient_views

urlpatterns = [
    path("", patient_views.home, name="home"),
    path("accounts/login/", patient_views.SignInView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("clinic/", include("patients.urls")),
    path("", include("schedules.urls")),
    path("", include("schedules.feed_urls")),
    path("admin/", admin.site.urls),
]

admin.site.site_header = "PumpCare administration"
admin.site.site_title = "PumpCare admin"
