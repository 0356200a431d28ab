"""PumpCare settings: one file, configured by environment variables (see README.md).

Local defaults just work (SQLite in the project folder, console email); production refuses to
start without a real SECRET_KEY, and a bad value stops the start with a message naming it.
"""

import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false (1/0, yes/no), not {value!r}.")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

_DEV_SECRET_KEY = "dev-only-insecure-key-never-use-in-production"  # noqa: S105 (DEBUG only)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it to a long random string (DEBUG is off, so no development key)."
        )
    SECRET_KEY = _DEV_SECRET_KEY

# Tests add Django's "testserver" themselves; production lists its own host names.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

try:
    DATABASES = {
        "default": dj_database_url.parse(
            os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'pumpcare.sqlite3'}",
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
            conn_health_checks=True,
        )
    }
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL we understand: {exc}") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default, for one clinic: concurrent writes wait their turn instead of failing with
    # "database is locked". WAL lets readers go on while one writer writes; IMMEDIATE takes the write lock
    # when a transaction begins, so SQLite never has to refuse a reader that later wants to write (which
    # the busy timeout cannot wait out); the timeout is how long a writer waits for the lock (seconds).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": env_int("SQLITE_BUSY_TIMEOUT", 20),
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # PostgreSQL's JIT compiles queries whose estimated cost is high, such as the dashboard's over a large
    # clinic: seconds of compiling for a query that runs in milliseconds. Pages want short queries.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")

# The cache holds rate-limit counters and calendar feed answers: shared between processes through Redis in
# production. Short timeouts: a Redis that hangs must slow a feed down by a fraction of a second, not stop it.
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
            # Several sites (or test runs) can share one Redis database without sharing counters.
            "KEY_PREFIX": os.environ.get("REDIS_KEY_PREFIX", "pumpcare"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# How long a calendar feed's cached answer is served before it is checked against the database again.
FEED_ANSWER_SECONDS = env_int("FEED_ANSWER_SECONDS", 60)
# How long each process serves a feed answer from its own memory and keeps its counts before sending them to
# Redis. 1 s spares most polls a Redis round trip (issue 12's speed target); the price is a rate limit that
# can overshoot by what the other processes served in that second. 0: every poll asks Redis, limits exact.
FEED_LOCAL_SECONDS = env_int("FEED_LOCAL_SECONDS", 1)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "simple_history",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "csp",
    # Installed only for its translations: the password advice it gives, in the person's language.
    "django_zxcvbn_password_validator",
    # The project's apps, lowest layer first (see the README's Layout).
    "patients",
    "schedules",
    "clinic",
    "portal",
    "feeds",
    "notices",
    "pumpcare",  # last: its management commands (worker, prune) run every app's units
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Calendar feeds need none of the page middleware below (no cookie, session or signed-in person).
    "feeds.middleware.FeedMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The browser's language (or the switch's cookie) before sign-in; after sessions, before common.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # A signed-in person's own language setting beats the browser's (needs the user, so after auth).
    "patients.language.PersonLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "patients.security.StaffSessionMiddleware",
    "patients.security.NoStoreForSignedInMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, so a throttled sign-in is answered before any view runs.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "pumpcare.urls"
WSGI_APPLICATION = "pumpcare.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Sign-in: Argon2 hashes, 12+ character passwords checked against common ones, throttled by django-axes.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # zxcvbn finds words, years, keyboard runs and common substitutions ("Summer2026!!", "qwertyuiopas") and
    # says which; 4 means about 10^10 guesses or more.
    {"NAME": "django_zxcvbn_password_validator.ZxcvbnPasswordValidator"},
]
PASSWORD_MINIMAL_STRENGTH = env_int("PASSWORD_MINIMAL_STRENGTH", 4)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Behind a reverse proxy every request comes from the proxy's address: set TRUSTED_PROXY_COUNT to the number
# of proxies in front of the site, each appending the address it was reached from to X-Forwarded-For; the
# client's address is then that many entries from the right (patients.security.client_ip). 0: REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "patients.security.client_ip"
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = 0.25  # hours: 15 minutes
# Locked per (account, client address), so nobody can lock someone else out from their own address ...
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# ... and per account, from any address, only slowed: past SIGNIN_USERNAME_FAILURES failures in 15 minutes,
# one password check per SIGNIN_USERNAME_INTERVAL_SECONDS, except from a browser that signed in to it before.
SIGNIN_USERNAME_FAILURES = env_int("SIGNIN_USERNAME_FAILURES", 10)
SIGNIN_USERNAME_WINDOW_SECONDS = 15 * 60
SIGNIN_USERNAME_INTERVAL_SECONDS = env_int("SIGNIN_USERNAME_INTERVAL_SECONDS", 10)
# Password-reset emails per hour: to one email address, and asked for by one client address.
PASSWORD_RESET_PER_ADDRESS = env_int("PASSWORD_RESET_PER_ADDRESS", 3)
PASSWORD_RESET_PER_CLIENT = env_int("PASSWORD_RESET_PER_CLIENT", 10)
PASSWORD_RESET_WINDOW_SECONDS = 60 * 60
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# Sessions: 12 hours at most for everyone; idle sessions end after IDLE_TIMEOUT_MINUTES, staff's after
# STAFF_IDLE_TIMEOUT_MINUTES (patients.security). Sessions are stored with their user (patients.sessions), so
# a person can see and end theirs and revoking access ends them.
SESSION_ENGINE = "patients.sessions"
SESSION_COOKIE_AGE = 12 * 60 * 60
IDLE_TIMEOUT_SECONDS = env_int("IDLE_TIMEOUT_MINUTES", 120) * 60
STAFF_IDLE_TIMEOUT_SECONDS = env_int("STAFF_IDLE_TIMEOUT_MINUTES", 30) * 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Pages, emails and calendar feeds speak the person's language (README, "Languages"). URLs carry no
# language prefix: shared links, bookmarks and calendar feed addresses must work whatever the language.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Our own date formats ("martes 8 de diciembre") on top of Django's for each language.
FORMAT_MODULE_PATH = ["pumpcare.formats"]
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
TIME_ZONE = "UTC"  # storage; every fill date is a date in its clinic's own time zone
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Serve straight from static/ without collectstatic, so `make run` and the tests need no build step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
if DEBUG or os.environ.get("PUMPCARE_PLAIN_STATIC"):
    STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Email carries sign-in links (password reset, invitations). Development prints messages with those links
# redacted; production sends through SMTP with STARTTLS, and refuses a console backend unless
# EMAIL_CONSOLE_IN_PRODUCTION says it was meant. Django's own console backend is replaced by the redacting one.
_CONSOLE_BACKENDS = {"django.core.mail.backends.console.EmailBackend", "pumpcare.mail.RedactingConsoleBackend"}
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or (
    "pumpcare.mail.RedactingConsoleBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend"
)
if EMAIL_BACKEND in _CONSOLE_BACKENDS:
    if not DEBUG and not env_bool("EMAIL_CONSOLE_IN_PRODUCTION", False):
        raise ImproperlyConfigured(
            "EMAIL_BACKEND is the console with DEBUG off: set an SMTP server (EMAIL_HOST), or set "
            "EMAIL_CONSOLE_IN_PRODUCTION=1 if printing emails (with their links redacted) is really meant."
        )
    EMAIL_BACKEND = "pumpcare.mail.RedactingConsoleBackend"
# For the file backend (development: the whole message, links included, in files rather than in logs).
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "sent-emails"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "PumpCare <no-reply@pumpcare.example>")

# Retention (manage.py prune): calendar-feed fetches a year, other access events (views, exports) six years,
# cancelled planned fills 90 days after they were cancelled and their date passed.
FEED_LOG_RETENTION_DAYS = env_int("FEED_LOG_RETENTION_DAYS", 365)
ACCESS_LOG_RETENTION_DAYS = env_int("ACCESS_LOG_RETENTION_DAYS", 6 * 365)
INACTIVE_FILL_RETENTION_DAYS = env_int("INACTIVE_FILL_RETENTION_DAYS", 90)
NOTICE_RETENTION_DAYS = env_int("NOTICE_RETENTION_DAYS", 2 * 365)

# Notices (notices/): links in emails point here; the planner waits this long after the last change of a
# patient's schedule (a nurse's several fixes make one notice); the sender's claim on a notice lasts this long
# before another worker may take it over, and it gives up after this many attempts.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
NOTICES_QUIET_MINUTES = env_int("NOTICES_QUIET_MINUTES", 5)
NOTICES_CLAIM_SECONDS = env_int("NOTICES_CLAIM_SECONDS", 300)
NOTICES_MAX_ATTEMPTS = env_int("NOTICES_MAX_ATTEMPTS", 8)
# Development only (`make run`): send reminders as soon as they are planned and notices at night too, so the
# demo shows them at once instead of at 09:00 in the clinic's zone.
NOTICES_SEND_NOW = env_bool("NOTICES_SEND_NOW", False)

# How far ahead planned fills are projected and stored (docs/schedule-rules.md, S9).
SCHEDULE_HORIZON_DAYS = env_int("SCHEDULE_HORIZON_DAYS", 365)
DEFAULT_CLINIC_TIME_ZONE = os.environ.get("DEFAULT_CLINIC_TIME_ZONE", "America/New_York")
try:
    ZoneInfo(DEFAULT_CLINIC_TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(
        f"DEFAULT_CLINIC_TIME_ZONE must be an IANA time zone, not {DEFAULT_CLINIC_TIME_ZONE!r}."
    ) from None

# Hardening. Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER through SECURE_PROXY_SSL.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_HTTPONLY = True  # no script reads it
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if env_bool("SECURE_PROXY_SSL", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content Security Policy: nothing inline, nothing from elsewhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        # The service worker (/sw.js) and the web app manifest come from this site only.
        "worker-src": ["'self'"],
        "manifest-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"redact_secrets": {"()": "pumpcare.logging.RedactSecretsFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_secrets"]},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Request lines carry URLs (feed secrets, password-reset tokens): never log them.
        "django.server": {"handlers": [], "level": "CRITICAL", "propagate": False},
        "django.request": {"level": "ERROR"},
        "axes": {"level": "WARNING"},
    },
}
