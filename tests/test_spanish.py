"""A Spanish-speaking patient meets no English word: pages, emails and notices in Spanish."""

import datetime as dt
import re

import icalendar
import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from feeds import subscriptions
from patients.models import CaregiverAccess, Preferences
from schedules import services
from schedules.models import CalendarSubscription
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
        reverse("feeds:subscriptions", args=[pid]),
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


def test_a_spanish_discreet_feed_carries_no_patient_identifier_and_no_drug_name(client, patient_a, staff_a):
    """The subscriber chose Spanish: the titles are Spanish, and as discreet as the English ones."""
    services.fill_record(plan=patient_a.plan, date=TODAY - dt.timedelta(days=1), infusate="fudr", by=staff_a)
    _subscription, token = subscriptions.subscription_create(
        patient=patient_a, name="Teléfono", detail="discreet", by=patient_a.user, language="es"
    )
    body = client.get(reverse("feeds:feed", kwargs={"token": token})).content
    calendar = icalendar.Calendar.from_ical(body)
    assert str(calendar["X-WR-CALNAME"]) == "Visitas a la clínica"
    summaries = {str(event["SUMMARY"]) for event in calendar.walk("VEVENT")}
    assert summaries and summaries <= {"Visita a la clínica", "Visita a la clínica (atrasado: llame a la clínica)"}
    lowered = body.lower().replace(b"pumpcare", b"")
    dob = patient_a.date_of_birth
    for identifier in ("Alice", "Ames", "A-100", str(patient_a.public_id), patient_a.public_id.hex,
                       dob.isoformat(), dob.strftime("%Y%m%d"), "Clinic A", "/p/"):
        assert identifier.lower().encode() not in lowered, identifier
    for medical in ("fudr", "salina", "saline", "quimio", "chemo", "bomba", "pump", "infus", "hepar", "glicerina"):
        assert medical.encode() not in lowered, medical


def test_a_spanish_detailed_feed_speaks_spanish_and_keeps_english_uids_apart(client, patient_a):
    _english, english_token = subscriptions.subscription_create(
        patient=patient_a, name="Phone", detail="detailed", by=patient_a.user
    )
    _spanish, spanish_token = subscriptions.subscription_create(
        patient=patient_a, name="Teléfono", detail="detailed", by=patient_a.user, language="es"
    )
    english = icalendar.Calendar.from_ical(client.get(reverse("feeds:feed", kwargs={"token": english_token})).content)
    spanish = icalendar.Calendar.from_ical(client.get(reverse("feeds:feed", kwargs={"token": spanish_token})).content)
    assert str(english["X-WR-CALNAME"]) == "Pump refills" and str(spanish["X-WR-CALNAME"]) == "Rellenos de la bomba"
    spanish_summaries = {str(e["SUMMARY"]) for e in spanish.walk("VEVENT")}
    assert "Relleno de la bomba: empieza FUDR" in spanish_summaries
    assert "Relleno de la bomba: solución salina heparinizada" in spanish_summaries
    # Two calendars of one patient: no event of one may update (or be mistaken for) an event of the other.
    assert not {str(e["UID"]) for e in english.walk("VEVENT")} & {str(e["UID"]) for e in spanish.walk("VEVENT")}


def test_the_calendar_link_form_keeps_the_chosen_language(client_for, patient_a):
    client = client_for(patient_a.user)
    url = reverse("feeds:subscriptions", args=[patient_a.public_id])
    client.post(url, {"name": "Teléfono de María", "detail": "discreet", "language": "es"})
    assert CalendarSubscription.objects.get(name="Teléfono de María").language == "es"
    response = client.post(url, {"name": "Bad", "detail": "discreet", "language": "xx"})
    assert response.status_code == 400 and not CalendarSubscription.objects.filter(name="Bad").exists()
