"""Holds of a future chemo fill (and undoing them), the end of therapy and reopening it."""

import datetime as dt
import uuid

from django.urls import reverse

from schedules import services
from schedules.models import FillKind, Hold, ScheduledFill, TherapyPlan
from tests.conftest import NOW, TODAY, field_error, page_of
from tests.staff_fixtures import messages_of, planned


def future_chemo(patient):
    return next(f for f in planned(patient) if f.kind == FillKind.CHEMO and f.date >= TODAY)


def test_hold_a_future_chemo_fill_and_undo_it(client_for, staff_a, patient_a):
    services.fill_record(plan=patient_a.plan, date=TODAY, infusate="fudr", by=staff_a)
    chemo = future_chemo(patient_a)
    client = client_for(staff_a)
    url = reverse("staff:hold_add", args=[patient_a.public_id])
    response = client.post(url, {"sequence": chemo.sequence, "reason": "ALP rising"}, follow=True)
    held = ScheduledFill.objects.get(pk=chemo.pk)
    assert held.held and held.kind == FillKind.HELD and held.infusate == "heparinized_saline"
    assert any("held" in m for m in messages_of(response))
    assert "Hold: ALP rising" in response.content.decode()
    hold = Hold.objects.get(plan=patient_a.plan)
    assert hold.created_by == staff_a
    response = client.post(reverse("staff:hold_remove", args=[patient_a.public_id, hold.pk]), follow=True)
    assert not Hold.objects.exists() and ScheduledFill.objects.get(pk=chemo.pk).kind == FillKind.CHEMO
    assert any("Hold undone" in m for m in messages_of(response))


def test_a_hold_needs_a_reason_and_a_future_chemo_fill(client_for, staff_a, patient_a):
    client = client_for(staff_a)
    url = reverse("staff:hold_add", args=[patient_a.public_id])
    chemo = future_chemo(patient_a)
    response = client.post(url, {"sequence": chemo.sequence, "reason": ""}, follow=True)
    assert "Give a reason for the hold." in messages_of(response)
    overdue = planned(patient_a)[0]  # the first chemo fill, due 6 days ago: not a future fill
    rest = next(f for f in planned(patient_a) if f.kind == FillKind.REST)
    for sequence in (overdue.sequence, rest.sequence, 9999):
        response = client.post(url, {"sequence": sequence, "reason": "ALP"}, follow=True)
        assert any("Only a future chemo fill can be held" in m for m in messages_of(response))
    response = client.post(url, {"sequence": "x", "reason": "ALP"}, follow=True)
    assert "Choose a chemo fill to hold." in messages_of(response)
    assert not Hold.objects.exists()
    client.post(url, {"sequence": chemo.sequence, "reason": "ALP"})
    response = client.post(url, {"sequence": chemo.sequence, "reason": "ALP again"}, follow=True)
    assert Hold.objects.count() == 1 and response.status_code == 200


def test_a_chemo_fill_held_twice_offers_to_undo_each_hold(client_for, staff_a, patient_a):
    client = client_for(staff_a)
    url = reverse("staff:hold_add", args=[patient_a.public_id])
    first = future_chemo(patient_a)
    client.post(url, {"sequence": first.sequence, "reason": "ALP rising"})
    again = future_chemo(patient_a)  # the same cycle's chemo, one visit later
    assert again.cycle == first.cycle and again.sequence == first.sequence + 1
    client.post(url, {"sequence": again.sequence, "reason": "ALP still rising"})
    page = client.get(reverse("staff:patient", args=[patient_a.public_id])).content.decode()
    assert page.count("Undo hold") == 2
    for hold in Hold.objects.all():
        assert reverse("staff:hold_remove", args=[patient_a.public_id, hold.pk]) in page



def test_a_held_visit_once_recorded_no_longer_offers_to_undo_its_hold(client_for, staff_a, patient_a, time_machine):
    """At the visit the nurse gives the saline the hold asked for: the hold is spent, so the recorded row shows
    neither the hold nor an "Undo hold" that could no longer give the chemo back."""
    services.fill_record(plan=patient_a.plan, date=TODAY, infusate="fudr", by=staff_a)
    rest, chemo = planned(patient_a)[:2]
    assert chemo == future_chemo(patient_a)
    client = client_for(staff_a)
    client.post(reverse("staff:hold_add", args=[patient_a.public_id]), {"sequence": chemo.sequence, "reason": "ALP"})
    page = reverse("staff:patient", args=[patient_a.public_id])

    def row():
        # Signed in afresh: the clock moves weeks on, past any session.
        return page_of(client_for(staff_a).get(page)).find("tr", **{"data-sequence": str(chemo.sequence)}).text()

    assert "Undo hold" in row() and "Hold: ALP" in row()
    for visit in (rest, chemo):
        time_machine.move_to(NOW + (visit.date - TODAY), tick=False)
        services.fill_record(plan=patient_a.plan, date=visit.date, infusate="heparinized_saline", by=staff_a)
    assert ScheduledFill.objects.get(plan=patient_a.plan, sequence=chemo.sequence).recorded
    assert "Recorded" in row() and "Undo hold" not in row() and "Hold: ALP" not in row()


def test_hold_checklist(client_for, staff_a, staff_b, patient_a, caregiver_a, outsider):
    chemo = future_chemo(patient_a)
    url = reverse("staff:hold_add", args=[patient_a.public_id])
    assert client_for(staff_a).get(url).status_code == 405
    for user in (staff_b, outsider, patient_a.user, caregiver_a):
        assert client_for(user).post(url, {"sequence": chemo.sequence, "reason": "x"}).status_code == 404
    assert not Hold.objects.exists()
    hold, _ = services.hold_add(plan=patient_a.plan, sequence=chemo.sequence, reason="x", by=staff_a)
    remove = reverse("staff:hold_remove", args=[patient_a.public_id, hold.pk])
    assert client_for(staff_a).get(remove).status_code == 405
    for user in (staff_b, outsider, patient_a.user, caregiver_a):
        assert client_for(user).post(remove).status_code == 404
    assert Hold.objects.count() == 1
    assert client_for(staff_a).post(reverse("staff:hold_remove", args=[patient_a.public_id, 99999])).status_code == 404
    assert client_for(staff_a).post(reverse("staff:hold_add", args=[uuid.uuid4()])).status_code == 404


def test_end_therapy_and_reopen(client_for, staff_a, patient_a):
    client = client_for(staff_a)
    url = reverse("staff:therapy_end", args=[patient_a.public_id])
    page = client.get(url).content.decode()
    assert "End chemotherapy (pump stays in: maintenance refills continue)" in page
    assert "Therapy over (pump removed, moved care, death)" in page
    data = {"kind": "over", "end_date": TODAY.isoformat(), "reason": "pump_removed", "note": "explanted"}
    ahead = len([f for f in planned(patient_a) if f.date > TODAY])
    response = client.post(url, data, follow=True)
    plan = TherapyPlan.objects.get(patient=patient_a)
    assert plan.status == "ended" and plan.end_reason == "pump_removed" and plan.end_date == TODAY
    assert not [f for f in planned(patient_a) if f.date > TODAY]
    assert ahead > 1 and f"Therapy over. {ahead} planned fills cancelled." in messages_of(response)
    response = client.post(reverse("staff:therapy_reopen", args=[patient_a.public_id]), follow=True)
    assert TherapyPlan.objects.get(patient=patient_a).status == "active"
    assert [f for f in planned(patient_a) if f.date > TODAY]
    assert "Therapy reopened: fills are planned again." in messages_of(response)


def test_s8_ending_chemotherapy_keeps_maintenance_refills(client_for, staff_a, patient_a):
    client = client_for(staff_a)
    url = reverse("staff:therapy_end", args=[patient_a.public_id])
    data = {"kind": "chemo", "end_date": TODAY.isoformat(), "reason": "toxicity", "note": "grade 3"}
    response = client.post(url, data, follow=True)
    plan = TherapyPlan.objects.get(patient=patient_a)
    assert plan.status == "active" and plan.chemo_end_reason == "toxicity" and plan.chemo_end_date == TODAY
    later = [f for f in planned(patient_a) if f.date >= TODAY]
    assert later and all(f.kind == "maintenance" and f.infusate == "heparinized_saline" for f in later)
    assert any("The pump stays in: maintenance refills continue." in m for m in messages_of(response))
    page = response.content.decode()
    assert "Chemotherapy ended" in page and "maintenance refills continue" in page
    # What is left to end is the therapy itself; chemotherapy can also resume.
    assert "Resume chemotherapy" in page
    again = client.get(url).content.decode()
    assert "End chemotherapy (pump stays in" not in again and "Therapy over" in again
    response = client.post(url, {"kind": "chemo", "end_date": TODAY.isoformat(), "reason": "completed"})
    assert response.status_code == 200
    assert "Select a valid choice. chemo is not one of the available choices." in field_error(response, "id_kind")
    response = client.post(reverse("staff:therapy_reopen", args=[patient_a.public_id]), follow=True)
    assert "Chemotherapy resumed: chemo fills are planned again." in messages_of(response)
    assert TherapyPlan.objects.get(patient=patient_a).chemo_end_date is None


def test_end_form_never_proposes_a_date_it_refuses(client_for, staff_a, patient_a):
    """A surgery next month: the proposed date is the surgery date, not today, and it is accepted."""
    plan = patient_a.plan
    plan.surgery_date = TODAY + dt.timedelta(days=30)
    services.plan_save(plan=plan)
    url = reverse("staff:therapy_end", args=[patient_a.public_id])
    client = client_for(staff_a)
    page = client.get(url).content.decode()
    proposed = plan.surgery_date.isoformat()
    assert f'value="{proposed}"' in page and f'min="{proposed}"' in page
    response = client.post(url, {"kind": "over", "end_date": proposed, "reason": "moved_care"})
    assert response.status_code == 302
    assert TherapyPlan.objects.get(patient=patient_a).end_date == plan.surgery_date


def test_end_date_is_validated(client_for, staff_a, patient_a):
    services.fill_record(plan=patient_a.plan, date=TODAY - dt.timedelta(days=2), infusate="fudr", by=staff_a)
    url = reverse("staff:therapy_end", args=[patient_a.public_id])
    client = client_for(staff_a)
    cases = [
        ((patient_a.plan.surgery_date - dt.timedelta(days=1)).isoformat(), "over", "before surgery"),
        ((TODAY - dt.timedelta(days=3)).isoformat(), "over", "after this date"),
        ((TODAY - dt.timedelta(days=3)).isoformat(), "chemo", "FUDR is recorded on"),
        ("2027-12-31", "over", "within the next 12 months"),
        ("31/12/2026", "over", "could be read two ways"),
    ]
    for value, kind, message in cases:
        reason = "death" if kind == "over" else "completed"
        response = client.post(url, {"kind": kind, "end_date": value, "reason": reason})
        assert response.status_code == 200 and message in field_error(response, "id_end_date")
    response = client.post(url, {"kind": "over", "end_date": TODAY.isoformat(), "reason": "bored"})
    assert "Select a valid choice. bored is not one of the available choices." in field_error(response, "id_reason")
    response = client.post(url, {"kind": "over", "end_date": TODAY.isoformat(), "reason": "toxicity"})
    assert "belongs to the other end" in field_error(response, "id_reason")
    assert TherapyPlan.objects.get(patient=patient_a).status == "active"


def test_end_checklist(client_for, staff_a, staff_b, patient_a, caregiver_a, outsider):
    url = reverse("staff:therapy_end", args=[patient_a.public_id])
    reopen = reverse("staff:therapy_reopen", args=[patient_a.public_id])
    assert client_for(staff_a).put(url).status_code == 405
    assert client_for(staff_a).get(reopen).status_code == 405
    for user in (staff_b, outsider, patient_a.user, caregiver_a):
        data = {"kind": "over", "end_date": TODAY.isoformat(), "reason": "death"}
        assert client_for(user).post(url, data).status_code == 404
        assert client_for(user).post(reopen).status_code == 404
    assert TherapyPlan.objects.get(patient=patient_a).status == "active"
    # Reopening an active therapy or ending an ended one only says so.
    assert client_for(staff_a).post(reopen).status_code == 302
    services.therapy_end(plan=patient_a.plan, end_date=TODAY, reason="pump_removed")
    assert client_for(staff_a).get(url).status_code == 302


def test_the_problem_summary_links_every_error_to_a_control_on_the_page(client_for, staff_a, patient_a):
    # Radio buttons have no single id: the summary's link for "Which end" must still reach its first option.
    url = reverse("staff:therapy_end", args=[patient_a.public_id])
    response = client_for(staff_a).post(url, {"kind": "", "end_date": "", "reason": ""})
    page = page_of(response)
    links = [a.attrs["href"] for a in page.find(id="error-summary").find_all("a")]
    assert len(links) == 3, links
    for href in links:
        assert href.startswith("#") and len(href) > 1 and page.find_all(id=href[1:]), href
    assert "#id_kind_0" in links
