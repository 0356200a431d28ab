"""Sessions that know whose they are: the "where you are signed in" page, and revoking access ends sessions
(issue 10, Low; issue 14, "Own data")."""

import pytest
from django.test import Client
from django.urls import reverse

from patients import services
from patients.models import CaregiverAccess, UserSession
from tests.conftest import PASSWORD, page_of

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.4 Mobile/15E148 Safari/604.1")
WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 "
           "Safari/537.36")


def browser(username: str, agent: str) -> Client:
    client = Client(HTTP_USER_AGENT=agent)
    assert client.post(reverse("login"), {"username": username, "password": PASSWORD}).status_code == 302
    assert client.get(reverse("home")).status_code in (200, 302)
    return client


def sign_out_form(client: Client, title: str):
    """On the signed-in browsers page, the "Sign out this browser" form of the card whose heading starts so."""
    cards = page_of(client.get(reverse("signed_in_browsers"))).find_all("li", class_="card")
    card = next(card for card in cards if card.find("h2").text().startswith(title))
    forms = card.find_all("form")
    return forms[0] if forms else None


def test_the_page_lists_each_signed_in_browser(patient_a, frozen):
    phone = browser("patient_a", IPHONE)
    browser("patient_a", WINDOWS)
    page = phone.get(reverse("signed_in_browsers"))
    body = page.content.decode()
    assert page.status_code == 200
    assert "Mobile Safari on iOS" in body and "(iPhone)" in body and "Chrome on Windows" in body
    assert body.count("This browser") == 1 and "Last active" in body and "Signed in" in body
    # Sessions are named on the page by a hash: their keys sign a browser in.
    for key in UserSession.objects.values_list("session_key", flat=True):
        assert key not in body


def test_someone_signs_out_one_other_browser(patient_a, frozen):
    phone = browser("patient_a", IPHONE)
    laptop = browser("patient_a", WINDOWS)
    assert sign_out_form(phone, "Mobile Safari on iOS (iPhone) This browser") is None
    form = sign_out_form(phone, "Chrome on Windows")
    assert form.find("button").text() == "Sign out this browser"
    other = form.find("input", name="session").attrs["value"]
    assert phone.post(reverse("signed_in_browsers"), {"session": other}).status_code == 302
    assert laptop.get(reverse("home")).url.startswith(reverse("login"))
    assert phone.get(reverse("home")).status_code == 200


def test_someone_signs_out_everywhere_else(patient_a, caregiver_a, frozen):
    phone = browser("patient_a", IPHONE)
    laptops = [browser("patient_a", WINDOWS) for _ in range(2)]
    caregivers = browser("caregiver_a", WINDOWS)
    phone.post(reverse("signed_in_browsers"), {"all_others": "1"})
    assert all(laptop.get(reverse("home")).url.startswith(reverse("login")) for laptop in laptops)
    assert phone.get(reverse("home")).status_code == 200
    assert caregivers.get(reverse("home")).status_code == 200  # nobody else's sessions


def test_nobody_can_end_someone_elses_session(patient_a, caregiver_a, frozen):
    phone = browser("patient_a", IPHONE)
    caregivers = browser("caregiver_a", WINDOWS)
    # The caregiver's second browser shows the first one's sign-out form: that is the id someone else might send.
    theirs = sign_out_form(browser("caregiver_a", IPHONE), "Chrome on Windows").find("input", name="session")
    phone.post(reverse("signed_in_browsers"), {"session": theirs.attrs["value"]})
    assert caregivers.get(reverse("home")).status_code == 200


def test_the_account_area_links_to_the_page(patient_a, client_for):
    assert reverse("signed_in_browsers") in client_for(patient_a.user).get(reverse("home")).content.decode()


@pytest.mark.parametrize("how", ["revoke", "revoke and grant again"])
def test_revoking_a_caregiver_ends_their_sessions(patient_a, caregiver_a, staff_a, frozen, how):
    session = browser("caregiver_a", IPHONE)
    services.caregiver_revoke(grant=CaregiverAccess.objects.get(user=caregiver_a))
    if how == "revoke and grant again":
        services.caregiver_grant(patient=patient_a, email=caregiver_a.username, by=staff_a)
    assert session.get(reverse("home")).url.startswith(reverse("login"))


def test_removing_a_patients_sign_in_ends_their_sessions(patient_a, frozen):
    session = browser("patient_a", IPHONE)
    services.patient_login_revoke(patient=patient_a)
    patient_a.refresh_from_db()
    assert session.get(reverse("home")).url.startswith(reverse("login"))


def test_deactivating_an_account_in_the_admin_ends_its_sessions(patient_a, frozen, client_for):
    from tests.conftest import make_user

    root = make_user("root", is_staff=True, is_superuser=True)
    session = browser("patient_a", IPHONE)
    user = patient_a.user
    admin = client_for(root)
    page = admin.get(reverse("admin:auth_user_change", args=[user.pk]))
    data = {k: v for k, v in page.context["adminform"].form.initial.items() if v is not None}
    data.update(is_active="", date_joined_0="2026-03-10", date_joined_1="10:00", last_login_0="", last_login_1="")
    data.pop("password", None)
    data.pop("groups", None)
    data.pop("user_permissions", None)
    assert admin.post(reverse("admin:auth_user_change", args=[user.pk]), data).status_code == 302
    user.refresh_from_db()
    assert not user.is_active
    assert not UserSession.objects.filter(user=user).exists()
    assert session.get(reverse("home")).url.startswith(reverse("login"))


def test_times_read_in_the_clinics_zone(patient_a, frozen):
    phone = browser("patient_a", IPHONE)
    page = phone.get(reverse("signed_in_browsers")).content.decode()
    assert "11 a.m." in page  # 15:00 UTC is 11:00 in New York, the clinic's zone
