"""The clinic dashboard: today's refills, the next 7 days, overdue ones and warnings, in constant queries."""

import datetime as dt
import re

from django.urls import reverse

from patients.models import StaffMembership
from schedules import selectors, services
from tests.conftest import TODAY, make_patient, page_of, page_queries, table_rows
from tests.staff_fixtures import make_patients, planned

DASHBOARD = reverse("staff:dashboard")


def section(body: str, heading_id: str) -> str:
    """The words of one dashboard section (Due today, Overdue, Next 7 days, Warnings), as a nurse reads it."""
    found = re.search(rf'<section aria-labelledby="{heading_id}".*?</section>', body, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(0)))


def counts(body: str) -> dict[str, str]:
    """The counts line at the top: {"overdue": "1", "due today": "0", ...}."""
    listed = re.search(r'<ul class="counts.*?</ul>', body, flags=re.S).group(0)
    return {label: number for number, label in
            re.findall(r'<span class="count-number">([^<]+)</span>\s*([^<]+?)\s*</a>', listed)}


def test_dashboard_lists_overdue_today_and_week_with_a_record_link(client_for, staff_a, clinic_a, patient_a):
    # patient_a had surgery 20 days ago: the first chemo fill was due 6 days ago (overdue).
    make_patient(clinic_a, "Dora Due", "A-300", surgery=TODAY - dt.timedelta(days=14))
    make_patient(clinic_a, "Wes Week", "A-301", surgery=TODAY - dt.timedelta(days=10))
    response = client_for(staff_a).get(DASHBOARD)
    assert response.status_code == 200
    body = response.content.decode()
    assert "A-100" in section(body, "overdue") and "A-300" not in section(body, "overdue")
    assert "A-300" in section(body, "today") and "A-100" not in section(body, "today")
    assert "A-301" in section(body, "week") and "A-300" not in section(body, "week")
    assert counts(body) == {"overdue": "1", "due today": "1", "next 7 days": "1", "warnings": "0"}
    overdue_fill = planned(patient_a)[0]
    record_url = reverse("staff:fill_record", args=[patient_a.public_id]) + f"?sequence={overdue_fill.sequence}"
    assert record_url in body
    assert "FUDR" in section(body, "overdue")


def test_the_implant_fill_of_a_planned_surgery_is_not_a_refill(client_for, staff_a, clinic_a):
    make_patient(clinic_a, "Sam Surgery", "A-400", surgery=TODAY + dt.timedelta(days=3))
    body = client_for(staff_a).get(DASHBOARD).content.decode()
    assert "A-400" not in body and counts(body)["next 7 days"] == "0"
    assert "No refills due in the next 7 days." in section(body, "week")


def test_warnings_show_a_pump_that_may_run_dry(client_for, staff_a, clinic_a):
    patient = make_patient(clinic_a, "Rita Reservoir", "A-500", surgery=TODAY - dt.timedelta(days=3))
    patient.pump_reservoir_ml = 12
    patient.save()
    services.plan_save(plan=patient.plan)
    warnings = section(client_for(staff_a).get(DASHBOARD).content.decode(), "warnings")
    assert "Rita Reservoir" in warnings and "Pump may run dry" in warnings


def test_warnings_show_a_measured_flow_out_of_tolerance_on_the_next_visit(client_for, staff_a, patient_a):
    plan = patient_a.plan
    services.fill_record(plan=plan, date=TODAY - dt.timedelta(days=20), infusate="heparinized_saline", by=staff_a,
                         volume_in_ml=30)
    # 30 mL in, 10 returned after 14 days: 1.43 mL/day against a nominal 1.0 (tolerance 20%).
    services.fill_record(plan=plan, date=TODAY - dt.timedelta(days=6), infusate="fudr", by=staff_a,
                         volume_returned_ml=10)
    body = client_for(staff_a).get(DASHBOARD).content.decode()
    warnings = section(body, "warnings")
    assert "Alice Ames" in warnings and "Last measured flow 1.43 mL/day: out of tolerance" in warnings
    assert counts(body)["warnings"] == "1"
    sequence = planned(patient_a)[0].sequence
    assert reverse("staff:fill_record", args=[patient_a.public_id]) + f"?sequence={sequence}" in body


def test_other_clinics_patients_never_show(client_for, staff_a, patient_a, patient_b):
    body = client_for(staff_a).get(DASHBOARD).content.decode()
    assert "Alice Ames" in body
    assert patient_b.name not in body and patient_b.record_number not in body


def test_staff_of_several_clinics_can_switch(client_for, staff_a, clinic_b, patient_b):
    StaffMembership.objects.create(user=staff_a, clinic=clinic_b)
    client = client_for(staff_a)
    response = client.get(reverse("staff:clinic_dashboard", args=[clinic_b.pk]))
    assert response.status_code == 200 and re.search(r"<h1[^>]*>Clinic B</h1>", response.content.decode())
    assert patient_b.record_number in response.content.decode()
    assert reverse("staff:clinic_dashboard", args=[clinic_b.pk]) in client.get(DASHBOARD).content.decode()


def test_checklist(client, client_for, staff_a, staff_b, clinic_a, patient_a, caregiver_a, outsider):
    assert client.get(DASHBOARD).status_code == 302  # anonymous: sign in first
    assert client_for(staff_a).post(DASHBOARD).status_code == 405
    other = reverse("staff:clinic_dashboard", args=[clinic_a.pk])
    assert client_for(staff_b).get(other).status_code == 404
    for user in (outsider, patient_a.user, caregiver_a):
        assert client_for(user).get(DASHBOARD).status_code == 404
        assert client_for(user).get(other).status_code == 404
    assert client_for(staff_a).get(reverse("staff:clinic_dashboard", args=[999999])).status_code == 404
    assert client_for(staff_a).get("/clinic/not-a-number/").status_code == 404


def section_url(clinic, name: str) -> str:
    return reverse("staff:due_section", args=[clinic.pk, name])


def listed_records(body: str) -> list[str]:
    """The record numbers of a due table's rows, top to bottom."""
    return re.findall(r"Record number ([A-Z]-\d{3})", re.sub(r"<[^>]+>", " ", body))


def whole_section(client, url: str) -> list[str]:
    """Every row of a section page, page after page (the "Next page" link)."""
    records, page = [], 1
    while True:
        body = client.get(url, {"page": page}).content.decode()
        records += listed_records(body)
        if "Next page" not in body:
            return records
        page += 1


def test_a_bigger_clinic_costs_the_dashboard_no_more_queries(client_for, staff_a, clinic_a):
    """10 patients or 200: the same queries, each section showing its exact count and its first rows (issue 13's
    time budget is checked at 10,000 patients by benchmarks/clinic_scale.py, not here)."""
    client = client_for(staff_a)
    make_patients(clinic_a, 10, prefix="S")
    client.get(DASHBOARD)  # a session's first request may warm caches
    small = page_queries(client, DASHBOARD)
    make_patients(clinic_a, 190, prefix="L")
    assert page_queries(client, DASHBOARD) == small
    body = client.get(DASHBOARD).content.decode()
    shown = {name: counts(body)[label] for name, label in
             [("overdue", "overdue"), ("today", "due today"), ("week", "next 7 days")]}
    everyone = set()
    for name, count in shown.items():
        rows = whole_section(client, section_url(clinic_a, name))
        assert len(rows) == int(count)  # the count is exact, and the section's page lists them all
        everyone |= set(rows)
        first = listed_records(section(body, name))
        assert first == rows[:selectors.DASHBOARD_ROWS]  # the dashboard shows the section's most urgent rows
        if len(rows) > selectors.DASHBOARD_ROWS:
            assert f"The first {selectors.DASHBOARD_ROWS} of {count}." in section(body, name)
            assert section_url(clinic_a, name) in body
    assert everyone == {f"S-{i:03}" for i in range(10)} | {f"L-{i:03}" for i in range(190)}


def test_a_section_page_lists_the_whole_section_most_urgent_first_in_pages(client_for, staff_a, clinic_a):
    make_patients(clinic_a, 70, prefix="O")  # surgery 10 to 19 days ago: 35 of them overdue, 7 each day
    client = client_for(staff_a)
    url = section_url(clinic_a, "overdue")
    page = page_of(client.get(url))
    assert page.find("h1").text() == "Overdue"
    rows = table_rows(page.find("table"))
    assert len(rows) == 35 and "Page 1 of 1 (35 refills)" in page.text()
    # The oldest first, each day's patients by name.
    days = [dt.datetime.strptime(row[0].split()[-2] + " " + row[0].split()[-1] + " 2026", "%d %b %Y").date()
            for row in rows]
    assert days == sorted(days) and days[0] < days[-1]
    first_day = [row[1] for row in rows if row[0] == rows[0][0]]
    assert first_day == sorted(first_day)
    assert all("Record refill" in row[3] for row in rows)


def test_a_long_section_has_pages_with_the_same_queries(client_for, staff_a, clinic_a):
    from clinic import views

    client = client_for(staff_a)
    make_patients(clinic_a, 10, prefix="S")
    url = section_url(clinic_a, "week")
    client.get(url)
    small = page_queries(client, url)
    make_patients(clinic_a, 190, prefix="L")
    assert page_queries(client, url) == small
    assert page_queries(client, url, {"page": 2}) == small
    body = client.get(url).content.decode()
    total = int(counts(client.get(DASHBOARD).content.decode())["next 7 days"])
    assert total > views.SECTION_ROWS_PER_PAGE
    pages = -(-total // views.SECTION_ROWS_PER_PAGE)
    assert f"Page 1 of {pages} ({total} refills)" in body
    assert len(listed_records(body)) == views.SECTION_ROWS_PER_PAGE and "Next page" in body
    last = client.get(url, {"page": pages}).content.decode()
    assert "Previous page" in last and "Next page" not in last
    assert len(listed_records(last)) == total - (pages - 1) * views.SECTION_ROWS_PER_PAGE


def test_a_short_section_links_to_nothing_more(client_for, staff_a, clinic_a, patient_a):
    body = client_for(staff_a).get(DASHBOARD).content.decode()
    assert "A-100" in section(body, "overdue") and "The first" not in body
    assert section_url(clinic_a, "overdue") not in body


def test_the_warnings_page_shows_each_warning(client_for, staff_a, clinic_a):
    patient = make_patient(clinic_a, "Rita Reservoir", "A-500", surgery=TODAY - dt.timedelta(days=3))
    patient.pump_reservoir_ml = 12
    patient.save()
    services.plan_save(plan=patient.plan)
    words = page_of(client_for(staff_a).get(section_url(clinic_a, "warnings"))).text()
    assert "Rita Reservoir" in words and "Pump may run dry" in words
    assert "four weeks either side of today" in words


def test_an_empty_section_says_so(client_for, staff_a, clinic_a):
    words = page_of(client_for(staff_a).get(section_url(clinic_a, "today"))).text()
    assert "No refills due today." in words and "Page 1" not in words


def test_section_checklist(client, client_for, staff_a, staff_b, clinic_a, patient_a, caregiver_a, outsider):
    url = section_url(clinic_a, "overdue")
    assert client.get(url).status_code == 302  # anonymous: sign in first
    assert client_for(staff_a).post(url).status_code == 405
    assert client_for(staff_b).get(url).status_code == 404  # another clinic's staff
    for user in (outsider, patient_a.user, caregiver_a):
        assert client_for(user).get(url).status_code == 404
    assert client_for(staff_a).get(section_url(clinic_a, "someday")).status_code == 404
    assert client_for(staff_a).get(reverse("staff:due_section", args=[999999, "overdue"])).status_code == 404
    assert client_for(staff_a).get(url, {"page": "not-a-page"}).status_code == 200


def test_the_demo_nurse_gets_a_working_dashboard(client_for, db, frozen):
    from io import StringIO

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("demo", allow_production=True, stdout=StringIO())
    nurse = get_user_model().objects.get(username="nurse")
    response = client_for(nurse).get(DASHBOARD)
    assert response.status_code == 200
    body = response.content.decode()
    # The demo has a small pump (capacity) and a fast pump (measured flow) among its stories.
    assert "Pump may run dry" in body and "Last measured flow" in body
    assert int(counts(body)["next 7 days"]) >= 1


def test_a_spanish_speaking_nurse_reads_the_sections_in_spanish(client_for, staff_a, clinic_a):
    from patients import language
    from tests.test_spanish import english_words

    make_patients(clinic_a, 30, prefix="E")
    client = client_for(staff_a)
    session = client.session
    session[language.SESSION_KEY] = "es"
    session.save()
    body = client.get(DASHBOARD).content.decode()
    assert "Todos los rellenos atrasados" in body and f"Los primeros {selectors.DASHBOARD_ROWS} de" in body
    page = client.get(section_url(clinic_a, "overdue")).content.decode()
    assert "Atrasado" in page and "rellenos)" in page
    assert english_words(page) - {"Patient", "Clinic"} == set()  # names: "Patient E000", "Clinic A"
