"""Recording and correcting fills: defaults, holds by infusate, "what moved", bad input, and never a double record."""

import datetime as dt
import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from patients.models import AccessEvent
from schedules import services
from schedules.models import FillKind, RecordedFill, ScheduledFill
from tests.conftest import TODAY, field_error, make_patient, page_of
from tests.staff_fixtures import messages_of, planned


def record_url(patient):
    return reverse("staff:fill_record", args=[patient.public_id])


def fill_data(fill, **overrides):
    data = {
        "date": TODAY.isoformat(),
        "infusate": fill.infusate,
        "sequence": str(fill.sequence),
        "appointment_time": "",
        "volume_in_ml": "30",
        "volume_returned_ml": "",
        "note": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def on_time(clinic_a):
    """A patient whose first chemo fill is due today (surgery two weeks ago)."""
    return make_patient(clinic_a, "Otto Ontime", "A-200", surgery=TODAY - dt.timedelta(days=14))


def test_the_form_defaults_to_today_and_the_expected_infusate(client_for, staff_a, on_time):
    expected = planned(on_time)[0]
    form = page_of(client_for(staff_a).get(record_url(on_time), {"sequence": expected.sequence})).find(id="fill-form")
    assert form.find("input", id="id_date").attrs["value"] == TODAY.isoformat()
    assert [o.text() for o in form.find("select", id="id_infusate").find_all("option", selected="")] == ["FUDR"]
    assert form.find("input", id="id_sequence").attrs["value"] == str(expected.sequence)


def test_recording_late_moves_later_fills_and_says_so(client_for, staff_a, on_time):
    first_chemo, rest = planned(on_time)[:2]
    late = first_chemo.date + dt.timedelta(days=2)  # Thursday: the clinic is open
    with_time = fill_data(first_chemo, date=late.isoformat(), appointment_time="09:30", volume_returned_ml="2.5")
    # Recording in the future is refused, so record from two days later.
    import time_machine

    with time_machine.travel(dt.datetime(2026, 3, 12, 15, 0, tzinfo=dt.UTC), tick=False):
        response = client_for(staff_a).post(record_url(on_time), with_time, follow=True)
    record = RecordedFill.objects.get(plan=on_time.plan)
    assert record.date == late and record.recorded_by == staff_a and record.appointment_time == dt.time(9, 30)
    moved = ScheduledFill.objects.get(pk=rest.pk)
    assert moved.date == rest.date + dt.timedelta(days=2)
    text = " ".join(messages_of(response))
    assert "Fill recorded." in text and f"fill {rest.sequence} from" in text


def test_a_non_fudr_fill_where_chemo_was_due_is_a_hold_and_says_so(client_for, staff_a, on_time):
    expected = planned(on_time)[0]
    response = client_for(staff_a).post(
        record_url(on_time), fill_data(expected, infusate="heparinized_saline"), follow=True
    )
    assert ScheduledFill.objects.get(plan=on_time.plan, sequence=expected.sequence).kind == FillKind.HELD
    assert any("held cycle" in m for m in messages_of(response))


def test_a_double_submit_ends_as_one_record_with_a_clear_message(client_for, staff_a, on_time):
    expected = planned(on_time)[0]
    client = client_for(staff_a)
    client.post(record_url(on_time), fill_data(expected))
    response = client.post(record_url(on_time), fill_data(expected), follow=True)
    assert RecordedFill.objects.filter(plan=on_time.plan).count() == 1
    assert "This refill was already recorded: nothing was added." in messages_of(response)
    # Each submit is audited, the refused one too (the audit row and the record share one transaction).
    assert AccessEvent.objects.filter(patient=on_time, detail="staff:fill_record").count() == 2


def test_a_record_the_service_refuses_leaves_nothing_of_it_but_the_submit_is_audited(
    client_for, staff_a, on_time, monkeypatch
):
    """The service runs in the view's transaction without a savepoint: a refusal (here after it had written the
    record and its recompute) rolls all of it back, and the submit is still audited, in a transaction of its own."""
    expected = planned(on_time)[0]
    before = list(ScheduledFill.objects.filter(plan=on_time.plan).order_by("sequence").values_list("date", "kind"))
    record = services.fill_record_expected

    def refused_after_writing(**kwargs):
        record(**kwargs)
        raise services.FillAlreadyRecorded

    monkeypatch.setattr(services, "fill_record_expected", refused_after_writing)
    response = client_for(staff_a).post(record_url(on_time), fill_data(expected), follow=True)
    assert "This refill was already recorded: nothing was added." in messages_of(response)
    assert not RecordedFill.objects.filter(plan=on_time.plan).exists()
    assert list(ScheduledFill.objects.filter(plan=on_time.plan).order_by("sequence").values_list("date", "kind")) \
        == before
    assert AccessEvent.objects.filter(patient=on_time, detail="staff:fill_record").count() == 1


def test_a_fill_recorded_since_the_form_was_shown_is_refused_by_the_service(client_for, staff_a, on_time):
    """The form trusts the planned fill the view read; the service, under the plan's lock, has the last word."""
    expected = planned(on_time)[0]
    services.fill_record(plan=on_time.plan, date=TODAY, infusate="fudr", by=staff_a)  # as if a moment earlier
    from clinic import forms

    form = forms.FillForm(fill_data(expected, date=(TODAY - dt.timedelta(days=1)).isoformat()), plan=on_time.plan,
                          today=TODAY, expected=expected)  # the row as the view had read it
    assert form.is_valid()
    with pytest.raises(services.FillAlreadyRecorded):
        services.fill_record_expected(plan=on_time.plan, sequence=expected.sequence, by=staff_a,
                                      **{name: form.cleaned_data[name] for name in form.Meta.fields})
    assert RecordedFill.objects.filter(plan=on_time.plan).count() == 1


def test_the_same_fill_recorded_again_on_another_day_is_refused(client_for, staff_a, patient_a):
    expected = planned(patient_a)[0]  # overdue since 6 days ago
    client = client_for(staff_a)
    client.post(record_url(patient_a), fill_data(expected, date=(TODAY - dt.timedelta(days=1)).isoformat()))
    response = client.post(record_url(patient_a), fill_data(expected), follow=True)
    assert RecordedFill.objects.filter(plan=patient_a.plan).count() == 1
    assert "This refill was already recorded: nothing was added." in messages_of(response)


def test_an_extra_visit_on_another_day_is_still_possible(client_for, staff_a, patient_a):
    expected = planned(patient_a)[0]
    client = client_for(staff_a)
    client.post(record_url(patient_a), fill_data(expected, date=(TODAY - dt.timedelta(days=1)).isoformat()))
    # The plain "Record another fill" form carries the then-next fill, not the one just recorded.
    following = planned(patient_a)[0]
    response = client.post(record_url(patient_a), fill_data(following, infusate="heparinized_saline"))
    assert response.status_code == 302
    assert RecordedFill.objects.filter(plan=patient_a.plan).count() == 2


def test_two_fills_on_one_day_get_a_message_next_to_the_date(client_for, staff_a, patient_a):
    services.fill_record(plan=patient_a.plan, date=TODAY, infusate="fudr", by=staff_a)
    data = fill_data(planned(patient_a)[0], sequence="")
    response = client_for(staff_a).post(record_url(patient_a), data)
    assert "already recorded for this patient on this date" in field_error(response, "id_date")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("date", "2025-01-01", "before surgery"),
        ("date", (TODAY + dt.timedelta(days=1)).isoformat(), "today at the latest"),
        ("date", "2026-13-01", "Enter a real date as year-month-day"),
        ("date", "31/12/2026", "could be read two ways"),
        ("date", "22026-03-11", "The year 22026 is not possible"),
        ("date", "", "This field is required"),
        ("volume_in_ml", "-1", "greater than or equal to 0"),
        ("volume_in_ml", "45", "More than the pump holds"),
        ("volume_in_ml", "1e9", "Ensure that there are no more than"),
        ("volume_returned_ml", "abc", "Enter a number"),
        ("infusate", "water", "Select a valid choice"),
        ("appointment_time", "25:99", "Enter a valid time"),
    ],
)
def test_bad_input_gets_a_message_next_to_the_field(client_for, staff_a, patient_a, field, value, message):
    response = client_for(staff_a).post(record_url(patient_a), fill_data(planned(patient_a)[0], **{field: value}))
    assert response.status_code == 200
    assert message in field_error(response, f"id_{field}")
    assert not RecordedFill.objects.filter(plan=patient_a.plan).exists()


def test_a_fill_after_the_end_of_therapy_is_refused(client_for, staff_a, patient_a):
    services.therapy_end(plan=patient_a.plan, end_date=TODAY - dt.timedelta(days=2), reason="pump_removed")
    response = client_for(staff_a).post(record_url(patient_a), fill_data(planned(patient_a)[0]) if planned(patient_a)
                                        else {"date": TODAY.isoformat(), "infusate": "fudr"})
    assert "reopen it" in field_error(response, "id_date")


def test_a_correction_keeps_old_values_and_who_and_shows_them(client_for, staff_a, patient_a):
    record, _ = services.fill_record(
        plan=patient_a.plan, date=TODAY - dt.timedelta(days=6), infusate="fudr", by=staff_a, volume_in_ml=30
    )
    client = client_for(staff_a)
    url = reverse("staff:fill_correct", args=[patient_a.public_id, record.pk])
    assert page_of(client.get(url)).find("input", id="id_volume_in_ml").attrs["value"] == "30.0"
    data = {"date": record.date.isoformat(), "infusate": "fudr", "volume_in_ml": "28", "volume_returned_ml": "",
            "appointment_time": "", "note": "typo"}
    response = client.post(url, data, follow=True)
    assert any("Correction saved" in m for m in messages_of(response))
    latest = record.history.order_by("-history_id").first()  # time is frozen: history dates tie
    assert latest.history_user == staff_a and float(latest.volume_in_ml) == 28
    assert [float(v) for v in record.history.order_by("history_id").values_list("volume_in_ml", flat=True)] == [30, 28]
    corrections = page_of(response).find("ul", class_="corrections").elements
    assert corrections and "by staff_a, fill of" in corrections[0].text()
    assert "Volume put in (mL): 30.0 → 28.0" in corrections[0].text()


def test_a_correction_moving_the_date_moves_later_fills(client_for, staff_a, patient_a):
    day = TODAY - dt.timedelta(days=6)
    record, _ = services.fill_record(plan=patient_a.plan, date=day, infusate="fudr", by=staff_a)
    after = planned(patient_a)[0]
    data = {"date": (TODAY - dt.timedelta(days=5)).isoformat(), "infusate": "fudr", "volume_in_ml": "",
            "volume_returned_ml": "", "appointment_time": "", "note": ""}
    client_for(staff_a).post(reverse("staff:fill_correct", args=[patient_a.public_id, record.pk]), data)
    assert ScheduledFill.objects.get(pk=after.pk).date == after.date + dt.timedelta(days=1)


def test_checklist(client_for, staff_a, staff_b, patient_a, patient_b, caregiver_a, outsider):
    expected = planned(patient_a)[0]
    url = record_url(patient_a)
    assert client_for(staff_a).put(url).status_code == 405
    for user in (staff_b, outsider, patient_a.user, caregiver_a):
        assert client_for(user).get(url).status_code == 404
        assert client_for(user).post(url, fill_data(expected)).status_code == 404
    assert not RecordedFill.objects.filter(plan=patient_a.plan).exists()
    assert client_for(staff_a).get(record_url(patient_b)).status_code == 404
    assert client_for(staff_a).get(reverse("staff:fill_record", args=[uuid.uuid4()])).status_code == 404
    day = TODAY - dt.timedelta(days=1)
    other, _ = services.fill_record(plan=patient_b.plan, date=day, infusate="fudr", by=staff_b)
    # A fill of clinic B's patient, addressed under clinic A's patient: 404 too.
    mixed = reverse("staff:fill_correct", args=[patient_a.public_id, other.pk])
    assert client_for(staff_a).get(mixed).status_code == 404
    correct_b = reverse("staff:fill_correct", args=[patient_b.public_id, other.pk])
    assert client_for(staff_a).post(correct_b, {"date": TODAY.isoformat(), "infusate": "fudr"}).status_code == 404
    assert RecordedFill.objects.get(pk=other.pk).date == TODAY - dt.timedelta(days=1)


def test_two_nurses_recording_at_once_end_as_one_record(client_for, staff_a, patient_a, transactional_db, monkeypatch):
    """Two concurrent requests for the same fill: on PostgreSQL for real (threads, the plan row lock); on SQLite,
    which serialises writers anyway, the same two submits one after the other."""
    expected = planned(patient_a)[0]
    second_nurse = staff_a.__class__.objects.create_user("staff_a2", password="x")
    second_nurse.memberships.create(clinic=patient_a.clinic)
    clients = [client_for(staff_a), client_for(second_nurse)]
    data = fill_data(expected)
    responses = []
    if connection.vendor == "postgresql":
        slow = services.recompute_locked

        def slow_recompute(plans, **kwargs):
            # Hold the plan lock a while, so the second request surely arrives while the first is inside.
            import time

            time.sleep(0.3)
            return slow(plans, **kwargs)

        monkeypatch.setattr(services, "recompute_locked", slow_recompute)
        barrier = threading.Barrier(2)

        def submit(client):
            try:
                barrier.wait()
                responses.append(client.post(record_url(patient_a), data, follow=True))
            finally:
                connection.close()

        threads = [threading.Thread(target=submit, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        responses = [c.post(record_url(patient_a), data, follow=True) for c in clients]
    assert len(responses) == 2 and all(r.status_code == 200 for r in responses)
    assert RecordedFill.objects.filter(plan=patient_a.plan).count() == 1
    # The page text, not response.context: the test client's context capture is shared between threads.
    pages = [r.content.decode() for r in responses]
    assert sum("This refill was already recorded" in page for page in pages) == 1
    assert sum("Fill recorded." in page for page in pages) == 1


def test_an_overdue_fill_is_flagged_on_the_patient_page_and_the_record_form(client_for, staff_a, patient_a):
    # patient_a's first chemo was due 6 days ago and nothing is recorded.
    client = client_for(staff_a)
    page = client.get(reverse("staff:patient", args=[patient_a.public_id])).content.decode()
    form = client.get(reverse("staff:fill_record", args=[patient_a.public_id])).content.decode()
    badge = '<span class="badge text-bg-danger">Overdue</span>'
    assert badge in page and badge in form


def test_the_patient_page_shows_the_measured_flow_of_a_refill(client_for, staff_a, patient_a):
    # 30 mL in at the first chemo fill, 6 days ago; 22.7 mL back today: 7.3 mL in 6 days is 1.22 mL/day.
    services.fill_record(plan=patient_a.plan, date=TODAY - dt.timedelta(days=6), infusate="fudr", by=staff_a,
                         volume_in_ml=Decimal("30"))
    services.fill_record(plan=patient_a.plan, date=TODAY, infusate="heparinized_saline", by=staff_a,
                         volume_returned_ml=Decimal("22.7"))
    page = client_for(staff_a).get(reverse("staff:patient", args=[patient_a.public_id])).content.decode()
    assert "flow 1.22 mL/day" in page
