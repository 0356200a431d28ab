"""Living with the pump: "call now" first with the right numbers, concrete thresholds, sources, the tab bar."""

import re

from django.urls import reverse

from patients.models import CaregiverAccess
from schedules.models import ClinicClosure
from tests.conftest import TODAY, make_clinic, make_patient, make_user
from tests.test_patient_pages import text

LIVING = reverse("portal:living")


def test_call_now_comes_first_with_concrete_thresholds(client):
    words = text(client.get(LIVING))
    headings = re.findall(r"<h2[^>]*>([^<]+)</h2>", client.get(LIVING).content.decode())
    assert headings[0] == "Call now if you have"
    for threshold in (
        "fever of 100.4°F (38°C) or higher",
        "pain in your belly",
        "vomiting more than once in a day",
        "4 or more loose stools in a day",
        "yellow skin or yellow eyes (jaundice)",
        "redness, swelling, warmth, fluid leaking, or new pain",
        "the pump can run dry and its tube can clot",
    ):
        assert threshold in words
    for topic in ("FUDR (floxuridine) is the chemotherapy", "Heparinized saline is salt water with a little heparin",
                  "ask the clinic before you fly", "Travel", "MRI"):
        assert topic in words
    # Not signed in: no clinic to name, so say where the numbers are.
    assert "on your pump ID card and your printed schedule" in words


def test_sources_are_cited(client):
    words = text(client.get(LIVING))
    sources = words.split("Sources", 1)[1]
    for source in ("Memorial Sloan Kettering", "UPMC", "Penn Medicine", "Yale Medicine", "Intera 3000"):
        assert source in sources


def test_signed_in_patient_sees_their_clinic_numbers_and_keeps_the_tab_bar(client_for, patient_a, clinic_a):
    clinic_a.after_hours_phone = "+1 555 0199"
    clinic_a.save()
    response = client_for(patient_a.user).get(LIVING)
    body, words = response.content.decode(), text(response)
    call_now = words.split("Call now if you have", 1)[1].split("Never miss a refill", 1)[0]
    assert "Call Clinic A: +1 555 0100 (after hours: +1 555 0199" in call_now
    assert 'href="tel:+15550199"' in body
    assert 'aria-label="Your pages"' in body and reverse("portal:therapy", args=[patient_a.public_id]) in body
    # On a closure day, the after-hours number is the one to call.
    ClinicClosure.objects.create(clinic=clinic_a, date=TODAY, name="Holiday")
    assert "Call the after-hours number: +1 555 0199." in text(client_for(patient_a.user).get(LIVING))


def test_caregiver_of_two_clinics_sees_both_numbers(client_for, caregiver_a, patient_a, clinic_a):
    other = make_clinic("Clinic C")
    other.after_hours_phone = "+1 555 0300"
    other.save()
    second = make_patient(other, "Cy Second", "C-1", surgery=TODAY, user=make_user("cy"))
    CaregiverAccess.objects.create(patient=second, user=caregiver_a)
    words = text(client_for(caregiver_a).get(LIVING))
    assert "Clinic A: +1 555 0100" in words and "Clinic C: +1 555 0100 (after hours: +1 555 0300" in words
