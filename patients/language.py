"""The language a person reads: their own setting once signed in, else the switch's cookie or the browser's.

Django's LocaleMiddleware (before this one) picks the language from the language cookie or the
Accept-Language header. Signed-in people carry their own setting in the session (put there at sign-in
and whenever they use the switch), so applying it costs no query on any request.
"""

from django.conf import settings
from django.utils import translation

from patients.models import Preferences

SESSION_KEY = "pumpcare_language"


def supported(code: str | None) -> str | None:
    """The code if it is one of settings.LANGUAGES, else None (cookies and forms are user input)."""
    if code and code in dict(settings.LANGUAGES):
        return code
    return None


def saved_language(user) -> str | None:
    """The person's own setting, or None if they never chose one."""
    if user is None or user.pk is None:
        return None
    return supported(Preferences.objects.filter(user=user).values_list("language", flat=True).first())


def language_for(user, default: str | None = None) -> str:
    """What to write to this person in (emails, notices): their setting, else ``default``, else the site's."""
    return saved_language(user) or supported(default) or settings.LANGUAGE_CODE


def remember(request, language: str) -> None:
    """Make ``language`` the signed-in person's language for the rest of this session."""
    request.session[SESSION_KEY] = language
    translation.activate(language)
    request.LANGUAGE_CODE = language


class PersonLanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = supported(request.session.get(SESSION_KEY)) if request.user.is_authenticated else None
        if language is not None:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        response = self.get_response(request)
        # Keep the cookie in step with the person's setting, so the sign-in page after signing out
        # (and the next visit on this device) speaks their language too.
        language = supported(request.session.get(SESSION_KEY)) if hasattr(request, "session") else None
        if language is not None and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != language:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response
