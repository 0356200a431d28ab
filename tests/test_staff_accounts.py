"""Sign-ins for patients and caregivers: created by staff, a set-your-password link by email, revocable."""

import re

from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from patients import access
from patients.models import CaregiverAccess, Patient
from tests.conftest import TODAY, make_patient
from tests.staff_fixtures import messages_of

User = get_user_model()


NEW_PASSWORD = "a-new-long-password-42"


def follow_link_and_set_password(client, body: str, password: str = NEW_PASSWORD):
    link = re.search(r"https?://\S+", body).group(0)
    response = client.get(link, follow=True)  # Django swaps the token for a session key and redirects
    assert response.status_code == 200
    form_url = response.redirect_chain[-1][0]
    return client.post(form_url, {"new_password1": password, "new_password2": password})


def test_create_a_patients_sign_in_emails_a_working_link(client_for, client, staff_a, clinic_a):
    patient = make_patient(clinic_a, "Paula Patient", "A-600", surgery=TODAY)
    url = reverse("staff:patient_login_create", args=[patient.public_id])
    response = client_for(staff_a).post(url, {"email": "paula@example.com"}, follow=True)
    user = Patient.objects.get(pk=patient.pk).user
    assert user.username == "paula@example.com" and not user.has_usable_password()
    assert any("set-your-password link was emailed" in m for m in messages_of(response))
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["paula@example.com"]
    assert "Paula" not in mail.outbox[0].subject
    assert follow_link_and_set_password(client, mail.outbox[0].body).status_code == 302
    signed_in = client.post(reverse("login"), {"username": "paula@example.com", "password": NEW_PASSWORD})
    assert signed_in.status_code == 302
    assert list(access.followed_patients(user)) == [patient]


def test_revoke_a_patients_sign_in_deactivates_an_unused_account(client_for, staff_a, patient_a):
    user = patient_a.user
    client_for(staff_a).post(reverse("staff:patient_login_revoke", args=[patient_a.public_id]))
    assert Patient.objects.get(pk=patient_a.pk).user is None
    assert not User.objects.get(pk=user.pk).is_active


def test_a_staff_email_or_another_patients_email_is_refused(client_for, staff_a, clinic_a, patient_b):
    patient = make_patient(clinic_a, "Paula Patient", "A-600", surgery=TODAY)
    url = reverse("staff:patient_login_create", args=[patient.public_id])
    staff_a.username = "nurse@example.com"
    staff_a.save()
    response = client_for(staff_a).post(url, {"email": "nurse@example.com"}, follow=True)
    assert any("already belongs to another account" in m for m in messages_of(response))
    patient_b.user.username = "bruno@example.com"
    patient_b.user.save()
    response = client_for(staff_a).post(url, {"email": "bruno@example.com"}, follow=True)
    assert any("already belongs to another account" in m for m in messages_of(response))
    response = client_for(staff_a).post(url, {"email": "not an email"}, follow=True)
    assert "Enter a valid email address for the patient's sign-in." in messages_of(response)
    assert Patient.objects.get(pk=patient.pk).user is None and not mail.outbox


def test_grant_and_revoke_caregiver_access(client_for, staff_a, patient_a):
    client = client_for(staff_a)
    url = reverse("staff:caregiver_grant", args=[patient_a.public_id])
    response = client.post(url, {"caregiver-email": "carla@example.com"}, follow=True)
    grant = CaregiverAccess.objects.active().get(patient=patient_a, user__username="carla@example.com")
    assert grant.granted_by == staff_a and len(mail.outbox) == 1
    assert "carla@example.com" in response.content.decode()
    response = client.post(url, {"caregiver-email": "carla@example.com"}, follow=True)
    assert "This caregiver already has access." in messages_of(response) and len(mail.outbox) == 1
    client.post(reverse("staff:caregiver_revoke", args=[patient_a.public_id, grant.pk]))
    grant.refresh_from_db()
    assert grant.revoked_at is not None and not grant.user.is_active
    assert patient_a not in access.visible_patients(User.objects.get(pk=grant.user.pk))
    # Granted again later: the same account comes back to life with a fresh link.
    client.post(url, {"caregiver-email": "carla@example.com"})
    assert User.objects.get(pk=grant.user.pk).is_active and len(mail.outbox) == 2


def test_revoking_one_grant_keeps_an_account_that_follows_another_patient(client_for, staff_a, clinic_a, patient_a):
    other = make_patient(clinic_a, "Otto Other", "A-601", surgery=TODAY)
    client = client_for(staff_a)
    for patient in (patient_a, other):
        client.post(reverse("staff:caregiver_grant", args=[patient.public_id]), {"caregiver-email": "c@example.com"})
    grant = CaregiverAccess.objects.get(patient=patient_a)
    client.post(reverse("staff:caregiver_revoke", args=[patient_a.public_id, grant.pk]))
    assert User.objects.get(username="c@example.com").is_active


def test_checklist(client_for, staff_a, staff_b, patient_a, caregiver_a, outsider):
    grant = CaregiverAccess.objects.get(user=caregiver_a)
    urls = [
        (reverse("staff:patient_login_create", args=[patient_a.public_id]), {"email": "x@example.com"}),
        (reverse("staff:patient_login_revoke", args=[patient_a.public_id]), {}),
        (reverse("staff:caregiver_grant", args=[patient_a.public_id]), {"caregiver-email": "x@example.com"}),
        (reverse("staff:caregiver_revoke", args=[patient_a.public_id, grant.pk]), {}),
    ]
    for url, data in urls:
        assert client_for(staff_a).get(url).status_code == 405
        for user in (staff_b, outsider, patient_a.user, caregiver_a):
            assert client_for(user).post(url, data).status_code == 404
    assert Patient.objects.get(pk=patient_a.pk).user == patient_a.user
    assert CaregiverAccess.objects.active().filter(user=caregiver_a).exists() and not mail.outbox
    missing = reverse("staff:caregiver_revoke", args=[patient_a.public_id, 99999])
    assert client_for(staff_a).post(missing).status_code == 404
