"""Own data: a patient or caregiver changes their email and password, and downloads the record as a file."""

import json

from django.contrib.auth import get_user_model
from django.urls import reverse

from patients.models import AccessEvent
from tests.conftest import PASSWORD
from tests.test_patient_pages import text

ACCOUNT = reverse("portal:account")


def test_patient_changes_their_email_with_their_password(client_for, patient_a):
    client = client_for(patient_a.user)
    assert reverse("portal:account") in client.get(reverse("home")).content.decode()
    response = client.post(ACCOUNT, {"email": "alice.new@example.com", "password": "wrong one"})
    assert response.status_code == 400 and "This is not your current password." in text(response)
    response = client.post(ACCOUNT, {"email": "alice.new@example.com", "password": PASSWORD}, follow=True)
    assert "Your email is now alice.new@example.com: use it to sign in." in text(response)
    user = get_user_model().objects.get(pk=patient_a.user.pk)
    assert user.username == user.email == "alice.new@example.com"


def test_an_email_of_another_account_is_refused(client_for, caregiver_a, staff_a):
    response = client_for(caregiver_a).post(ACCOUNT, {"email": "STAFF_A@example.com", "password": PASSWORD})
    assert response.status_code == 400 and "already belongs to another account" in text(response)
    assert get_user_model().objects.get(pk=caregiver_a.pk).email == "caregiver_a@example.com"


def test_password_change_is_linked(client_for, caregiver_a):
    assert reverse("password_change") in client_for(caregiver_a).get(ACCOUNT).content.decode()


def test_caregiver_downloads_the_record_and_the_access_log_names_them(client_for, caregiver_a, patient_a):
    client = client_for(caregiver_a)
    url = reverse("portal:record_download", args=[patient_a.public_id])
    assert url in client.get(ACCOUNT).content.decode()
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="pumpcare-record-2026-03-10.json"'
    record = json.loads(b"".join(response.streaming_content))
    assert record["patient"]["record_number"] == "A-100" and record["schedule"]
    assert record["access_log"][-1]["by"] == "caregiver_a" and record["access_log"][-1]["action"] == "export"
    event = AccessEvent.objects.filter(patient=patient_a, action="export").get()
    assert event.user == caregiver_a and event.detail == "record_download"


def test_download_checklist(client_for, patient_a, staff_b, outsider):
    url = reverse("portal:record_download", args=[patient_a.public_id])
    assert client_for(patient_a.user).post(url).status_code == 405
    for user in (staff_b, outsider):
        assert client_for(user).get(url).status_code == 404
    assert client_for(patient_a.user).get(reverse("portal:record_download", args=["not-a-uuid"])).status_code == 404
    assert not AccessEvent.objects.filter(action="export").exists()
    assert client_for(patient_a.user).get(url).status_code == 200
    assert AccessEvent.objects.get(action="export").user == patient_a.user  # the patient's own export too


def test_staff_have_no_such_account_page(client_for, staff_a):
    assert client_for(staff_a).get(ACCOUNT).status_code == 404
