"""Sessions that know whose they are (SESSION_ENGINE = "patients.sessions"): a person's list of signed-in
browsers, and the way to end them when access is revoked.

Django's database session store, with the user, the browser and the sign-in and last-active times copied
from the session's own data into columns each time the session is saved.
"""

import datetime as dt

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DBStore
from django.utils import timezone

from patients.models import UserSession

# Session keys written by patients.security.StaffSessionMiddleware.
SIGNED_IN_AT = "pumpcare_signed_in_at"
LAST_SEEN_AT = "pumpcare_last_seen_at"
USER_AGENT = "pumpcare_user_agent"


def _moment(timestamp) -> dt.datetime | None:
    return None if timestamp is None else dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)


class SessionStore(DBStore):
    @classmethod
    def get_model_class(cls):
        return UserSession

    def create_model_instance(self, data):
        obj = super().create_model_instance(data)
        try:
            obj.user_id = int(data[SESSION_KEY])
        except (KeyError, TypeError, ValueError):
            obj.user_id = None
        obj.user_agent = str(data.get(USER_AGENT, ""))[:300]
        obj.signed_in_at = _moment(data.get(SIGNED_IN_AT))
        obj.last_active_at = _moment(data.get(LAST_SEEN_AT))
        return obj


def sessions_of(user):
    return UserSession.objects.filter(user=user, expire_date__gt=timezone.now())


def end_sessions(user, *, keep: str | None = None) -> int:
    """Sign this person out everywhere (but in the session `keep`): their next request needs a new sign-in."""
    ended, _ = UserSession.objects.filter(user=user).exclude(session_key=keep or "").delete()
    return ended
