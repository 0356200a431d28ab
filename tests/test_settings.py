"""The site refuses to start on a missing SECRET_KEY or a bad setting, with a message naming it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def start(**env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "DATABASE_URL")}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
    )


def test_production_refuses_to_start_without_secret_key():
    result = start(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_starts_with_the_development_key():
    result = start(DEBUG="1")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG must be true or false"),
        ({"DEBUG": "1", "SCHEDULE_HORIZON_DAYS": "a year"}, "SCHEDULE_HORIZON_DAYS must be a whole number"),
        ({"DEBUG": "1", "DATABASE_URL": "nosuchdb://x"}, "DATABASE_URL is not a database URL"),
        ({"DEBUG": "1", "DEFAULT_CLINIC_TIME_ZONE": "Mars/Olympus"}, "DEFAULT_CLINIC_TIME_ZONE must be an IANA"),
    ],
)
def test_bad_values_fail_at_start_with_a_clear_message(env, message):
    result = start(**env)
    assert result.returncode != 0
    assert message in result.stderr


def setting(name: str, **env) -> str:
    environ = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "DATABASE_URL")}
    environ.update(env)
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); from django.conf import settings; "
                               f"print(settings.{name})"],
        cwd=ROOT, env={**environ, "DJANGO_SETTINGS_MODULE": "pumpcare.settings"},
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


PRODUCTION = {"SECRET_KEY": "x" * 50, "DEBUG": "0"}


def test_production_sends_email_over_smtp_with_tls_by_default():
    assert setting("EMAIL_BACKEND", **PRODUCTION) == "django.core.mail.backends.smtp.EmailBackend"
    assert setting("EMAIL_USE_TLS", **PRODUCTION) == "True"


def test_production_refuses_the_console_email_backend_unless_meant():
    result = start(**PRODUCTION, EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend")
    assert result.returncode != 0 and "EMAIL_BACKEND is the console" in result.stderr
    meant = start(**PRODUCTION, EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend",
                  EMAIL_CONSOLE_IN_PRODUCTION="1", ALLOWED_HOSTS="pumpcare.example.org")
    assert meant.returncode == 0, meant.stderr


def test_production_hosts_do_not_include_the_test_client():
    assert "testserver" not in setting("ALLOWED_HOSTS", **PRODUCTION)
