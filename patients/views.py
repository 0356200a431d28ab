"""Sign-in, the language switch and the signed-in browsers page (the second factor is in two_factor.py)."""

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST
from django.views.i18n import set_language as django_set_language
from ua_parser import parse

from patients import access, language, ratelimit, security, services, sessions

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class SignInView(auth_views.LoginView):
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        wait = security.account_wait(request, request.POST.get("username", ""))
        if wait is not None:
            form = self.get_form_class()(request, initial={"username": request.POST.get("username", "")})
            return self.render_to_response(self.get_context_data(form=form, wait_seconds=wait), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        security.account_failed(form.data.get("username", ""))
        return super().form_invalid(form)

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.get_user()
        # A language picked with the switch on this device is the person's choice: it becomes their
        # setting. Otherwise their own setting applies; someone who never chose keeps what they read now.
        chosen = language.supported(self.request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
        saved = language.saved_language(user)
        current = chosen or saved or language.supported(translation.get_language()) or settings.LANGUAGE_CODE
        if current != saved:
            services.language_save(user=user, language=current)
        language.remember(self.request, current)
        security.session_started(self.request)
        security.remember_browser(self.request, response, user)
        return response


@require_POST
def set_language(request):
    """Django's set_language (cookie, then back to the page); for a signed-in person it also saves the setting."""
    chosen = language.supported(request.POST.get("language"))
    if chosen is not None and request.user.is_authenticated:
        services.language_save(user=request.user, language=chosen)
        language.remember(request, chosen)
    return django_set_language(request)


class PasswordResetForm(auth_forms.PasswordResetForm):
    """The reset email in the account holder's language (else the one the request was made in)."""

    def send_mail(self, subject_template_name, email_template_name, context, *args, **kwargs):
        with translation.override(language.language_for(context["user"], default=translation.get_language())):
            super().send_mail(subject_template_name, email_template_name, context, *args, **kwargs)


class PasswordResetView(auth_views.PasswordResetView):
    """Reset emails are limited per email address and per client address, so nobody floods an inbox.

    Past the address's limit the page reads as if an email was sent (it never says whether an account
    exists); past the client's limit the answer is a 429 with Retry-After.
    """

    form_class = PasswordResetForm

    def form_valid(self, form):
        wait = ratelimit.hit(
            ratelimit.key_for("reset-client", security.client_ip(self.request) or ""),
            limit=settings.PASSWORD_RESET_PER_CLIENT, window_seconds=settings.PASSWORD_RESET_WINDOW_SECONDS,
        )
        if wait is not None:
            response = render(self.request, "429.html", status=429)
            response["Retry-After"] = str(wait)
            return response
        if ratelimit.hit(
            ratelimit.key_for("reset-address", form.cleaned_data["email"]),
            limit=settings.PASSWORD_RESET_PER_ADDRESS, window_seconds=settings.PASSWORD_RESET_WINDOW_SECONDS,
        ) is not None:
            return redirect(self.get_success_url())
        return super().form_valid(form)


def _public_id(session_key: str) -> str:
    """A session named on the page without its key: the key signs the browser in, so it never goes in HTML."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class SignedInBrowser:
    id: str
    browser: str
    device: str
    signed_in_at: object
    last_active_at: object
    current: bool


def _describe(session, current_key: str) -> SignedInBrowser:
    agent = parse(session.user_agent or "")
    browser = agent.user_agent.family if agent.user_agent else _("Unknown browser")
    system = agent.os.family if agent.os else ""
    device = agent.device.family if agent.device and agent.device.family != "Other" else ""
    return SignedInBrowser(
        id=_public_id(session.session_key),
        browser=_("%(browser)s on %(system)s") % {"browser": browser, "system": system}
        if system and system != "Other"
        else browser,
        device=device,
        signed_in_at=session.signed_in_at,
        last_active_at=session.last_active_at,
        current=session.session_key == current_key,
    )


@login_required
@require_http_methods(["GET", "POST"])
def signed_in_browsers(request):
    """Where this person is signed in; they can sign out any other browser, or all of them at once."""
    current_key = request.session.session_key
    if request.method == "POST":
        ended = _end_chosen(request, current_key)
        said = ngettext("Signed out of %(count)d other browser.", "Signed out of %(count)d other browsers.", ended)
        messages.success(request, said % {"count": ended})
        return redirect("signed_in_browsers")
    # Times read in the person's clinic's zone, as on their other pages.
    patient = access.followed_patients(request.user).select_related("clinic").first()
    clinic = patient.clinic if patient else access.staff_clinics(request.user).first()
    if clinic is not None:
        timezone.activate(clinic.zone)
    browsers = sorted(
        (_describe(s, current_key) for s in sessions.sessions_of(request.user)),
        key=lambda b: (not b.current, -(b.last_active_at or b.signed_in_at or EPOCH).timestamp()),
    )
    return render(request, "registration/signed_in_browsers.html", {"browsers": browsers})


def _end_chosen(request, current_key: str) -> int:
    if "all_others" in request.POST:
        return sessions.end_sessions(request.user, keep=current_key)
    chosen = request.POST.get("session", "")
    for session in sessions.sessions_of(request.user).exclude(session_key=current_key):
        if _public_id(session.session_key) == chosen:
            session.delete()
            return 1
    return 0
