"""Each person reads PumpCare in their language: the browser's before sign-in, the switch, their own setting."""

import datetime as dt

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from patients.models import Preferences
from portal import month_calendar
from schedules import progress
from tests.conftest import PASSWORD


def language_of(response) -> str:
    return response.content.decode().split('<html lang="', 1)[1].split('"', 1)[0]


def sign_in(client, username: str):
    return client.post(reverse("login"), {"username": username, "password": PASSWORD}, follow=True)


def test_the_browser_language_speaks_before_sign_in(client, db):
    response = client.get(reverse("login"), headers={"accept-language": "es-ES,es;q=0.9,en;q=0.5"})
    assert language_of(response) == "es"
    assert response["Content-Language"] == "es"
    assert "Cerrar sesión" not in response.content.decode()  # nobody signed in
    # The switch offers English by its own name (not "Inglés"), marked as English for screen readers.
    assert 'lang="en" class="btn btn-outline-light btn-sm">English</button>' in response.content.decode()


def test_an_unsupported_browser_language_gets_english(client, db):
    response = client.get(reverse("login"), headers={"accept-language": "de-DE,de;q=0.9"})
    assert language_of(response) == "en"


def test_the_switch_on_the_sign_in_page_changes_the_language_and_returns_to_the_page(client, db):
    response = client.post(reverse("set_language"), {"language": "es", "next": reverse("login")})
    assert response.status_code == 302 and response.url == reverse("login")
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    assert language_of(client.get(reverse("login"))) == "es"


def test_the_switch_refuses_an_unknown_language_and_a_foreign_next(client, db):
    response = client.post(reverse("set_language"), {"language": "xx", "next": "https://evil.example/"})
    assert response.status_code == 302 and response.url == "/"
    assert settings.LANGUAGE_COOKIE_NAME not in client.cookies


def test_the_switch_answers_post_only(client, db):
    assert client.get(reverse("set_language")).status_code == 405


def test_a_language_chosen_before_sign_in_becomes_the_persons_setting(client, patient_a):
    client.post(reverse("set_language"), {"language": "es", "next": "/"})
    response = sign_in(client, "patient_a")
    assert Preferences.objects.get(user=patient_a.user).language == "es"
    assert language_of(response) == "es"


def test_a_saved_setting_beats_the_browser_on_every_request(patient_a):
    Preferences.objects.create(user=patient_a.user, language="es")
    client = Client(headers={"accept-language": "en-US,en;q=0.9"})
    sign_in(client, "patient_a")
    response = client.get(reverse("home"))
    assert language_of(response) == "es"
    assert "Cerrar sesión" in response.content.decode()
    # The cookie follows the person, so the page after signing out speaks their language too.
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    response = client.post(reverse("logout"), follow=True)
    assert language_of(response) == "es"


def test_someone_who_never_chose_keeps_the_language_they_signed_in_with(patient_a):
    client = Client(headers={"accept-language": "es-MX,es;q=0.9"})
    sign_in(client, "patient_a")
    assert Preferences.objects.get(user=patient_a.user).language == "es"


def test_the_switch_saves_a_signed_in_persons_setting(client, patient_a):
    sign_in(client, "patient_a")
    assert Preferences.objects.get(user=patient_a.user).language == "en"
    client.post(reverse("set_language"), {"language": "es", "next": reverse("home")})
    assert Preferences.objects.get(user=patient_a.user).language == "es"
    assert language_of(client.get(reverse("home"))) == "es"
    # Another device, another browser language: still their Spanish.
    other = Client(headers={"accept-language": "en"})
    sign_in(other, "patient_a")
    assert language_of(other.get(reverse("home"))) == "es"


def test_staff_can_switch_before_their_second_factor(client, staff_a):
    sign_in(client, "staff_a")
    response = client.post(reverse("set_language"), {"language": "es", "next": reverse("two_factor_verify")})
    assert response.status_code == 302 and response.url == reverse("two_factor_verify")
    assert Preferences.objects.get(user=staff_a).language == "es"


def test_every_page_has_the_switch(client_for, patient_a):
    client = client_for(patient_a.user)
    for url in (reverse("home"), reverse("portal:living"), reverse("password_change")):
        assert f'action="{reverse("set_language")}"' in client.get(url).content.decode(), url


def test_urls_do_not_change_with_the_language(client_for, patient_a):
    """No /es/ prefix: a shared link or a calendar feed's address works in any language."""
    client = client_for(patient_a.user)
    client.post(reverse("set_language"), {"language": "es", "next": "/"})
    assert client.get(reverse("portal:patient_home", args=[patient_a.public_id])).status_code == 200
    assert client.get("/es/").status_code == 404


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "Tuesday 8 December"), ("es", "martes 8 de diciembre")],
)
def test_dates_are_said_in_the_language(language, expected):
    with translation.override(language):
        assert progress.long_date(dt.date(2026, 12, 8)) == expected


def test_relative_days_and_months_in_spanish():
    with translation.override("es"):
        assert progress.relative_day(dt.date(2026, 12, 13), dt.date(2026, 12, 8)) == "en 5 días"
        assert progress.relative_day(dt.date(2026, 12, 9), dt.date(2026, 12, 8)) == "mañana"
        month = month_calendar.month_grid(2026, 12, fills=[], today=dt.date(2026, 12, 8))
        assert month.title == "diciembre de 2026"
        assert month.weekday_names[1] == ("martes", "mar")
