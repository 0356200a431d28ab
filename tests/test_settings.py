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
