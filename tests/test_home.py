"""The signed-in landing page and sign-in itself."""

from django.urls import reverse

from tests.conftest import PASSWORD


def test_anonymous_is_sent_to_sign_in(client, db):
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_sign_in_lands_on_home(client, patient_a):
    response = client.post(reverse("login"), {"username": "patient_a", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("home")
    assert response.status_code == 200


def test_wrong_password_is_a_clear_message_not_an_error(client, patient_a):
    response = client.post(reverse("login"), {"username": "patient_a", "password": "wrong"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_staff_land_on_their_clinic_dashboard(client_for, staff_a):
    response = client_for(staff_a).get(reverse("home"))
    assert response.status_code == 302 and response.url == reverse("staff:dashboard")


def test_dashboard_is_404_for_non_staff(client_for, patient_a):
    assert client_for(patient_a.user).get(reverse("staff:dashboard")).status_code == 404
