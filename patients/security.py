"""Session rules for people who see health data, applied on every request.

- Clinic staff must pass a second factor (TOTP or a backup code) before any other page.
- Staff sessions end after STAFF_IDLE_TIMEOUT_SECONDS without a request.
- No session, staff or not, outlives SESSION_COOKIE_AGE from sign-in: the cookie's expiry is
  refreshed whenever the session changes, so the sign-in time is kept and checked here.
"""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from patients import access

SIGNED_IN_AT = "pumpcare_signed_in_at"
LAST_SEEN_AT = "pumpcare_last_seen_at"
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
        # Clinic staff and admin-site users see other people's health data. Once staff, staff for the
        # session; anyone else is looked at again every minute, so a membership granted mid-session
        # brings the second factor within a minute, without a query on every request.
        if not session.get(IS_STAFF) and now - session.get(STAFF_CHECKED_AT, 0) >= STAFF_RECHECK_SECONDS:
            session[IS_STAFF] = request.user.is_staff or access.is_clinic_staff(request.user)
            session[STAFF_CHECKED_AT] = now
        is_staff = session[IS_STAFF]
        last_seen = session.get(LAST_SEEN_AT, now)
        if now - signed_in_at > settings.SESSION_COOKIE_AGE:
            return self.end(request, "Your session has ended. Please sign in again.")
        if is_staff and now - last_seen > settings.STAFF_IDLE_TIMEOUT_SECONDS:
            return self.end(request, "You were signed out after 30 minutes without activity. Please sign in again.")
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
