"""Managing calendar subscriptions: list, create, subscribe page (link shown once), rename, new link, stop."""

import datetime as dt
import hashlib
import re

import icalendar
import pytest
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.urls import reverse

from feeds import subscriptions
from schedules.models import CalendarSubscription
from tests.conftest import NOW, page_queries

LINK = re.compile(r'value="(http://testserver/feeds/([A-Za-z0-9_-]+)\.ics)"')


def list_url(patient):
    return reverse("feeds:subscriptions", kwargs={"public_id": patient.public_id})


def sub_url(name, subscription):
    return reverse(
        f"feeds:{name}",
        kwargs={"public_id": subscription.patient.public_id, "subscription_id": subscription.public_id},
    )


def make(patient, by, name="Phone", detail="discreet"):
    return subscriptions.subscription_create(patient=patient, name=name, detail=detail, by=by)[0]


@pytest.fixture
def users(patient_a, caregiver_a, staff_a, staff_b, outsider, revoked_caregiver, patient_b):
    return {
        "patient": patient_a.user,
        "caregiver": caregiver_a,
        "staff": staff_a,
        "staff_b": staff_b,
        "outsider": outsider,
        "revoked_caregiver": revoked_caregiver,
        "patient_b": patient_b.user,
    }


OUTSIDERS = ["staff_b", "outsider", "revoked_caregiver", "patient_b"]


# The list page.

@pytest.mark.parametrize("persona", ["patient", "caregiver", "staff"])
def test_list_works_for_the_right_people(client_for, users, patient_a, persona):
    response = client_for(users[persona]).get(list_url(patient_a))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Make a new calendar link" in content and "Download the calendar file" in content
    assert 'style="' not in content and "<script>" not in content


@pytest.mark.parametrize("persona", OUTSIDERS)
def test_list_is_404_for_anyone_else(client_for, users, patient_a, persona):
    client = client_for(users[persona])
    assert client.get(list_url(patient_a)).status_code == 404
    assert client.post(list_url(patient_a), {"name": "Mine", "detail": "detailed"}).status_code == 404
    assert not CalendarSubscription.objects.exists()


def test_list_needs_sign_in_a_real_id_and_get_or_post(client, client_for, patient_a):
    response = client.get(list_url(patient_a))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    signed_in = client_for(patient_a.user)
    assert signed_in.put(list_url(patient_a)).status_code == 405
    assert signed_in.get("/p/not-a-uuid/calendar-subscriptions/").status_code == 404
    assert signed_in.get("/p/00000000-0000-0000-0000-000000000000/calendar-subscriptions/").status_code == 404


def test_caregivers_see_only_their_own_patient_and_staff_see_all(client_for, patient_a, caregiver_a, staff_a):
    make(patient_a, patient_a.user, name="Kitchen tablet")
    make(patient_a, caregiver_a, name="Daniel's phone")
    make(patient_a, staff_a, name="Made at the clinic")
    for user, expected in (
        (patient_a.user, {"Kitchen tablet", "Daniel's phone", "Made at the clinic"}),
        (staff_a, {"Kitchen tablet", "Daniel's phone", "Made at the clinic"}),
        (caregiver_a, {"Daniel's phone"}),
    ):
        content = client_for(user).get(list_url(patient_a)).content.decode()
        shown = {name for name in ("Kitchen tablet", "Daniel&#x27;s phone", "Made at the clinic") if name in content}
        assert {name.replace("&#x27;", "'") for name in shown} == expected, user


@pytest.mark.parametrize("persona", ["patient", "staff"])
def test_more_links_cost_the_links_page_no_more_queries(client_for, users, patient_a, caregiver_a, persona):
    client = client_for(users[persona])
    for index in range(2):
        make(patient_a, caregiver_a if index % 2 else patient_a.user, name=f"Link {index:02}")
    client.get(list_url(patient_a))  # a session's first request may warm caches
    few = page_queries(client, list_url(patient_a))
    for index in range(2, 25):
        make(patient_a, caregiver_a if index % 2 else patient_a.user, name=f"Link {index:02}")
    assert page_queries(client, list_url(patient_a)) == few
    content = client.get(list_url(patient_a)).content.decode()
    assert [name for name in (f"Link {index:02}" for index in range(25)) if name not in content] == []


def test_last_fetched_is_shown(client, client_for, patient_a, time_machine):
    _, token = subscriptions.subscription_create(patient=patient_a, name="Phone", detail="discreet", by=patient_a.user)
    page = client_for(patient_a.user).get(list_url(patient_a)).content.decode()
    assert "Not yet" in page
    client.get(reverse("feeds:feed", kwargs={"token": token}))
    page = client_for(patient_a.user).get(list_url(patient_a)).content.decode()
    assert "Not yet" not in page and "just now" in page and "0\xa0minutes" not in page
    time_machine.shift(dt.timedelta(minutes=5))
    page = client_for(patient_a.user).get(list_url(patient_a)).content.decode()
    assert "5\xa0minutes ago" in page


# Creating, and the link shown once.

@pytest.mark.parametrize("persona", ["patient", "caregiver", "staff"])
def test_create_shows_the_link_once(client, client_for, users, patient_a, persona):
    user = users[persona]
    signed_in = client_for(user)
    # Drug names only where the patient (or their clinic) chose them: a caregiver's own link is discreet.
    detail = "discreet" if persona == "caregiver" else "detailed"
    page = signed_in.post(list_url(patient_a), {"name": "Maria's phone", "detail": detail})
    subscription = CalendarSubscription.objects.get()
    # The link is in the answer to the POST itself: it never waits in the session table for a later page.
    assert page.status_code == 200
    assert subscription.name == "Maria's phone" and subscription.detail == detail
    assert subscription.created_by == user
    assert subscription.owner == (user if persona == "caregiver" else None)
    assert page["Cache-Control"] == "private, no-store"
    content = page.content.decode()
    https_link, token = LINK.search(content).groups()
    assert len(token) >= 43  # 256 random bits
    assert hashlib.sha256(token.encode()).hexdigest() == subscription.token_hash
    assert f'href="webcal://testserver/feeds/{token}.ics"' in content
    assert 'src="data:image/png;base64,' in content and 'alt="QR code of the calendar link"' in content
    google = "https://calendar.google.com/calendar/r?cid=webcal%3A%2F%2Ftestserver%2Ffeeds%2F"
    assert f'href="{google}{token}.ics"' in content
    assert "https://outlook.live.com/calendar/0/addfromweb?url=http%3A%2F%2Ftestserver%2Ffeeds%2F" in content
    assert "Android" in content and "up to once a day" in content and "Get a reminder before each visit" in content
    assert 'style="' not in content and "<script>" not in content
    assert client.get(https_link.removeprefix("http://testserver")).status_code == 200

    again = signed_in.get(sub_url("subscribe", subscription)).content.decode()
    assert token not in again and "The link cannot be shown again." in again
    assert "only a fingerprint" in again and "Subscribe from web" in again, "why, and the steps again"
    assert not any(token in str(value) for value in signed_in.session.values())
    assert not any(token in repr(row.get_decoded()) or token in row.session_data for row in Session.objects.all())


def test_the_token_is_stored_nowhere(client_for, patient_a):
    signed_in = client_for(patient_a.user)
    response = signed_in.post(list_url(patient_a), {"name": "Phone", "detail": "discreet"})
    token = LINK.search(response.content.decode()).group(2)
    subscription = CalendarSubscription.objects.get()
    stored = [str(v) for v in CalendarSubscription.objects.values_list().get()]
    stored += [str(v) for row in subscription.history.values_list() for v in row]
    assert not any(token in value for value in stored)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "detail": "discreet"}, "This field is required."),
        ({"name": "x" * 81, "detail": "discreet"}, "at most 80 characters"),
        ({"name": "Phone", "detail": "everything"}, "Select a valid choice."),
    ],
)
def test_create_with_bad_input_says_why(client_for, patient_a, data, message):
    response = client_for(patient_a.user).post(list_url(patient_a), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not CalendarSubscription.objects.exists()


def test_detail_defaults_to_discreet(client_for, patient_a):
    content = client_for(patient_a.user).get(list_url(patient_a)).content.decode()
    assert re.search(r'<input[^>]*value="discreet"[^>]*checked|<input[^>]*checked[^>]*value="discreet"', content)


def test_subscribe_page_checklist(client, client_for, users, patient_a, caregiver_a):
    theirs = make(patient_a, patient_a.user)
    own = make(patient_a, caregiver_a)
    url = sub_url("subscribe", theirs)
    assert client_for(patient_a.user).get(url).status_code == 200
    assert client_for(users["staff"]).get(url).status_code == 200
    assert client_for(caregiver_a).get(url).status_code == 404, "the patient's own link"
    assert client_for(caregiver_a).get(sub_url("subscribe", own)).status_code == 200
    for persona in OUTSIDERS:
        assert client_for(users[persona]).get(url).status_code == 404
    assert client_for(patient_a.user).post(url).status_code == 405
    assert client.get(url).status_code == 302
    bad = url.replace(str(theirs.public_id), "00000000-0000-0000-0000-000000000000")
    assert client_for(patient_a.user).get(bad).status_code == 404


def test_subscription_of_another_patient_is_404(client_for, patient_a, patient_b, staff_b):
    other = make(patient_b, staff_b)
    url = reverse("feeds:subscribe", kwargs={"public_id": patient_a.public_id, "subscription_id": other.public_id})
    assert client_for(patient_a.user).get(url).status_code == 404


# Rename, new link, stop.

def test_rename(client_for, patient_a):
    subscription = make(patient_a, patient_a.user)
    client = client_for(patient_a.user)
    assert client.get(sub_url("rename", subscription)).status_code == 200
    response = client.post(sub_url("rename", subscription), {"name": "Old iPad"})
    assert response.status_code == 302 and response.url == list_url(patient_a)
    subscription.refresh_from_db()
    assert subscription.name == "Old iPad"
    assert subscription.history.count() == 2


def test_rename_with_an_empty_name_keeps_the_old_one(client_for, patient_a):
    subscription = make(patient_a, patient_a.user)
    response = client_for(patient_a.user).post(sub_url("rename", subscription), {"name": ""})
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.name == "Phone"


def test_new_link_stops_the_old_one_and_shows_the_new(client, client_for, patient_a):
    subscription, old_token = subscriptions.subscription_create(
        patient=patient_a, name="Phone", detail="discreet", by=patient_a.user
    )
    signed_in = client_for(patient_a.user)
    assert "stops working at once" in signed_in.get(sub_url("rotate", subscription)).content.decode()
    response = signed_in.post(sub_url("rotate", subscription))
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-store"
    new_token = LINK.search(response.content.decode()).group(2)
    assert new_token != old_token
    old = client.get(reverse("feeds:feed", kwargs={"token": old_token}))
    assert old.status_code == 200 and b"(stopped)" in old.content and b"VEVENT" not in old.content
    assert client.get(reverse("feeds:feed", kwargs={"token": new_token})).status_code == 200


def test_a_new_link_stops_the_old_one_at_once_though_a_calendar_app_just_fetched_it(client, client_for, patient_a):
    subscription, old_token = subscriptions.subscription_create(
        patient=patient_a, name="Phone", detail="discreet", by=patient_a.user
    )
    old_url = reverse("feeds:feed", kwargs={"token": old_token})
    assert b"VEVENT" in client.get(old_url).content  # the answer is cached now
    assert client_for(patient_a.user).post(sub_url("rotate", subscription)).status_code == 200
    old = client.get(old_url)
    assert b"(stopped)" in old.content and b"VEVENT" not in old.content
    subscription.refresh_from_db()
    assert subscription.rotated_at == NOW


def test_a_replaced_link_names_its_emptied_calendar_as_the_patient_renames_it(client, client_for, patient_a):
    subscription, old_token = subscriptions.subscription_create(
        patient=patient_a, name="Phone", detail="discreet", by=patient_a.user
    )
    subscriptions.subscription_rotate(subscription=subscription)
    old_url = reverse("feeds:feed", kwargs={"token": old_token})

    def name() -> str:
        return str(icalendar.Calendar.from_ical(client.get(old_url).content)["X-WR-CALNAME"])

    assert name() == "Clinic visits (stopped)"
    settings_url = reverse("feeds:settings", kwargs={"public_id": patient_a.public_id})
    data = {"discreet_title": "Appointment", "calendar_name": "Mum's visits"}
    assert client_for(patient_a.user).post(settings_url, data).status_code == 302
    assert name() == "Mum's visits (stopped)"


def test_stop(client, client_for, patient_a):
    subscription, token = subscriptions.subscription_create(
        patient=patient_a, name="Phone", detail="discreet", by=patient_a.user
    )
    signed_in = client_for(patient_a.user)
    assert signed_in.get(sub_url("revoke", subscription)).status_code == 200
    response = signed_in.post(sub_url("revoke", subscription))
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.revoked_at is not None
    stopped = client.get(reverse("feeds:feed", kwargs={"token": token}))
    assert stopped.status_code == 200 and b"(stopped)" in stopped.content and b"VEVENT" not in stopped.content
    assert "Stopped" in signed_in.get(list_url(patient_a)).content.decode()
    # A stopped link stays stopped: no new link, no second stop.
    assert signed_in.post(sub_url("rotate", subscription)).status_code == 404
    assert signed_in.post(sub_url("revoke", subscription)).status_code == 404
    assert "no longer works" in signed_in.get(sub_url("subscribe", subscription)).content.decode()


@pytest.mark.parametrize("action", ["rename", "rotate", "revoke"])
def test_actions_checklist(client, client_for, users, patient_a, caregiver_a, action):
    theirs = make(patient_a, patient_a.user)
    url = sub_url(action, theirs)
    data = {"name": "Taken over"}
    # A caregiver cannot change the patient's own links, only their own.
    assert client_for(caregiver_a).post(url, data).status_code == 404
    for persona in OUTSIDERS:
        assert client_for(users[persona]).post(url, data).status_code == 404
    assert client.post(url, data).status_code == 302  # to sign-in
    assert client_for(patient_a.user).put(url).status_code == 405
    theirs.refresh_from_db()
    assert theirs.name == "Phone" and theirs.revoked_at is None and theirs.rotated_at is None
    done = 200 if action == "rotate" else 302  # a new link is shown in the answer to the POST
    own = make(patient_a, caregiver_a)
    assert client_for(caregiver_a).post(sub_url(action, own), data).status_code == done
    assert client_for(users["staff"]).post(sub_url(action, make(patient_a, caregiver_a)), data).status_code == done


def test_services_are_audited(patient_a):
    subscription, _ = subscriptions.subscription_create(
        patient=patient_a, name="Phone", detail="discreet", by=patient_a.user
    )
    subscriptions.subscription_rename(subscription=subscription, name="Tablet")
    subscriptions.subscription_rotate(subscription=subscription)
    subscriptions.subscription_revoke(subscription=subscription)
    assert [h.history_type for h in subscription.history.order_by("history_id")] == ["+", "~", "~", "~"]
    with pytest.raises(ValueError, match=r"^A stopped calendar link cannot be renewed\.$"):
        subscriptions.subscription_rotate(subscription=subscription)


def test_a_caregiver_cannot_set_up_a_calendar_with_drug_names_even_bypassing_the_form(patient_a, caregiver_a):
    refused = r"^\['Only the patient or their clinic can set up a calendar with drug names\.'\]$"
    with pytest.raises(ValidationError, match=refused):
        subscriptions.subscription_create(patient=patient_a, name="Tablet", detail="detailed", by=caregiver_a)
    assert not CalendarSubscription.objects.exists()


def test_a_caregiver_is_offered_only_what_the_server_gives(client_for, patient_a, caregiver_a):
    """Issue 14: the "Detailed" download was offered to caregivers and then refused with a bare 400."""
    signed_in = client_for(caregiver_a)
    content = signed_in.get(list_url(patient_a)).content.decode()
    assert 'value="detailed"' not in content and "Detailed" not in content
    form = re.search(r'<form method="get" action="([^"]+)">(.*?)</form>', content, re.S)
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]+)"', form.group(2)))
    response = signed_in.get(form.group(1), fields)
    assert response.status_code == 200 and b"Clinic visit" in response.content
    own = client_for(patient_a.user).get(list_url(patient_a)).content.decode()
    assert 'value="detailed"' in own, "the patient still chooses"
