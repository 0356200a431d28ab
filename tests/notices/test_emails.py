"""Reminders and change notices as they arrive at a real SMTP server: headers, both parts, discreet wording."""

import datetime as dt

from django.urls import reverse

from notices.models import Notice, Preference
from patients.models import Preferences as PersonPreferences
from schedules import services
from tests.notices.conftest import DRUG_WORDS, settle, walk
from tests.notices.smtp_server import html_part, text_part

UTC = dt.UTC


def test_a_reminder_and_a_change_notice_arrive_with_unsubscribe_headers_and_both_parts(
    smtp, carla, clinic_a, time_machine, client
):
    settle(time_machine)  # the planner has seen Carla's schedule: the first chemo is on Monday 16 March
    walk(time_machine, dt.datetime(2026, 3, 14, 13, 0, tzinfo=UTC))  # to Saturday 09:00 in New York
    [reminder] = smtp.inbox.to("carla@example.com")
    assert reminder["Subject"] == "Reminder: clinic visit on Monday 16 March"
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = reminder["List-Unsubscribe"].strip().strip("<>")
    assert unsubscribe.startswith("https://pumpcare.example.org/emails/unsubscribe/")
    text, html = text_part(reminder), html_part(reminder)
    assert "Your clinic visit is on Monday 16 March." in text and "+1 555 0100" in text
    assert f"https://pumpcare.example.org/p/{carla.public_id}/" in text
    assert "Your clinic visit is on Monday 16 March." in html and 'href="tel:+15550100"' in html
    for part in (text.lower(), html.lower(), reminder["Subject"].lower()):
        assert not any(word in part for word in DRUG_WORDS)
    [dans] = smtp.inbox.to("dan@example.com")
    assert "Carla" not in dans["Subject"] and "Carla's clinic visit is on Monday 16 March." in text_part(dans)

    # Sunday: the clinic closes on Monday. The morning-before reminder for Monday is never sent.
    walk(time_machine, dt.datetime(2026, 3, 15, 11, 0, tzinfo=UTC))  # 07:00 local: before the reminder
    services.closures_add(clinic=clinic_a, days={dt.date(2026, 3, 16): "Storm"})
    settle(time_machine)
    assert len(smtp.inbox.to("carla@example.com")) == 1  # not before 08:00 at the clinic
    walk(time_machine, dt.datetime(2026, 3, 15, 12, 0, tzinfo=UTC))
    [_, change] = smtp.inbox.to("carla@example.com")
    assert change["Subject"] == "Change: clinic visit moved to Tuesday 17 March" or (
        change["Subject"] == "Change to upcoming clinic visits"
    )
    assert ("Your clinic visit moved from Monday 16 March to Tuesday 17 March: the clinic is closed that day."
            in text_part(change))
    assert "Carla" not in change["Subject"]
    walk(time_machine, dt.datetime(2026, 3, 16, 13, 0, tzinfo=UTC))  # Monday 09:00
    subjects = [m["Subject"] for m in smtp.inbox.to("carla@example.com")]
    # The new date gets its own reminders: two days before (Sunday) and the morning before.
    assert subjects[2:] == [
        "Reminder: clinic visit on Tuesday 17 March", "Reminder: clinic visit tomorrow, Tuesday 17 March"
    ]
    assert not any("16 March" in s for s in subjects[1:])
    assert Notice.objects.filter(kind="reminder", fill_date=dt.date(2026, 3, 16), status="cancelled").exists()

    # The one-click unsubscribe of RFC 8058: a POST, no sign-in, no CSRF token.
    response = client.post(unsubscribe.replace("https://pumpcare.example.org", ""),
                           {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert Preference.objects.get(patient=carla, recipient_key="patient").unsubscribed_at is not None


def test_detailed_wording_names_the_drug_only_for_those_who_may_see_it(smtp, carla, time_machine):
    Preference.objects.create(patient=carla, recipient_key="patient", wording="detailed")
    dan = carla.caregiver_grants.get().user
    Preference.objects.create(patient=carla, recipient_key=f"caregiver:{dan.pk}", caregiver=dan, wording="detailed")
    settle(time_machine)
    walk(time_machine, dt.datetime(2026, 3, 14, 13, 0, tzinfo=UTC))
    [carlas] = smtp.inbox.to("carla@example.com")
    assert "The pump is filled with FUDR (chemotherapy), cycle 1." in text_part(carlas)
    assert "FUDR" not in carlas["Subject"]
    [dans] = smtp.inbox.to("dan@example.com")  # Carla has not allowed her caregivers the details
    assert not any(word in text_part(dans).lower() for word in DRUG_WORDS)


def test_no_email_leaves_the_patient_to_be_called(smtp, carla, clinic_a, staff_a, client_for, time_machine):
    carla.user.email = ""
    carla.user.save()
    settle(time_machine)
    services.closures_add(clinic=clinic_a, days={dt.date(2026, 3, 16): "Storm"})
    settle(time_machine)
    assert [m["To"] for m in smtp.inbox.messages] == ["dan@example.com"]
    page = client_for(staff_a).get(reverse("notices:patient", args=[carla.public_id])).content.decode()
    assert "No email: call" in page


def test_each_reader_gets_their_own_language(smtp, carla, time_machine):
    PersonPreferences.objects.create(user=carla.user, language="es")
    settle(time_machine)
    walk(time_machine, dt.datetime(2026, 3, 14, 13, 0, tzinfo=UTC))
    [carlas] = smtp.inbox.to("carla@example.com")
    assert carlas["Subject"].strip() == "Recordatorio: visita a la clínica el lunes 16 de marzo"
    assert "Su visita a la clínica es el lunes 16 de marzo." in text_part(carlas)
    assert '<html lang="es">' in html_part(carlas)
    [dans] = smtp.inbox.to("dan@example.com")  # Dan never chose: the site's language
    assert dans["Subject"] == "Reminder: clinic visit on Monday 16 March"
