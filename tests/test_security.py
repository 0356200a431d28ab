"""Sign-in hardening: second factor for staff, session limits, throttling, deploy settings, failure pages."""

import datetime as dt
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
from django.contrib.auth.hashers import get_hasher
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import OperationalError
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from patients import two_factor
from tests.conftest import NOW, PASSWORD, field_error, verified_totp_device

ROOT = Path(__file__).resolve().parent.parent


def code_for(device) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"


def signed_in_with_password(username: str) -> Client:
    client = Client()
    response = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


# Second factor -------------------------------------------------------------------------------------------


def test_staff_must_pass_the_second_factor_before_any_page(staff_a, patient_a):
    verified_totp_device(staff_a)
    client = signed_in_with_password("staff_a")
    response = client.get(reverse("staff:dashboard"))
    assert response.status_code == 302 and response.url.startswith(reverse("two_factor_verify"))
    assert client.get(f"/p/{patient_a.public_id}/").status_code == 302


def test_a_right_code_lets_staff_in_and_a_wrong_one_says_so(staff_a, time_machine):
    device = verified_totp_device(staff_a)
    client = signed_in_with_password("staff_a")
    wrong = client.post(reverse("two_factor_verify"), {"code": "000000", "next": "/clinic/"})
    assert wrong.status_code == 200 and "was not accepted" in wrong.content.decode()
    time_machine.move_to(NOW + dt.timedelta(seconds=5), tick=False)  # django-otp slows down guessing
    right = client.post(reverse("two_factor_verify"), {"code": code_for(device), "next": "/clinic/"})
    assert right.status_code == 302 and right.url == "/clinic/"
    assert client.get(reverse("staff:dashboard")).status_code == 200


def test_a_backup_code_works_once(staff_a):
    verified_totp_device(staff_a)
    code = two_factor.create_backup_codes(staff_a)[0]
    client = signed_in_with_password("staff_a")
    assert client.post(reverse("two_factor_verify"), {"code": code}).status_code == 302
    assert not StaticToken.objects.filter(token=code).exists()
    again = signed_in_with_password("staff_a")
    assert again.post(reverse("two_factor_verify"), {"code": code}).status_code == 200


def test_a_backup_code_is_accepted_as_copied_from_paper(staff_a):
    """Capitals and a space in the middle ("SV3S ONLK"), and no number pad: backup codes have letters."""
    verified_totp_device(staff_a)
    code = two_factor.create_backup_codes(staff_a)[0]
    typed = f"{code[:4].upper()} {code[4:].upper()}"
    client = signed_in_with_password("staff_a")
    page = client.get(reverse("two_factor_verify")).content.decode()
    assert 'inputmode="numeric"' not in page
    assert client.post(reverse("two_factor_verify"), {"code": typed}).status_code == 302
    assert not StaticToken.objects.filter(token=code).exists()


def test_first_sign_in_of_staff_pairs_an_app_and_shows_backup_codes(staff_a):
    client = signed_in_with_password("staff_a")
    response = client.get(reverse("two_factor_verify"))
    assert response.status_code == 302 and response.url.startswith(reverse("two_factor_setup"))
    page = client.get(reverse("two_factor_setup"))
    assert page.status_code == 200 and b"data:image/svg+xml" in page.content
    done = client.post(reverse("two_factor_setup"), setup_answer(page))
    assert done.status_code == 200 and len(done.context["codes"]) == two_factor.BACKUP_CODE_COUNT
    assert staff_a.totpdevice_set.get().confirmed
    assert client.get(reverse("staff:dashboard")).status_code == 200


def setup_answer(page) -> dict:
    """What the person does with the set-up page: add the key to their app, then type its current code."""
    from base64 import b32decode

    device = TOTPDevice(key=b32decode(page.context["secret"]).hex())
    return {"code": code_for(device), "setup": page.context["setup"]}


def test_showing_the_set_up_page_writes_nothing(staff_a):
    client = signed_in_with_password("staff_a")
    for _ in range(3):
        assert client.get(reverse("two_factor_setup")).status_code == 200
    assert not TOTPDevice.objects.filter(user=staff_a).exists()


def test_only_staff_and_admins_set_up_a_second_factor(patient_a, caregiver_a, outsider):
    for username in ("patient_a", "caregiver_a", "outsider"):
        client = signed_in_with_password(username)
        assert client.get(reverse("two_factor_setup")).status_code == 404
        assert client.post(reverse("two_factor_setup"), {"code": "123456"}).status_code == 404
    assert not TOTPDevice.objects.exists()


def test_a_set_up_key_cannot_be_forged_or_taken_from_someone_else(staff_a, staff_b):
    other = signed_in_with_password("staff_b")
    answer = setup_answer(other.get(reverse("two_factor_setup")))
    client = signed_in_with_password("staff_a")
    assert client.post(reverse("two_factor_setup"), answer).status_code == 200
    assert not TOTPDevice.objects.filter(user=staff_a, confirmed=True).exists()


def test_the_session_key_changes_after_the_second_factor(staff_a, time_machine):
    device = verified_totp_device(staff_a)
    client = signed_in_with_password("staff_a")
    before = client.session.session_key
    time_machine.move_to(NOW + dt.timedelta(seconds=5), tick=False)
    assert client.post(reverse("two_factor_verify"), {"code": code_for(device)}).status_code == 302
    assert client.session.session_key != before
    assert client.get(reverse("staff:dashboard")).status_code == 200


def test_the_session_key_changes_after_setting_up_the_second_factor(staff_a):
    client = signed_in_with_password("staff_a")
    page = client.get(reverse("two_factor_setup"))
    before = client.session.session_key
    assert client.post(reverse("two_factor_setup"), setup_answer(page)).status_code == 200
    assert client.session.session_key != before


def test_patients_need_no_second_factor(patient_a):
    client = signed_in_with_password("patient_a")
    assert client.get(reverse("home"), follow=True).status_code == 200
    chain = client.get(reverse("home"), follow=True).redirect_chain
    assert reverse("two_factor_verify") not in [url for url, _ in chain]


def test_the_next_parameter_cannot_send_staff_elsewhere(staff_a):
    device = verified_totp_device(staff_a)
    client = signed_in_with_password("staff_a")
    response = client.post(reverse("two_factor_verify"), {"code": code_for(device), "next": "https://evil.example/"})
    assert response.url == "/"


# Sessions -------------------------------------------------------------------------------------------------


def test_staff_are_signed_out_after_30_idle_minutes(staff_a, client_for, time_machine):
    client = client_for(staff_a)
    assert client.get(reverse("staff:dashboard")).status_code == 200
    time_machine.move_to(NOW + dt.timedelta(minutes=29), tick=False)
    assert client.get(reverse("staff:dashboard")).status_code == 200
    time_machine.move_to(NOW + dt.timedelta(minutes=29 + 31), tick=False)
    response = client.get(reverse("staff:dashboard"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert client.get(reverse("staff:dashboard")).url.startswith(reverse("login"))
    assert "signed out after 30 minutes without activity" in client.get(response.url).content.decode()


def test_everyone_is_signed_out_when_idle_and_told_why(patient_a, client_for, time_machine, settings):
    assert settings.IDLE_TIMEOUT_SECONDS == 2 * 60 * 60 and settings.STAFF_IDLE_TIMEOUT_SECONDS == 30 * 60
    client = client_for(patient_a.user)
    time_machine.move_to(NOW + dt.timedelta(hours=1, minutes=59), tick=False)
    assert client.get(reverse("home")).status_code == 200
    time_machine.move_to(NOW + dt.timedelta(hours=4), tick=False)
    signed_out = client.get(reverse("home"), follow=True)
    assert signed_out.redirect_chain[0][0].startswith(reverse("login"))
    assert "signed out after 2 hours without activity" in signed_out.content.decode()


def test_the_idle_timeout_is_configurable(patient_a, client_for, time_machine, settings):
    settings.IDLE_TIMEOUT_SECONDS = 15 * 60
    client = client_for(patient_a.user)
    time_machine.move_to(NOW + dt.timedelta(minutes=16), tick=False)
    assert "signed out after 15 minutes" in client.get(reverse("home"), follow=True).content.decode()


def test_no_session_outlives_12_hours_even_when_active(patient_a, client_for, time_machine):
    client = client_for(patient_a.user)
    for hours in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12):  # active all day: still ends at 12 hours
        time_machine.move_to(NOW + dt.timedelta(hours=hours, minutes=1), tick=False)
        response = client.get(reverse("home"))
        assert (response.status_code == 200) == (hours < 12)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


# Passwords and throttling --------------------------------------------------------------------------------


def test_passwords_are_hashed_with_argon2():
    from pumpcare import settings as site_settings  # as configured, before the tests' cheaper Argon2 costs

    assert site_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_test_users_are_hashed_with_argon2_too(patient_a):
    assert patient_a.user.password.startswith("argon2")
    assert get_hasher().algorithm == "argon2"


@pytest.mark.parametrize("password", ["short-pass1", "password1234", "123456789012", "Password123!", "Summer2026!!",
                                      "qwertyuiopas", "Winter2025!!!"])
def test_weak_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password)


def test_repeated_failed_sign_ins_are_throttled_with_a_clear_page(patient_a, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "patient_a", "password": "wrong"})
    locked = client.post(reverse("login"), {"username": "patient_a", "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many sign-in attempts" in locked.content.decode()
    # Another address is not locked out of the same account.
    other = Client(REMOTE_ADDR="10.9.8.7")
    assert other.post(reverse("login"), {"username": "patient_a", "password": PASSWORD}).status_code == 302


def test_a_refused_password_says_why(patient_a, client_for):
    response = client_for(patient_a.user).post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": "Summer2026!!", "new_password2": "Summer2026!!"})
    assert response.status_code == 200
    errors = field_error(response, "id_new_password2")
    assert "too guessable" in errors and "would take an offline attacker" in errors, errors


@pytest.mark.parametrize("password", ["correct-horse-battery-staple", "tulip-window-88-harbor", "Infusion!Day42"])
def test_strong_passwords_are_accepted(password):
    validate_password(password)


# Deployment settings -------------------------------------------------------------------------------------


def test_deploy_check_with_production_settings_gives_no_warnings(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "DEBUG", "PUMPCARE_", "DJANGO_ALLOW"))}
    env.update(SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="pumpcare.example.org", DEBUG="0")
    # A deploy has collected its static files (pumpcare.E001 otherwise; tests/test_production.py runs the real
    # collectstatic): the manifest is enough for the check.
    (tmp_path / "staticfiles.json").write_text('{"paths": {}, "version": "1.1"}')
    env["STATIC_ROOT"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout


def test_security_headers_on_every_page(client, db):
    response = client.get(reverse("login"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


# Health and failure --------------------------------------------------------------------------------------


def test_healthz_needs_no_database(client, db):
    with mock.patch("django.db.backends.base.base.BaseDatabaseWrapper.ensure_connection", side_effect=OperationalError):
        response = client.get(reverse("healthz"))
    assert response.status_code == 200


def test_readyz_reports_the_database(client, db):
    assert client.get(reverse("readyz")).status_code == 200
    with mock.patch("django.db.backends.base.base.BaseDatabaseWrapper.ensure_connection", side_effect=OperationalError):
        assert client.get(reverse("readyz")).status_code == 503


def test_pages_answer_a_plain_503_while_the_database_is_down_and_recover(client_for, patient_a):
    client = client_for(patient_a.user)
    client.raise_request_exception = False
    with mock.patch(
        "django.db.backends.base.base.BaseDatabaseWrapper.ensure_connection",
        side_effect=OperationalError("could not connect to server: Connection refused"),
    ):
        response = client.get(reverse("home"))
    assert response.status_code == 503
    body = response.content.decode()
    assert "briefly unavailable" in body and "Connection refused" not in body and "Traceback" not in body
    assert client.get(reverse("home"), follow=True).status_code == 200


def test_a_server_error_page_leaks_nothing(client_for, patient_a):
    client = client_for(patient_a.user)
    client.raise_request_exception = False
    with mock.patch("portal.views.render", side_effect=RuntimeError("secret detail Alice Ames")):
        response = client.get(reverse("home"), follow=True)
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body and "Alice" not in body and "secret detail" not in body


def test_not_found_pages_leak_nothing(client_for, staff_a, patient_b):
    response = client_for(staff_a).get(f"/p/{patient_b.public_id}/")
    assert response.status_code == 404
    assert patient_b.name not in response.content.decode()


def test_secret_links_never_reach_the_logs():
    import logging

    from pumpcare.logging import RedactSecretsFilter

    record = logging.LogRecord(
        "django.request", logging.ERROR, __file__, 1, "Internal Server Error: %s", ("/feeds/s3cr3tT0ken.ics",), None
    )
    RedactSecretsFilter().filter(record)
    assert "s3cr3tT0ken" not in record.getMessage()
    reset = logging.LogRecord("x", logging.ERROR, __file__, 1, "GET /accounts/reset/MQ/abc-123def/ 500", (), None)
    RedactSecretsFilter().filter(reset)
    assert "abc-123def" not in reset.getMessage()


def test_no_email_backend_prints_a_sign_in_link(patient_a, capsys, settings):
    """The console backend (development, or production when explicitly chosen) prints emails without links."""
    from django.core import mail

    from patients import services

    settings.EMAIL_BACKEND = "pumpcare.mail.RedactingConsoleBackend"
    services.set_password_email_send(user=patient_a.user, base_url="https://pumpcare.example.org",
                                     template="staff_patient_invite")
    mail.send_mail("Your calendar", "Add https://pumpcare.example.org/feeds/s3cr3tT0ken.ics", None, ["a@example.com"])
    printed = capsys.readouterr().out
    assert "/accounts/reset/[redacted]/" in printed
    assert "s3cr3tT0ken" not in printed
    uid_and_token = printed.count("/accounts/reset/") - printed.count("/accounts/reset/[redacted]/")
    assert uid_and_token == 0


def test_the_console_backend_prints_an_html_email_with_its_links_cut(settings, capsys):
    """Notices are sent as text and HTML: `make run`'s console backend must print both parts, links redacted."""
    from django.core import mail

    settings.EMAIL_BACKEND = "pumpcare.mail.RedactingConsoleBackend"
    message = mail.EmailMultiAlternatives(
        "Reminder", "Reset: https://pumpcare.example.org/accounts/reset/MQ/abc-123def/", None, ["a@example.com"]
    )
    message.attach_alternative('<a href="https://pumpcare.example.org/feeds/s3cr3tT0ken.ics">feed</a>', "text/html")
    message.send()
    printed = capsys.readouterr().out
    assert "text/html" in printed
    assert "abc-123def" not in printed and "s3cr3tT0ken" not in printed
