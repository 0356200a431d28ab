"""Sign-in throttling behind a proxy: nobody locks someone else out, and guessing one account from many
addresses is slowed (issue 10, "Lockout behind a proxy")."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import NOW, PASSWORD

PROXY = "10.0.0.1"


def via_proxy(address: str, forwarded_for: str | None = None) -> Client:
    """A browser at `address` reaching the site through one TLS proxy that appends what it saw."""
    chain = f"{forwarded_for}, {address}" if forwarded_for else address
    return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=chain)


def sign_in(client: Client, password: str = PASSWORD, username: str = "patient_a"):
    return client.post(reverse("login"), {"username": username, "password": password})


@pytest.fixture
def behind_one_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1


def test_behind_a_proxy_an_attacker_does_not_lock_out_the_real_user(behind_one_proxy, patient_a, settings):
    attacker = via_proxy("203.0.113.9")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(attacker, "wrong password 1")
    assert sign_in(attacker).status_code == 429
    assert sign_in(via_proxy("198.51.100.7")).status_code == 302


def test_a_forged_forwarded_for_does_not_escape_the_lock(behind_one_proxy, patient_a, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(via_proxy("203.0.113.9", forwarded_for=f"192.0.2.{n}"), "wrong password 1")
    # The proxy appended the real address after whatever the client sent: that one is locked.
    assert sign_in(via_proxy("203.0.113.9", forwarded_for="192.0.2.200")).status_code == 429


def test_without_a_trusted_proxy_the_forwarded_header_is_ignored(patient_a, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}"), "wrong password 1")
    assert sign_in(Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="192.0.2.99")).status_code == 429


def spread_failures(settings) -> None:
    """Wrong passwords for one account from many addresses, each below its own lockout."""
    for n in range(settings.SIGNIN_USERNAME_FAILURES):
        sign_in(Client(REMOTE_ADDR=f"192.0.2.{n}"), "wrong password 1")


def test_guessing_one_account_from_many_addresses_is_slowed(patient_a, settings, time_machine):
    time_machine.move_to(NOW, tick=False)
    spread_failures(settings)
    first = sign_in(Client(REMOTE_ADDR="198.51.100.1"), "wrong password 2")
    assert first.status_code == 200 and "enter a correct" in first.content.decode()
    # Within the interval, the next guess from anywhere is not even checked.
    slowed = sign_in(Client(REMOTE_ADDR="198.51.100.2"), PASSWORD)
    assert slowed.status_code == 429
    assert "wait" in slowed.content.decode() and "seconds" in slowed.content.decode()


def test_the_slowdown_never_locks_the_real_user_out(patient_a, settings, time_machine):
    time_machine.move_to(NOW, tick=False)
    spread_failures(settings)
    real_user = Client(REMOTE_ADDR="198.51.100.50")
    sign_in(Client(REMOTE_ADDR="198.51.100.1"), "wrong password 2")  # the attacker takes the slot
    assert sign_in(real_user).status_code == 429
    time_machine.move_to(NOW + dt.timedelta(seconds=settings.SIGNIN_USERNAME_INTERVAL_SECONDS + 1), tick=False)
    assert sign_in(real_user).status_code == 302


def test_a_browser_that_signed_in_before_is_not_slowed(patient_a, settings, time_machine):
    time_machine.move_to(NOW, tick=False)
    known = Client(REMOTE_ADDR="198.51.100.50")
    assert sign_in(known).status_code == 302
    known.post(reverse("logout"))
    spread_failures(settings)
    sign_in(Client(REMOTE_ADDR="198.51.100.1"), "wrong password 2")
    assert sign_in(known).status_code == 302


# Password reset --------------------------------------------------------------------------------------------


def ask_reset(client: Client, email: str = "patient_a@example.com"):
    return client.post(reverse("password_reset"), {"email": email})


def test_reset_emails_to_one_address_are_limited(patient_a, settings, mailoutbox):
    for n in range(settings.PASSWORD_RESET_PER_ADDRESS + 5):
        response = ask_reset(Client(REMOTE_ADDR=f"192.0.2.{n}"))
        # The page reads the same either way: it never tells whether an account exists or was limited.
        assert response.status_code == 302 and response.url == reverse("password_reset_done")
    assert len(mailoutbox) == settings.PASSWORD_RESET_PER_ADDRESS


def test_reset_requests_from_one_client_are_limited(patient_a, settings, mailoutbox):
    client = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(settings.PASSWORD_RESET_PER_CLIENT):
        assert ask_reset(client, f"someone{n}@example.com").status_code == 302
    refused = ask_reset(client)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert mailoutbox == []
    assert ask_reset(Client(REMOTE_ADDR="198.51.100.7")).status_code == 302
    assert len(mailoutbox) == 1


def test_the_reset_limit_opens_again_after_an_hour(patient_a, settings, mailoutbox, time_machine):
    time_machine.move_to(NOW, tick=False)
    for _ in range(settings.PASSWORD_RESET_PER_ADDRESS + 1):
        ask_reset(Client())
    time_machine.move_to(NOW + dt.timedelta(hours=1, minutes=1), tick=False)
    ask_reset(Client())
    assert len(mailoutbox) == settings.PASSWORD_RESET_PER_ADDRESS + 1
