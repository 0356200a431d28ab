"""URL roots: each app owns its own URLs."""

from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from clinic import history
from patients import two_factor
from patients import views as patient_views
from portal import views as portal_views
from pumpcare import views as site_views

urlpatterns = [
    # First: calendar apps poll the feeds far more often than people open pages, so their URL is tried first.
    path("", include("feeds.urls")),
    path("", portal_views.home, name="home"),
    path("accounts/login/", patient_views.SignInView.as_view(), name="login"),
    path("accounts/two-factor/", two_factor.verify, name="two_factor_verify"),
    path("accounts/two-factor/setup/", two_factor.setup, name="two_factor_setup"),
    path("accounts/password_reset/", patient_views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/signed-in/", patient_views.signed_in_browsers, name="signed_in_browsers"),
    path("accounts/logout/", site_views.sign_out, name="logout"),
    path("accounts/", include("django.contrib.auth.urls")),
    # No /es/ prefixes (i18n_patterns): a link shared between people, a bookmark and every calendar feed
    # address must keep working whatever language the person reading it chose.
    path("language/", patient_views.set_language, name="set_language"),
    path("clinic/", include("clinic.urls")),
    path("clinic/patients/<uuid:public_id>/history/", history.patient_history, name="patient_history"),
    path("", include("portal.urls")),
    path("", include("notices.urls")),
    path("admin/", admin.site.urls),
    path("healthz", site_views.healthz, name="healthz"),
    path("manifest.webmanifest", site_views.manifest, name="manifest"),
    path("sw.js", site_views.service_worker, name="service_worker"),
    path("readyz", site_views.readyz, name="readyz"),
]

handler500 = "pumpcare.views.server_error"

admin.site.site_header = _("PumpCare administration")
admin.site.site_title = _("PumpCare admin")
