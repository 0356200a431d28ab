"""Clinic settings: open weekdays, closures (several at once, US holidays), protocols; each recomputes the clinic."""

import datetime as dt

from django.urls import reverse

from patients.models import Clinic
from schedules import jobs
from schedules.models import ClinicClosure, Protocol, ScheduledFill
from tests.conftest import TODAY, field_error, page_of
from tests.staff_fixtures import messages_of, planned


def settings_url(clinic):
    return reverse("staff:clinic_settings", args=[clinic.pk])


def test_settings_page_shows_weekdays_closures_and_protocols(client_for, staff_a, clinic_a):
    ClinicClosure.objects.create(clinic=clinic_a, date=TODAY + dt.timedelta(days=3), name="Staff day")
    response = client_for(staff_a).get(settings_url(clinic_a))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Staff day" in body and "Standard" in body and 'value="4"' in body


def test_closing_a_weekday_moves_fills_and_says_how_many(client_for, staff_a, clinic_a, patient_a):
    # patient_a's fills fall on Wednesdays (surgery on a Wednesday, steps of 14 days): close Wednesdays.
    assert {f.date.weekday() for f in planned(patient_a)} == {2}
    chemo = planned(patient_a)[1]
    data = {"clinic-open_days": ["0", "1", "3", "4"], "clinic-flow_tolerance_percent": "20",
            "clinic-default_protocol": str(clinic_a.default_protocol_id)}
    client = client_for(staff_a)
    response = client.post(settings_url(clinic_a), data, follow=True)
    assert Clinic.objects.get(pk=clinic_a.pk).open_weekdays == "0134"
    # The request only marked the plans: it says how many, and the pages say the schedule is being updated.
    assert "Settings saved. Updating the schedule of 1 patient in the background" in messages_of(response)[0]
    assert "Updating the schedules of 1 patient after a clinic-wide change" in response.content.decode()
    patient_page = client.get(reverse("staff:patient", args=[patient_a.public_id])).content.decode()
    assert "Schedule being updated after a clinic-wide change" in patient_page
    assert ScheduledFill.objects.get(pk=chemo.pk).date.weekday() == 2
    # The worker's unit, until the queue is empty (the command itself runs as a process in test_production.py:
    # in here its close_old_connections would close the test's transaction on PostgreSQL).
    while jobs.recompute_stale_plans(limit=100):
        pass
    assert 2 not in {f.date.weekday() for f in planned(patient_a)}
    assert ScheduledFill.objects.get(pk=chemo.pk).revision > chemo.revision
    patient_page = client.get(reverse("staff:patient", args=[patient_a.public_id])).content.decode()
    assert "being updated" not in patient_page
    assert "Updating the schedules" not in client.get(settings_url(clinic_a)).content.decode()


def test_a_new_address_updates_no_schedule_and_a_new_tolerance_every_one(client_for, staff_a, clinic_a, patient_a):
    # No stored schedule reads the address (the feeds read it as they are built): nothing to recompute.
    data = {"clinic-open_days": ["0", "1", "2", "3", "4"], "clinic-flow_tolerance_percent": "20",
            "clinic-default_protocol": str(clinic_a.default_protocol_id), "clinic-address": "2 New Street"}
    client = client_for(staff_a)
    response = client.post(settings_url(clinic_a), data, follow=True)
    assert messages_of(response) == ["Settings saved. No patient's schedule is affected."]
    assert Clinic.objects.get(pk=clinic_a.pk).address == "2 New Street"
    assert not jobs.stale_plans().exists()
    # A new tolerance can change what is flagged on any plan: every plan of the clinic is recomputed.
    response = client.post(settings_url(clinic_a), {**data, "clinic-flow_tolerance_percent": "30"}, follow=True)
    assert "Settings saved. Updating the schedule of 1 patient" in messages_of(response)[0]


def test_settings_reject_no_open_day_and_a_bad_tolerance(client_for, staff_a, clinic_a):
    data = {"clinic-flow_tolerance_percent": "500", "clinic-default_protocol": ""}
    response = client_for(staff_a).post(settings_url(clinic_a), data)
    assert field_error(response, "id_clinic-open_days") == "Choose at least one open weekday."
    assert "less than or equal to 100" in field_error(response, "id_clinic-flow_tolerance_percent")
    assert Clinic.objects.get(pk=clinic_a.pk).open_weekdays == "01234"


def test_add_several_closures_at_once(client_for, staff_a, clinic_a, patient_a):
    lines = f"{(TODAY + dt.timedelta(days=7)).isoformat()} Staff day\n\n{(TODAY + dt.timedelta(days=8)).isoformat()}\n"
    url = reverse("staff:closures_add", args=[clinic_a.pk])
    response = client_for(staff_a).post(url, {"closures-lines": lines}, follow=True)
    assert sorted(c.name for c in ClinicClosure.objects.filter(clinic=clinic_a)) == ["", "Staff day"]
    assert {c.history.get().history_user for c in ClinicClosure.objects.filter(clinic=clinic_a)} == {staff_a}
    assert any(m.startswith("2 closure dates added.") for m in messages_of(response))
    # The same dates again: kept once.
    response = client_for(staff_a).post(url, {"closures-lines": lines}, follow=True)
    assert ClinicClosure.objects.filter(clinic=clinic_a).count() == 2
    assert any(m.startswith("0 closure dates added.") for m in messages_of(response))


def test_a_long_closure_name_is_kept_to_its_first_100_characters(client_for, staff_a, clinic_a):
    name = "Staff training day and the clinic's yearly move " * 4  # about 200 characters
    line = f"{(TODAY + dt.timedelta(days=7)).isoformat()} {name}"
    client_for(staff_a).post(reverse("staff:closures_add", args=[clinic_a.pk]), {"closures-lines": line})
    assert ClinicClosure.objects.get(clinic=clinic_a).name == name.strip()[:100]


def test_bad_closure_lines_say_which_line(client_for, staff_a, clinic_a):
    url = reverse("staff:closures_add", args=[clinic_a.pk])
    response = client_for(staff_a).post(url, {"closures-lines": "2026-04-01\nnext tuesday\n2026-02-30\n1999-01-01"})
    assert response.status_code == 400
    assert field_error(response, "id_closures-lines") == (
        "Line 2: not a date (YYYY-MM-DD). "
        "Line 3: not a date (YYYY-MM-DD). "
        "Line 4: choose a date between last year and five years ahead."
    )
    assert not ClinicClosure.objects.exists()
    assert client_for(staff_a).post(url, {"closures-lines": "  \n"}).status_code == 400


def test_us_holidays_for_a_year(client_for, staff_a, clinic_a):
    url = reverse("staff:closures_add", args=[clinic_a.pk])
    client_for(staff_a).post(url, {"holidays-year": "2027"})
    dates = set(ClinicClosure.objects.filter(clinic=clinic_a).values_list("date", flat=True))
    assert dt.date(2027, 12, 25) in dates and dt.date(2027, 7, 5) in dates  # 4 July 2027 is a Sunday: observed
    assert client_for(staff_a).post(url, {"holidays-year": "1900"}).status_code == 400


def test_remove_a_closure(client_for, staff_a, clinic_a, patient_a):
    closure = ClinicClosure.objects.create(clinic=clinic_a, date=TODAY + dt.timedelta(days=2))
    response = client_for(staff_a).post(reverse("staff:closure_remove", args=[clinic_a.pk, closure.pk]), follow=True)
    assert not ClinicClosure.objects.exists() and any("removed" in m for m in messages_of(response))


def test_protocol_create_and_edit_recompute_plans(client_for, staff_a, clinic_a, patient_a):
    client = client_for(staff_a)
    data = {
        "name": "Two then four", "first_chemo_after_days": "14", "cycle_count": "4",
        "maintenance_infusate": "glycerin", "maintenance_days": "28",
        "chemo_infusate": "fudr_dex", "chemo_days": "14", "rest_infusate": "heparinized_saline", "rest_days": "28",
        "rest2_infusate": "", "rest2_days": "",
    }
    response = client.post(reverse("staff:protocol_create", args=[clinic_a.pk]), data)
    created = Protocol.objects.get(clinic=clinic_a, name="Two then four")
    assert response.status_code == 302
    assert created.cycle_steps == [{"infusate": "fudr_dex", "days": 14}, {"infusate": "heparinized_saline", "days": 28}]
    standard = clinic_a.default_protocol
    edit = reverse("staff:protocol_edit", args=[clinic_a.pk, standard.pk])
    page = client.get(edit)
    assert page_of(page).find("input", id="id_rest_days").attrs["value"] == "14"
    rest = next(f for f in planned(patient_a) if f.kind == "rest")
    changed = dict(data, name="Standard", rest_days="21", maintenance_infusate="heparinized_saline",
                   maintenance_days="14", cycle_count="6", chemo_infusate="fudr")
    response = client.post(edit, changed, follow=True)
    assert Protocol.objects.get(pk=standard.pk).cycle_steps[1]["days"] == 21
    assert any("Updating the schedule of 1 patient in the background" in m for m in messages_of(response))
    jobs.recompute_stale_plans(limit=100)
    assert ScheduledFill.objects.get(pk=rest.pk).phase_days == 21


def test_protocol_bad_input(client_for, staff_a, clinic_a):
    url = reverse("staff:protocol_create", args=[clinic_a.pk])
    data = {
        "name": "standard", "first_chemo_after_days": "0", "cycle_count": "-1",
        "maintenance_infusate": "fudr", "maintenance_days": "14",
        "chemo_infusate": "heparinized_saline", "chemo_days": "400", "rest_infusate": "fudr", "rest_days": "14",
        "rest2_infusate": "saline", "rest2_days": "",
    }
    response = client_for(staff_a).post(url, data)
    shown = {
        "name": "The clinic already has a protocol with this name.",
        "first_chemo_after_days": "Ensure this value is greater than or equal to 1.",
        "cycle_count": "Ensure this value is greater than or equal to 0.",
        "maintenance_infusate": "Select a valid choice. fudr is not one of the available choices.",
        "chemo_infusate": "Select a valid choice. heparinized_saline is not one of the available choices.",
        "chemo_days": "Ensure this value is less than or equal to 90.",
        "rest_infusate": "Select a valid choice. fudr is not one of the available choices.",
        "rest2_days": "Give the second rest step both an infusate and its days, or neither.",
    }
    assert {field: field_error(response, f"id_{field}") for field in shown} == shown
    assert Protocol.objects.filter(clinic=clinic_a).count() == 1


def test_checklist(client_for, staff_a, staff_b, clinic_a, clinic_b, patient_a, caregiver_a, outsider):
    closure = ClinicClosure.objects.create(clinic=clinic_a, date=TODAY + dt.timedelta(days=2))
    urls = {
        settings_url(clinic_a): "get",
        reverse("staff:closures_add", args=[clinic_a.pk]): "post",
        reverse("staff:closure_remove", args=[clinic_a.pk, closure.pk]): "post",
        reverse("staff:protocol_create", args=[clinic_a.pk]): "get",
        reverse("staff:protocol_edit", args=[clinic_a.pk, clinic_a.default_protocol_id]): "get",
    }
    for url, method in urls.items():
        for user in (staff_b, outsider, patient_a.user, caregiver_a):
            assert getattr(client_for(user), method)(url).status_code == 404, (url, user)
    assert client_for(staff_a).get(reverse("staff:closures_add", args=[clinic_a.pk])).status_code == 405
    assert client_for(staff_a).get(reverse("staff:closure_remove", args=[clinic_a.pk, closure.pk])).status_code == 405
    assert client_for(staff_a).put(settings_url(clinic_a)).status_code == 405
    # Clinic B's closure or protocol under clinic A's URL: 404.
    other = ClinicClosure.objects.create(clinic=clinic_b, date=TODAY + dt.timedelta(days=2))
    assert client_for(staff_a).post(reverse("staff:closure_remove", args=[clinic_a.pk, other.pk])).status_code == 404
    b_protocol = reverse("staff:protocol_edit", args=[clinic_a.pk, clinic_b.default_protocol_id])
    assert client_for(staff_a).get(b_protocol).status_code == 404
    assert ClinicClosure.objects.count() == 2
    assert client_for(staff_b).post(settings_url(clinic_a), {"clinic-open_days": ["0"]}).status_code == 404
    assert Clinic.objects.get(pk=clinic_a.pk).open_weekdays == "01234"


def test_two_staff_adding_the_same_closure_at_once_one_wins_the_other_is_told(client_for, staff_a, clinic_a,
                                                                               patient_a):
    """The other nurse's closure is committed between this request's read and its insert (issue 10)."""
    from unittest import mock

    from schedules import services

    day = TODAY + dt.timedelta(days=9)
    real_insert = services.bulk_create_with_history

    def the_other_nurse_first(objs, model, **kwargs):
        ClinicClosure.objects.create(clinic=clinic_a, date=day, name="Added by the other nurse")
        return real_insert(objs, model, **kwargs)

    url = reverse("staff:closures_add", args=[clinic_a.pk])
    with mock.patch.object(services, "bulk_create_with_history", the_other_nurse_first):
        response = client_for(staff_a).post(url, {"closures-lines": f"{day:%Y-%m-%d} Staff day"}, follow=True)
    assert response.status_code == 200
    assert any("at the same moment" in m for m in messages_of(response))
    # (Here the other nurse's row goes with the rolled-back attempt; in production it was committed first.)
    assert not ClinicClosure.objects.filter(name="Staff day").exists()


def test_a_closure_added_meanwhile_is_named_as_already_closed(client_for, staff_a, clinic_a, patient_a):
    day = TODAY + dt.timedelta(days=9)
    ClinicClosure.objects.create(clinic=clinic_a, date=day, name="Added by the other nurse")
    url = reverse("staff:closures_add", args=[clinic_a.pk])
    response = client_for(staff_a).post(url, {"closures-lines": f"{day:%Y-%m-%d} Staff day"}, follow=True)
    assert any("1 was already closed" in m for m in messages_of(response))


def test_a_closure_says_it_updates_only_the_patients_with_a_fill_that_day(client_for, staff_a, clinic_a, patient_a):
    from tests.conftest import make_patient

    other = make_patient(clinic_a, "Carl Cole", "A-101", surgery=TODAY - dt.timedelta(days=27))  # fills a week apart
    due = planned(patient_a)[1]
    assert not ScheduledFill.objects.filter(plan__patient=other, date=due.date).exists()
    url = reverse("staff:closures_add", args=[clinic_a.pk])
    response = client_for(staff_a).post(url, {"closures-lines": f"{due.date:%Y-%m-%d} Staff day"}, follow=True)
    assert any("Updating the schedule of 1 patient in the background" in m for m in messages_of(response))
    assert set(jobs.stale_plans().values_list("patient", flat=True)) == {patient_a.pk}
    jobs.recompute_stale_plans(limit=10)
    assert ScheduledFill.objects.get(pk=due.pk).moved_from == due.date

    closure = ClinicClosure.objects.get(clinic=clinic_a)
    response = client_for(staff_a).post(reverse("staff:closure_remove", args=[clinic_a.pk, closure.pk]), follow=True)
    assert any("Updating the schedule of 1 patient in the background" in m for m in messages_of(response))
    assert set(jobs.stale_plans().values_list("patient", flat=True)) == {patient_a.pk}
    jobs.recompute_stale_plans(limit=10)
    assert ScheduledFill.objects.get(pk=due.pk).date == due.date


def test_a_closure_on_a_day_without_fills_updates_no_schedule(client_for, staff_a, clinic_a, patient_a):
    day = TODAY + dt.timedelta(days=1)  # Wednesday: patient A's fills are on other days
    assert not ScheduledFill.objects.filter(plan__patient=patient_a, date=day).exists()
    url = reverse("staff:closures_add", args=[clinic_a.pk])
    response = client_for(staff_a).post(url, {"closures-lines": f"{day:%Y-%m-%d}"}, follow=True)
    assert any("No patient's schedule is affected." in m for m in messages_of(response))
    assert not jobs.stale_plans().exists()
