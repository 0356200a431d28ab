"""Session rules for people who see health data, applied on every request.

- Clinic staff must pass a second factor (TOTP or a backup code) before any other page.
- Sessions end after IDLE_TIMEOUT_SECONDS without a request, staff's after STAFF_IDLE_TIMEOUT_SECONDS; the
  sign-in page then says why.
- No session, staff or not, outlives SESSION_COOKIE_AGE from sign-in: the cookie's expiry is
  refreshed whenever the session changes, so the sign-in time is kept and checked here.
"""

import ipaddress
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from patients import access, ratelimit
from patients.sessions import LAST_SEEN_AT, SIGNED_IN_AT, USER_AGENT

IS_STAFF = "pumpcare_is_staff"
STAFF_CHECKED_AT = "pumpcare_staff_checked_at"
STAFF_RECHECK_SECONDS = 60
# Write the last-seen time at most this often, so most requests do not write the session.
LAST_SEEN_RESOLUTION_SECONDS = 60

# Pages a signed-in member of staff may open before the second factor.
SECOND_FACTOR_EXEMPT_URL_NAMES = (
    "logout",
    "two_factor_verify",
    "two_factor_setup",
    "set_language",  # the switch works on the two-step page too
    "healthz",
    "readyz",
)


def duration(seconds: int) -> str:
    """30 minutes, 2 hours: how long an idle timeout is, in words."""
    minutes = seconds // 60
    if minutes >= 60 and minutes % 60 == 0:
        return ngettext("%(count)d hour", "%(count)d hours", minutes // 60) % {"count": minutes // 60}
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


def client_ip(request) -> str | None:
    """The address of the person's browser, not of our proxy (django-axes and the rate limits use it).

    Each of the TRUSTED_PROXY_COUNT proxies in front of the site appends the address it was reached from to
    X-Forwarded-For, so the client's address is that many entries from the right; entries further left were
    sent by the client and can be forged. Written here rather than with django-ipware, whose proxy count
    counts the proxies' own addresses, which a single nginx does not add.
    """
    remote = request.META.get("REMOTE_ADDR")
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if len(hops) < count:
        return remote
    try:
        return str(ipaddress.ip_address(hops[-count]))
    except ValueError:
        return remote


# A browser that signed in to an account before is not slowed by failures elsewhere (OWASP "device cookies").
KNOWN_BROWSER_COOKIE = "pumpcare_known_browser"
KNOWN_BROWSER_SALT = "pumpcare.known-browser"
KNOWN_BROWSER_MAX_AGE = 180 * 24 * 60 * 60
KNOWN_BROWSER_ACCOUNTS = 5


def _known_accounts(request) -> list[str]:
    value = request.get_signed_cookie(KNOWN_BROWSER_COOKIE, default="", salt=KNOWN_BROWSER_SALT,
                                      max_age=KNOWN_BROWSER_MAX_AGE)
    return [item for item in value.split(",") if item]


def session_started(request) -> None:
    """What the sessions page shows of a sign-in, written with the sign-in itself."""
    request.session[SIGNED_IN_AT] = request.session[LAST_SEEN_AT] = time.time()
    request.session[USER_AGENT] = request.META.get("HTTP_USER_AGENT", "")[:300]


def account_wait(request, username: str) -> int | None:
    """Seconds to wait before this account's password may be tried again, or None to go ahead.

    django-axes locks an (account, address) pair. Guessing one account from many addresses is slowed here
    instead: past SIGNIN_USERNAME_FAILURES failures in the window, one try per interval from anywhere, so a
    real user is at worst asked to wait seconds, never locked out, and not at all from a known browser.
    """
    key = ratelimit.key_for("signin-account", username)
    failures = ratelimit.count(key, window_seconds=settings.SIGNIN_USERNAME_WINDOW_SECONDS)
    if failures < settings.SIGNIN_USERNAME_FAILURES or key in _known_accounts(request):
        return None
    return ratelimit.take_turn(key, interval_seconds=settings.SIGNIN_USERNAME_INTERVAL_SECONDS)


def account_failed(username: str) -> None:
    ratelimit.hit(ratelimit.key_for("signin-account", username), limit=0,
                  window_seconds=settings.SIGNIN_USERNAME_WINDOW_SECONDS)


def remember_browser(request, response, user) -> None:
    key = ratelimit.key_for("signin-account", user.get_username())
    accounts = [key, *(k for k in _known_accounts(request) if k != key)][:KNOWN_BROWSER_ACCOUNTS]
    response.set_signed_cookie(
        KNOWN_BROWSER_COOKIE, ",".join(accounts), salt=KNOWN_BROWSER_SALT, max_age=KNOWN_BROWSER_MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE, httponly=True, samesite="Lax",
    )


class StaffSessionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Times show in a clinic's zone once a view knows the clinic (access.get_patient / get_clinic);
        # a thread serving many requests must not carry one request's zone into the next.
        timezone.deactivate()
        user = request.user
        if user.is_authenticated:
            response = self.check_session(request)
            if response is not None:
                return response
        return self.get_response(request)

    def check_session(self, request):
        session = request.session
        now = time.time()
        signed_in_at = session.setdefault(SIGNED_IN_AT, now)
        session.setdefault(USER_AGENT, request.META.get("HTTP_USER_AGENT", "")[:300])
        # Clinic staff and admin-site users see other people's health data. Once staff, staff for the
        # session; anyone else is looked at again every minute, so a membership granted mid-session
        # brings the second factor within a minute, without a query on every request.
        if not session.get(IS_STAFF) and now - session.get(STAFF_CHECKED_AT, 0) >= STAFF_RECHECK_SECONDS:
            session[IS_STAFF] = request.user.is_staff or access.is_clinic_staff(request.user)
            session[STAFF_CHECKED_AT] = now
        is_staff = session[IS_STAFF]
        last_seen = session.get(LAST_SEEN_AT, now)
        if now - signed_in_at > settings.SESSION_COOKIE_AGE:
            return self.end(request, _("Your session has ended. Please sign in again."))
        idle_limit = settings.STAFF_IDLE_TIMEOUT_SECONDS if is_staff else settings.IDLE_TIMEOUT_SECONDS
        if now - last_seen > idle_limit:
            return self.end(
                request,
                _(
                    "You were signed out after %(duration)s without activity, to keep your health information "
                    "private. Please sign in again."
                )
                % {"duration": duration(idle_limit)},
            )
        if now - last_seen >= LAST_SEEN_RESOLUTION_SECONDS or LAST_SEEN_AT not in session:
            session[LAST_SEEN_AT] = now
        if is_staff and not request.user.is_verified() and not self.exempt(request):
            return redirect(f"{reverse('two_factor_verify')}?{urlencode({'next': request.get_full_path()})}")
        return None

    def exempt(self, request) -> bool:
        # Static files never get here: WhiteNoise answers them earlier in the chain.
        return request.path in {reverse(name) for name in SECOND_FACTOR_EXEMPT_URL_NAMES}

    def end(self, request, message: str):
        path = request.get_full_path()
        logout(request)
        messages.info(request, message)
        return redirect(f"{reverse('login')}?{urlencode({'next': path})}")


class NoStoreForSignedInMiddleware:
    """Every page answered to a signed-in person carries health or account data: `private, no-store`, so a
    shared computer's browser cache or a proxy never keeps it (the back button after sign-out shows nothing)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.user.is_authenticated:
            response["Cache-Control"] = "private, no-store"
        return response
