"""A Spanish-speaking patient meets no English word: pages, emails and notices in Spanish."""

import datetime as dt
import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from patients.models import CaregiverAccess, Preferences
from tests.conftest import PASSWORD, TODAY, make_clinic, make_patient, make_user

# Everyday English words that no Spanish sentence uses: one of them on a Spanish page is an untranslated text.
ENGLISH = {
    "the", "and", "your", "you", "refill", "refills", "pump", "next", "calendar", "print", "sign", "clinic", "of",
    "to", "is", "with", "day", "days", "cycle", "rest", "today", "tomorrow", "month", "week", "what", "when",
    "where", "who", "goes", "on", "at", "for", "from", "see", "whole", "therapy", "schedule", "link", "links",
    "email", "emails", "password", "change", "back", "home", "page", "skip", "main", "content", "living",
    "subscribe", "planned", "given", "overdue", "hold", "held", "saline", "heparinized", "glycerin", "surgery",
    "maintenance", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january",
    "february", "march", "april", "june", "july", "august", "september", "october", "november", "december",
    "previous", "closed", "now", "this", "that", "here", "please", "call", "questions", "feeling", "unwell",
}
TAGS = re.compile(r"<script.*?</script>|<style.*?</style>|<[^>]+>", re.S)
SPOKEN = re.compile(r'(?:aria-label|title|alt|placeholder)="([^"]*)"')


def english_words(html: str) -> set[str]:
    """English words a person reads or hears on the page: its text and the attributes screen readers announce."""
    text = " ".join([TAGS.sub(" ", html), *SPOKEN.findall(html)])
    return {w for w in re.findall(r"[A-Za-z]+", text) if w.lower() in ENGLISH}


@pytest.fixture
def ana(db, frozen):
    """A Spanish-speaking patient with a Spanish-named clinic, so names add no English of their own."""
    clinic = make_clinic("Hospital Azul", time_zone="America/New_York")
    user = make_user("ana")
    Preferences.objects.create(user=user, language="es")
    return make_patient(clinic, "Ana López", "E-1", surgery=TODAY - dt.timedelta(days=20), user=user)


def signed_in(username: str) -> Client:
    client = Client()
    client.post(reverse("login"), {"username": username, "password": PASSWORD})
    return client


def test_the_patients_pages_have_no_english_word(ana):
    client = signed_in("ana")
    pid = ana.public_id
    urls = [
        reverse("home"),
        reverse("portal:patient_home", args=[pid]),
        reverse("portal:therapy", args=[pid]),
        reverse("portal:calendar_month", args=[pid, TODAY.year, TODAY.month]),
        reverse("portal:calendar_month", args=[pid, TODAY.year, TODAY.month - 1]),
        reverse("portal:print", args=[pid]),
        reverse("portal:living"),
        reverse("password_change"),
        reverse("notices:preferences", args=[pid]),
    ]
    for url in urls:
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert '<html lang="es">' in html, url
        assert not english_words(html), (url, english_words(html))


def test_the_pages_before_sign_in_have_no_english_word(db):
    client = Client(headers={"accept-language": "es"})
    for url in (reverse("login"), reverse("password_reset"), reverse("password_reset_done"), "/no-such-page/"):
        html = client.get(url).content.decode()
        assert not english_words(html), (url, english_words(html))


def test_the_word_check_finds_english():
    assert english_words('<p>Su próximo relleno</p><a aria-label="Next refill">x</a>') == {"Next", "refill"}
    assert english_words("<p>martes 8 de diciembre: quimioterapia (FUDR)</p>") == set()


def test_a_spanish_speakers_password_reset_email_is_in_spanish(client, ana):
    ana.user.email = "ana@example.com"
    ana.user.save()
    client.post(reverse("password_reset"), {"email": "ana@example.com"})  # asked from an English browser
    (message,) = mail.outbox
    assert message.subject == "Elija una nueva contraseña de PumpCare"
    assert "Para elegir una nueva contraseña, abra este enlace:" in message.body
    assert not english_words(message.body.replace("PumpCare", ""))


def test_an_invitation_goes_out_in_the_language_staff_chose(client_for, staff_a, patient_a):
    client = client_for(staff_a)
    client.post(
        reverse("staff:caregiver_grant", args=[patient_a.public_id]),
        {"caregiver-email": "maria@example.com", "caregiver-language": "es"},
    )
    (message,) = mail.outbox
    assert message.subject == "Ya puede seguir a un paciente en PumpCare"
    assert "Su nombre de usuario es su correo electrónico: maria@example.com" in message.body
    # The staff member's own page stayed English.
    assert Preferences.objects.get(user__username="maria@example.com").language == "es"


def test_staff_cannot_override_a_language_the_person_chose(client_for, staff_a, patient_a):
    user = make_user("maria@example.com")
    user.email = "maria@example.com"
    user.save()
    Preferences.objects.create(user=user, language="en")
    client_for(staff_a).post(
        reverse("staff:caregiver_grant", args=[patient_a.public_id]),
        {"caregiver-email": "maria@example.com", "caregiver-language": "es"},
    )
    assert CaregiverAccess.objects.filter(user=user).exists()
    assert Preferences.objects.get(user=user).language == "en"
    assert mail.outbox[0].subject == "You can now follow a patient on PumpCare"
