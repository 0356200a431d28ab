"""Patients: the searchable list, and create / edit with a preview of the first fills before saving."""

import datetime as dt
import re
import uuid

import pytest
from django.urls import reverse
from django.utils.formats import date_format

from patients.models import Patient
from schedules import services
from schedules.models import FillKind, ScheduledFill, TherapyPlan
from tests.conftest import TODAY, field_error, field_note, make_patient, page_of, page_queries, table_rows
from tests.staff_fixtures import make_patients, messages_of, planned


def create_url(clinic):
    return reverse("staff:patient_create", args=[clinic.pk])


def form_data(clinic, **overrides):
    data = {
        "patient-name": "Nina New",
        "patient-record_number": "A-900",
        "patient-date_of_birth": "1961-05-17",
        "patient-email": "nina@example.com",
        "patient-pump_model": "Intera 3000",
        "patient-pump_reservoir_ml": "30",
        "patient-pump_flow_ml_per_day": "1.0",
        "plan-surgery_date": (TODAY - dt.timedelta(days=3)).isoformat(),
        "plan-protocol": str(clinic.default_protocol_id),
        "plan-first_chemo_after_days": "",
        "plan-cycle_count": "",
        "save": "1",
    }
    data.update(overrides)
    return data


def shown(day: dt.date) -> str:
    """A date as the pages write it: Tue 10 Mar 2026."""
    return f"{day:%a} {day.day} {day:%b %Y}"


def listed(response) -> list[list[str]]:
    """The rows of the patient table as a nurse reads them: name, record number, next refill."""
    tables = page_of(response).find_all("table", class_="staff-table")
    return table_rows(tables[0]) if tables else []


def names(response) -> list[str]:
    return [row[0] for row in listed(response)]


# --- list ---


def test_list_searches_name_and_record_number(client_for, staff_a, patient_a, clinic_a):
    make_patient(clinic_a, "Zed Zimmer", "A-777", surgery=TODAY)
    client = client_for(staff_a)
    url = reverse("staff:patients", args=[clinic_a.pk])
    assert names(client.get(url)) == ["Alice Ames", "Zed Zimmer"]

    def search(term):
        response = client.post(url, {"q": term}, follow=True)
        assert response.redirect_chain[-1][0] == url  # the term is kept in the session, not the URL
        return response

    assert names(search("zimm")) == ["Zed Zimmer"]
    assert names(search("a-100")) == ["Alice Ames"]
    nobody = search("nobody")
    assert names(nobody) == [] and "No patient matches “nobody”." in page_of(nobody).find("main").text()
    assert names(search("")) == ["Alice Ames", "Zed Zimmer"]
    next_fill = ScheduledFill.objects.filter(
        plan__patient=patient_a, recorded=False, active=True
    ).exclude(kind=FillKind.IMPLANT).order_by("date").first().date
    assert next_fill < TODAY  # Alice's first chemo fill, 6 days ago
    assert listed(client.get(url))[0] == ["Alice Ames", "A-100", f"{shown(next_fill)} Overdue"]


def test_search_ignores_accents_case_and_word_order(client_for, staff_a, clinic_a, django_assert_max_num_queries):
    """Issue 14: "nunez" finds "Núñez", "lopez maria" finds Maria Lopez; the column follows a renamed patient."""
    for name, record in [("José Núñez", "A-201"), ("Maria Lopez", "A-202"), ("Mario Lopes", "A-203")]:
        patient = Patient(clinic=clinic_a, name=name, record_number=record, date_of_birth=dt.date(1960, 1, 1))
        services.patient_save(
            patient=patient, plan=TherapyPlan(surgery_date=TODAY, protocol=clinic_a.default_protocol)
        )
    client = client_for(staff_a)
    url = reverse("staff:patients", args=[clinic_a.pk])

    def found(term):
        client.post(url, {"q": term})
        with django_assert_max_num_queries(8):
            response = client.get(url)
        return names(response)

    assert found("nunez") == ["José Núñez"]
    assert found("NÚÑEZ jose") == ["José Núñez"]
    assert found("lopez maria") == ["Maria Lopez"]
    assert found("  Lopez,   MARIA ") == ["Maria Lopez"]
    assert found("a-203") == ["Mario Lopes"]
    assert found("lop") == ["Maria Lopez", "Mario Lopes"]
    assert found("lopez mario") == []
    maria = Patient.objects.get(record_number="A-202")
    maria.name = "María Łopez-Ortiz"
    services.patient_save(patient=maria, plan=maria.plan)
    assert found("ortiz maria") == ["María Łopez-Ortiz"]


def test_list_is_paginated_and_a_bad_page_is_not_an_error(client_for, staff_a, clinic_a):
    make_patients(clinic_a, 30)
    client = client_for(staff_a)
    url = reverse("staff:patients", args=[clinic_a.pk])
    first, second = listed(client.get(url)), listed(client.get(url, {"page": 2}))
    assert len(first) == 25 and len(second) == 5
    assert {row[1] for row in first + second} == {f"P-{i:03}" for i in range(30)}
    assert "Page 2 of 2 (30 patients)" in page_of(client.get(url, {"page": 2})).find("main").text()
    assert client.get(url, {"page": "x"}).status_code == 200


def test_a_bigger_clinic_costs_the_patient_list_no_more_queries(client_for, staff_a, clinic_a):
    client = client_for(staff_a)
    url = reverse("staff:patients", args=[clinic_a.pk])
    make_patients(clinic_a, 10, prefix="S")
    client.get(url)  # a session's first request may warm caches
    small = page_queries(client, url)
    make_patients(clinic_a, 190, prefix="L")
    assert page_queries(client, url) == small
    assert page_queries(client, url, {"page": 8}) == small
    # What the nurse sees: a full first page, in name order.
    body = client.get(url).content.decode()
    assert [f"L-{i:03}" in body for i in range(25)] == [True] * 25 and "L-025" not in body


def test_list_checklist(client, client_for, staff_a, staff_b, clinic_a, patient_a, caregiver_a, outsider):
    url = reverse("staff:patients", args=[clinic_a.pk])
    assert client.get(url).status_code == 302
    assert client_for(staff_a).put(url).status_code == 405  # GET lists, POST searches
    for user in (staff_b, outsider, patient_a.user, caregiver_a):
        assert client_for(user).get(url).status_code == 404
        assert client_for(user).post(url, {"q": "Alice"}).status_code == 404


# --- create ---


def test_preview_shows_the_first_fills_and_saves_nothing(client_for, staff_a, clinic_a):
    surgery = TODAY - dt.timedelta(days=4)  # a Friday: the first chemo fill is two weeks later, a Friday too
    data = form_data(clinic_a, preview="1", **{"plan-surgery_date": surgery.isoformat()})
    del data["save"]
    response = client_for(staff_a).post(create_url(clinic_a), data)
    assert response.status_code == 200
    preview = page_of(response).find("section", id="preview")
    assert preview.find("h2").text() == "Preview: the first fills of this plan"
    fills = [item.text() for item in preview.find("ol").elements]
    assert fills[0] == f"{shown(surgery)}: Heparinized saline (implant fill at surgery)"
    assert fills[1] == f"{shown(surgery + dt.timedelta(days=14))}: FUDR (chemo, cycle 1)"
    assert not Patient.objects.filter(record_number="A-900").exists()


def test_create_saves_patient_plan_and_projection(client_for, staff_a, clinic_a):
    response = client_for(staff_a).post(create_url(clinic_a), form_data(clinic_a))
    patient = Patient.objects.get(record_number="A-900")
    assert response.status_code == 302 and response.url == reverse("staff:patient", args=[patient.public_id])
    assert patient.clinic == clinic_a and patient.plan.protocol == clinic_a.default_protocol
    assert ScheduledFill.objects.filter(plan__patient=patient).count() > 10
    assert str(patient.public_id) in response.url and "A-900" not in response.url


def test_a_planned_surgery_months_ahead_is_allowed(client_for, staff_a, clinic_a):
    data = form_data(clinic_a, **{"plan-surgery_date": (TODAY + dt.timedelta(days=120)).isoformat()})
    assert client_for(staff_a).post(create_url(clinic_a), data).status_code == 302


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("patient-record_number", "A-100", "Another patient of this clinic has this record number."),
        ("patient-record_number", "a-100", "Another patient of this clinic has this record number."),
        ("patient-date_of_birth", "2999-01-01", "between 1900 and today"),
        ("patient-date_of_birth", "not a date", "Enter a real date as year-month-day"),
        ("patient-date_of_birth", "31/12/1960", "could be read two ways"),
        ("plan-surgery_date", "1990-01-01", "within the last 10 years"),
        ("plan-surgery_date", (TODAY + dt.timedelta(days=500)).isoformat(), "next 12 months"),
        ("plan-surgery_date", "2026-02-30", "Enter a real date as year-month-day"),
        ("plan-surgery_date", "22026-03-11", "The year 22026 is not possible"),
        ("patient-pump_reservoir_ml", "30.5.1", "Enter a number, like 29.5"),
        ("patient-pump_reservoir_ml", "-5", "greater than or equal to 1"),
        ("patient-pump_reservoir_ml", "9999", "less than or equal to 200"),
        ("patient-pump_flow_ml_per_day", "0", "greater than or equal to 0.1"),
        ("plan-first_chemo_after_days", "0", "greater than or equal to 1"),
        ("plan-protocol", "999999", "Select a valid choice"),
        ("patient-name", "", "This field is required"),
    ],
)
def test_bad_input_gets_a_message_next_to_the_field(client_for, staff_a, clinic_a, patient_a, field, value, message):
    response = client_for(staff_a).post(create_url(clinic_a), form_data(clinic_a, **{field: value}))
    assert response.status_code == 200
    assert message in field_error(response, f"id_{field}")
    assert not Patient.objects.filter(name="Nina New").exists()


def test_surgery_before_birth_and_open_ended_with_cycles_are_refused(client_for, staff_a, clinic_a):
    client = client_for(staff_a)
    data = form_data(clinic_a, **{"patient-date_of_birth": "2020-01-01", "plan-surgery_date": "2019-06-01"})
    response = client.post(create_url(clinic_a), data)
    assert "Surgery must be after the date of birth." in field_error(response, "id_plan-surgery_date")
    data = form_data(clinic_a, **{"plan-open_ended": "on", "plan-cycle_count": "4"})
    response = client.post(create_url(clinic_a), data)
    assert "open-ended plan has no number of cycles" in field_error(response, "id_plan-cycle_count")


def test_another_clinics_protocol_cannot_be_chosen(client_for, staff_a, clinic_a, clinic_b):
    data = form_data(clinic_a, **{"plan-protocol": str(clinic_b.default_protocol_id)})
    response = client_for(staff_a).post(create_url(clinic_a), data)
    assert "Select a valid choice" in field_error(response, "id_plan-protocol")
    assert not Patient.objects.filter(record_number="A-900").exists()


def test_create_checklist(client_for, staff_a, staff_b, clinic_a, patient_a, caregiver_a, outsider):
    assert client_for(staff_a).get(create_url(clinic_a)).status_code == 200
    assert client_for(staff_a).put(create_url(clinic_a)).status_code == 405
    for user in (staff_b, outsider, patient_a.user, caregiver_a):
        assert client_for(user).post(create_url(clinic_a), form_data(clinic_a)).status_code == 404
    assert not Patient.objects.filter(record_number="A-900").exists()


# --- edit ---


def test_edit_changes_the_plan_and_says_what_moved(client_for, staff_a, clinic_a, patient_a):
    url = reverse("staff:patient_edit", args=[patient_a.public_id])
    client = client_for(staff_a)
    page = client.get(url)
    assert page.status_code == 200
    assert page_of(page).find("input", id="id_patient-record_number").attrs["value"] == "A-100"
    surgery = patient_a.plan.surgery_date
    data = form_data(
        clinic_a,
        **{"patient-name": "Alice Ames", "patient-record_number": "A-100", "plan-first_chemo_after_days": "21",
           "plan-surgery_date": surgery.isoformat()},
    )
    response = client.post(url, data, follow=True)
    assert response.status_code == 200
    assert TherapyPlan.objects.get(patient=patient_a).first_chemo_after_days == 21
    assert any("Moved: fill 1 from" in m for m in messages_of(response))


def test_edit_refuses_a_surgery_after_a_recorded_fill(client_for, staff_a, clinic_a, patient_a):
    from schedules import services

    services.fill_record(plan=patient_a.plan, date=TODAY - dt.timedelta(days=2), infusate="fudr", by=staff_a)
    data = form_data(
        clinic_a, **{"patient-record_number": "A-100", "plan-surgery_date": (TODAY - dt.timedelta(days=1)).isoformat()}
    )
    response = client_for(staff_a).post(reverse("staff:patient_edit", args=[patient_a.public_id]), data)
    assert "cannot be after it" in field_error(response, "id_plan-surgery_date")


def test_edit_checklist(client_for, staff_a, staff_b, patient_a, caregiver_a, outsider, clinic_a):
    url = reverse("staff:patient_edit", args=[patient_a.public_id])
    assert client_for(staff_a).delete(url).status_code == 405
    for user in (staff_b, outsider, patient_a.user, caregiver_a):
        assert client_for(user).get(url).status_code == 404
        assert client_for(user).post(url, form_data(clinic_a, **{"patient-name": "Hacked"})).status_code == 404
    assert Patient.objects.get(pk=patient_a.pk).name == "Alice Ames"
    assert client_for(staff_a).get(reverse("staff:patient_edit", args=[uuid.uuid4()])).status_code == 404
    assert client_for(staff_a).get("/clinic/patients/not-a-uuid/edit/").status_code == 404


# --- detail ---


def test_detail_shows_fills_and_actions(client_for, staff_a, patient_a):
    response = client_for(staff_a).get(reverse("staff:patient", args=[patient_a.public_id]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Alice Ames" in body and "A-100" in body and "Hold chemo" in body
    # The main button records the next refill: the first chemo fill, not the implant fill at surgery.
    first_chemo = planned(patient_a)[0]
    assert first_chemo.kind == FillKind.CHEMO
    record = reverse("staff:fill_record", args=[patient_a.public_id]) + f"?sequence={first_chemo.sequence}"
    button = page_of(response).find("a", href=record)
    assert button.text() == f"Record the {first_chemo.date.day} {first_chemo.date:%b} fill"


def test_more_fills_cost_the_patient_page_no_more_queries(client_for, staff_a, clinic_a):
    from tests.test_patient_pages import record_due_fills

    # Both up to date (every fill so far recorded): three weeks of history, or ten months of it.
    recent = make_patient(clinic_a, "Rita Recent", "A-800", surgery=TODAY - dt.timedelta(days=20))
    long_treated = make_patient(clinic_a, "Lena Long", "A-900", surgery=TODAY - dt.timedelta(days=300))
    record_due_fills(recent, staff_a, before=TODAY)
    assert record_due_fills(long_treated, staff_a, before=TODAY) >= 20
    client = client_for(staff_a)
    client.get(reverse("staff:patient", args=[recent.public_id]))  # a session's first request may warm caches
    few = page_queries(client, reverse("staff:patient", args=[recent.public_id]))
    assert page_queries(client, reverse("staff:patient", args=[long_treated.public_id])) == few
    body = client.get(reverse("staff:patient", args=[long_treated.public_id])).content.decode()
    assert "Lena Long" in body and "A-900" in body


def test_detail_checklist(client_for, staff_a, staff_b, patient_a, caregiver_a, outsider):
    url = reverse("staff:patient", args=[patient_a.public_id])
    assert client_for(staff_a).post(url).status_code == 405
    for user in (staff_b, outsider, patient_a.user, caregiver_a):
        assert client_for(user).get(url).status_code == 404
    assert client_for(staff_a).get(reverse("staff:patient", args=[uuid.uuid4()])).status_code == 404


def test_a_decimal_comma_reads_as_a_decimal_point_in_every_number_field(client_for, staff_a, clinic_a):
    """"30,5" is 30.5 in the reservoir and the flow, as in the fill volumes (never 305)."""
    data = form_data(clinic_a, **{"patient-pump_reservoir_ml": "30,5", "patient-pump_flow_ml_per_day": "1,25"})
    client = client_for(staff_a)
    page = page_of(client.get(create_url(clinic_a)))
    for name in ("pump_reservoir_ml", "pump_flow_ml_per_day"):
        box = page.find("input", id=f"id_patient-{name}").attrs
        assert box["type"] == "text" and box["inputmode"] == "decimal"  # type=number drops the comma
    assert client.post(create_url(clinic_a), data).status_code == 302
    patient = Patient.objects.get(name="Nina New")
    assert str(patient.pump_reservoir_ml) == "30.5" and str(patient.pump_flow_ml_per_day) == "1.25"


def test_date_boxes_hint_the_format_and_names_say_their_limit(client_for, staff_a, clinic_a):
    response = client_for(staff_a).get(create_url(clinic_a))
    page = page_of(response)
    assert "year-month-day" in field_note(response, "id_patient-date_of_birth")
    assert page.find("input", id="id_patient-date_of_birth").attrs["max"] == "2100-12-31"
    assert "Up to 200 characters." in field_note(response, "id_patient-name")
    assert page.find("input", id="id_patient-name").attrs["maxlength"] == "200"


def test_error_messages_write_dates_as_the_pages_do(client_for, staff_a, clinic_a, patient_a):
    from schedules import services

    services.fill_record(plan=patient_a.plan, date=TODAY, infusate="fudr", by=staff_a)
    url = reverse("staff:patient_edit", args=[patient_a.public_id])
    after = (TODAY + dt.timedelta(days=1)).isoformat()
    data = form_data(clinic_a, **{"patient-record_number": patient_a.record_number, "plan-surgery_date": after})
    response = client_for(staff_a).post(url, data)
    errors = field_error(response, "id_plan-surgery_date")
    assert f"{TODAY:%a} {TODAY.day} {TODAY:%b %Y}" in errors and TODAY.isoformat() not in errors


def test_the_preview_of_an_unchanged_plan_is_the_schedule_with_its_fills_holds_and_closures(
    client_for, staff_a, clinic_a, patient_a, settings
):
    """Editing a patient in therapy: "Preview fills" starts from what happened (a late fill, a hold, a closure),
    as the stored schedule does, and stops where it stops (the horizon)."""
    settings.SCHEDULE_HORIZON_DAYS = 50  # fewer fills than the preview's eight
    plan = patient_a.plan
    services.fill_record(plan=plan, date=TODAY, infusate="fudr", by=staff_a)  # the first chemo, 6 days late
    chemo = ScheduledFill.objects.filter(plan=plan, kind=FillKind.CHEMO, recorded=False).order_by("sequence").first()
    services.hold_add(plan=plan, sequence=chemo.sequence, reason="ALP rising", by=staff_a)
    rest = ScheduledFill.objects.get(plan=plan, sequence=chemo.sequence - 1)
    services.closures_add(clinic=clinic_a, days={rest.date: "Staff day"}, by=staff_a)
    services.recompute_plans([plan])
    stored = list(ScheduledFill.objects.filter(plan=plan, active=True).order_by("sequence"))
    assert 3 < len(stored) < 8

    data = form_data(clinic_a, preview="1", **{
        "patient-name": patient_a.name, "patient-record_number": patient_a.record_number,
        "patient-date_of_birth": patient_a.date_of_birth.isoformat(),
        "patient-pump_reservoir_ml": str(patient_a.pump_reservoir_ml),
        "patient-pump_flow_ml_per_day": str(patient_a.pump_flow_ml_per_day),
        "plan-surgery_date": plan.surgery_date.isoformat(),
    })
    del data["save"]
    response = client_for(staff_a).post(reverse("staff:patient_edit", args=[patient_a.public_id]), data)
    assert response.status_code == 200
    listed = re.search(r'<ol class="list-unstyled preview-list">(.*?)</ol>', response.content.decode(), re.S).group(1)
    items = [re.sub(r"<[^>]+>", "", item).strip() for item in re.findall(r"<li>(.*?)</li>", listed, re.S)]
    assert [item.split(":")[0] for item in items] == [
        date_format(row.date, "SHORT_WEEKDAY_DAY_MONTH_YEAR_FORMAT") for row in stored
    ]
    said = dict(zip([row.sequence for row in stored], items, strict=True))
    assert said[chemo.sequence - 2].endswith("(chemo, cycle 1) · recorded")
    assert "moved from" in said[rest.sequence]
    assert said[chemo.sequence].endswith("(chemo held)")
