"""A patient invites and removes their own caregivers, with an expiry they choose; staff still can too."""

import datetime as dt

from django.core import mail
from django.urls import reverse

from patients.models import CaregiverAccess, StaffMembership
from tests.conftest import TODAY, make_user
from tests.test_patient_pages import text


def page(patient):
    return reverse("portal:caregivers", args=[patient.public_id])


def test_patient_invites_a_caregiver_until_a_day_and_access_ends_after_it(client_for, patient_a, time_machine):
    client = client_for(patient_a.user)
    last_day = TODAY + dt.timedelta(days=7)
    response = client.post(page(patient_a), {"email": "sam@example.com", "expires_on": last_day.isoformat()},
                           follow=True)
    assert "Invitation emailed to sam@example.com." in text(response)
    assert "sam@example.com : until the end of Tue 17 Mar 2026" in text(response)
    assert mail.outbox[-1].to == ["sam@example.com"] and "A patient invited you" in mail.outbox[-1].body
    grant = CaregiverAccess.objects.get(user__username="sam@example.com")
    assert grant.granted_by == patient_a.user
    sam = grant.user
    sam.set_password("a long caregiver password")
    sam.save()
    home = reverse("portal:patient_home", args=[patient_a.public_id])
    time_machine.move_to(dt.datetime(2026, 3, 17, 23, 59, tzinfo=patient_a.clinic.zone), tick=False)
    assert client_for(sam).get(home).status_code == 200  # the last day still counts, to its end
    time_machine.move_to(dt.datetime(2026, 3, 18, 0, 0, 1, tzinfo=patient_a.clinic.zone), tick=False)
    assert client_for(sam).get(home).status_code in (302, 404)  # signed out or not found: never the page


def test_patient_removes_a_caregiver_after_confirming(client_for, patient_a, caregiver_a):
    client = client_for(patient_a.user)
    body = client.get(page(patient_a)).content.decode()
    assert "Yes, remove caregiver_a@example.com</button>" in body
    grant = CaregiverAccess.objects.get(user=caregiver_a)
    response = client.post(reverse("portal:caregiver_remove", args=[patient_a.public_id, grant.pk]), follow=True)
    assert "caregiver_a@example.com can no longer see your pages." in text(response)
    home = reverse("portal:patient_home", args=[patient_a.public_id])
    assert client_for(caregiver_a).get(home).status_code in (302, 404)  # never the page


def test_refused_staff_and_own_email_past_days(client_for, patient_a, staff_a):
    client = client_for(patient_a.user)
    for email, message in (
        ("staff_a@example.com", "This email belongs to clinic staff"),
        ("PATIENT_A@example.com", "This is the patient's own email"),
    ):
        response = client.post(page(patient_a), {"email": email})
        assert response.status_code == 400 and message in text(response)
    admin = make_user("root@example.com", is_staff=True)
    response = client.post(page(patient_a), {"email": admin.username})
    assert "clinic staff" in text(response)
    response = client.post(page(patient_a), {"email": "x@example.com", "expires_on": "2026-03-09"})
    assert response.status_code == 400 and "Choose today or a later day." in text(response)
    assert not CaregiverAccess.objects.filter(patient=patient_a).exists()


def test_staff_form_refuses_the_patients_own_email_and_staff(client_for, staff_a, patient_a, clinic_a):
    other_staff = make_user("nurse2@example.com")
    StaffMembership.objects.create(user=other_staff, clinic=clinic_a)
    url = reverse("staff:caregiver_grant", args=[patient_a.public_id])
    for email in ("patient_a@example.com", "nurse2@example.com", "staff_a@example.com"):
        response = client_for(staff_a).post(url, {"caregiver-email": email}, follow=True)
        assert "own email" in text(response)
    assert not CaregiverAccess.objects.filter(patient=patient_a).exists()


def test_only_the_patient_manages_caregivers(client_for, patient_a, caregiver_a, staff_b, outsider):
    assert client_for(caregiver_a).get(page(patient_a)).status_code == 404
    assert client_for(caregiver_a).post(page(patient_a), {"email": "z@example.com"}).status_code == 404
    for user in (staff_b, outsider):
        assert client_for(user).get(page(patient_a)).status_code == 404
    grant = CaregiverAccess.objects.get(user=caregiver_a)
    remove = reverse("portal:caregiver_remove", args=[patient_a.public_id, grant.pk])
    assert client_for(patient_a.user).get(remove).status_code == 405
    assert client_for(caregiver_a).post(remove).status_code == 404
    missing = reverse("portal:caregiver_remove", args=[patient_a.public_id, 999])
    assert client_for(patient_a.user).post(missing).status_code == 404
    assert CaregiverAccess.objects.active().filter(user=caregiver_a).exists()
    # The caregiver's tab bar has no Caregivers tab; the patient's has.
    therapy = reverse("portal:therapy", args=[patient_a.public_id])
    assert ">Caregivers</a>" not in client_for(caregiver_a).get(therapy).content.decode()
    assert ">Caregivers</a>" in client_for(patient_a.user).get(therapy).content.decode()
