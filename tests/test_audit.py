"""The audit trail: changes kept with who and when, views and exports logged, shown to staff read-only."""

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.urls import reverse

from patients.models import AccessEvent, Patient
from schedules import services
from tests.conftest import TODAY, page_of, table_rows


def history_url(patient):
    return reverse("patient_history", args=[patient.public_id])


def changes_shown(response) -> list[tuple[str, str, dict[str, str]]]:
    """The Changes table as staff read it: (who, what, {field: value shown}) per row, newest first."""
    table = page_of(response).find("section", **{"aria-labelledby": "changes-heading"}).find("table")
    rows = []
    for row in table.find("tbody").find_all("tr"):
        _when, who, what, details = row.elements
        fields = dict(item.text().split(": ", 1) for item in details.find_all("li"))
        rows.append((who.text(), what.text(), fields))
    return rows


def who_looked(response) -> list[list[str]]:
    """The rows of the "Who looked" table: when, who, what."""
    return table_rows(page_of(response).find("section", **{"aria-labelledby": "views-heading"}).find("table"))


def test_history_shows_who_changed_what_before_and_after(client_for, staff_a, patient_a):
    client = client_for(staff_a)
    fill, _ = services.fill_record(plan=patient_a.plan, date=TODAY, infusate="fudr", by=staff_a, volume_in_ml=30)
    services.fill_correct(fill=fill, by=staff_a, volume_in_ml=28)
    services.hold_add(plan=patient_a.plan, sequence=fill.plan.scheduled_fills.filter(kind="chemo", recorded=False)
                      .order_by("sequence").first().sequence, reason="ALP rising", by=staff_a)
    response = client.get(history_url(patient_a))
    assert response.status_code == 200
    changes = changes_shown(response)
    corrected = [(who, fields) for who, what, fields in changes if what == "Recorded fill changed"]
    assert corrected == [("staff_a", {"Volume put in (mL)": "30.0 → 28.0"})]
    assert any(what == "Hold created" and fields["Reason"] == "ALP rising" for _who, what, fields in changes)
    assert any(what == "Therapy plan created" for _who, what, _fields in changes)


def test_history_queries_do_not_grow_with_the_record(client_for, staff_a, patient_a, django_assert_max_num_queries):
    client = client_for(staff_a)
    for days in range(0, 140, 14):
        services.fill_record(plan=patient_a.plan, date=TODAY + dt.timedelta(days=days), infusate="fudr", by=staff_a)
    # One query per history model, one per related model named in words (clinic, people, patient, protocol,
    # plan), one to count the access log for its pages, one for the emails sent: constant, however long the record.
    with django_assert_max_num_queries(21):
        assert client.get(history_url(patient_a)).status_code == 200


def test_history_is_staff_only_and_read_only(client_for, staff_a, staff_b, patient_a, caregiver_a):
    assert client_for(staff_b).get(history_url(patient_a)).status_code == 404
    assert client_for(patient_a.user).get(history_url(patient_a)).status_code == 404
    assert client_for(caregiver_a).get(history_url(patient_a)).status_code == 404
    assert client_for(staff_a).post(history_url(patient_a)).status_code == 405
    assert client_for(staff_a).get("/clinic/patients/not-a-uuid/history/").status_code == 404


def test_staff_and_caregiver_views_are_logged_but_not_a_patients_own(client_for, staff_a, patient_a, caregiver_a):
    from django.test import RequestFactory

    from patients import access

    for user in (staff_a, caregiver_a, patient_a.user):
        request = RequestFactory().get("/")
        request.user = user
        access.get_patient(request, patient_a.public_id)
    logged = set(AccessEvent.objects.filter(patient=patient_a, action="view").values_list("user__username", flat=True))
    assert logged == {"staff_a", "caregiver_a"}


def test_export_patient_gives_the_full_record_as_json(patient_a, staff_a):
    services.fill_record(plan=patient_a.plan, date=TODAY, infusate="fudr", by=staff_a, note="went well")
    out = StringIO()
    call_command("export_patient", str(patient_a.public_id), operator="staff_a", stdout=out)
    record = json.loads(out.getvalue())
    assert record["patient"]["name"] == "Alice Ames"
    assert record["recorded_fills"][0]["note"] == "went well"
    assert record["schedule"] and record["changes"]
    assert AccessEvent.objects.filter(patient=patient_a, action="export").exists()


@pytest.mark.parametrize("bad", ["nope", "00000000-0000-0000-0000-000000000000"])
def test_export_of_an_unknown_patient_is_a_clear_error(db, bad):
    with pytest.raises(CommandError, match="No patient"):
        call_command("export_patient", bad, operator="staff_a")


def test_an_export_names_who_ran_it(patient_a, staff_a):
    with pytest.raises(CommandError, match="operator"):
        call_command("export_patient", str(patient_a.public_id), stdout=StringIO())
    with pytest.raises(CommandError, match="operator"):
        call_command("export_patient", str(patient_a.public_id), operator="  ", stdout=StringIO())
    assert not AccessEvent.objects.filter(action="export").exists()
    call_command("export_patient", str(patient_a.public_id), operator="staff_a", stdout=StringIO())
    call_command("export_patient", str(patient_a.public_id), operator="Records office (J. Doe)", stdout=StringIO())
    events = AccessEvent.objects.filter(patient=patient_a, action="export").order_by("pk")
    assert [(e.user, e.detail) for e in events] == [
        (staff_a, "export_patient by staff_a"), (None, "export_patient by Records office (J. Doe)")]


def test_an_export_holds_the_whole_access_log(patient_a, staff_a):
    count = 10_050
    AccessEvent.objects.bulk_create(
        AccessEvent(patient=patient_a, user=staff_a, action="view", detail=f"page {n}") for n in range(count))
    out = StringIO()
    call_command("export_patient", str(patient_a.public_id), operator="staff_a", stdout=out)
    log = json.loads(out.getvalue())["access_log"]
    assert len(log) == count + 1  # and the export itself
    assert {e["detail"] for e in log} >= {"page 0", f"page {count - 1}"}


def test_an_export_lists_the_current_calendar_links(patient_a, frozen):
    from schedules.models import CalendarSubscription

    CalendarSubscription.objects.create(patient=patient_a, name="Kitchen tablet", token_hash="k" * 64,
                                        last_fetched_at=frozen)
    CalendarSubscription.objects.create(patient=patient_a, name="Old phone", token_hash="o" * 64, revoked_at=frozen)
    out = StringIO()
    call_command("export_patient", str(patient_a.public_id), operator="staff_a", stdout=out)
    links = json.loads(out.getvalue())["calendar_links"]
    assert [(link["name"], link["last_fetched_at"] is not None) for link in links] == [("Kitchen tablet", True)]
    assert set(links[0]) == {"name", "detail", "created_at", "last_fetched_at"}
    assert "k" * 64 not in out.getvalue()


def schema() -> dict[str, list[str]]:
    """Every table of the database with its columns, as the database describes them."""
    with connection.cursor() as cursor:
        return {
            table: sorted(column.name for column in connection.introspection.get_table_description(cursor, table))
            for table in connection.introspection.table_names(cursor)
        }


def migrate(targets) -> None:
    """Apply or unapply up to ``targets``, as `migrate` would, one migration at a time, each with the models of
    the state just before it. Django's executor gets there by rendering the models again after every operation of
    every migration before the first it undoes (30 s of a 40 s round trip); the graph gives the same states as
    plain descriptions, rendered only where an operation needs them."""
    executor = MigrationExecutor(connection)
    for migration, backwards in executor.migration_plan(targets):
        before = executor.loader.project_state((migration.app_label, migration.name), at_end=False)
        if backwards:
            executor.unapply_migration(before, migration)
        else:
            executor.apply_migration(before, migration)


@pytest.mark.django_db(transaction=True)
def test_migrations_reverse_to_zero_and_apply_again(settings):
    """With the demo clinic in the database, every migration of the project reverses to zero and applies again.

    On the test database, which the migrations have just built (that every one applies from nothing is what
    building it checked): a fresh database file in a second process cost a minute, 12 s of it migrating what
    was already migrated.
    """
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    assert set(leaves) <= set(MigrationRecorder(connection).applied_migrations()), "built without its migrations"
    whole = schema()
    settings.DEBUG = True  # the demo runs only there
    call_command("demo", stdout=StringIO())
    assert Patient.objects.exists()

    migrate([("schedules", None), ("patients", None)])  # the apps above them go first
    ours = ("patients", "schedules", "feeds", "notices")  # the project's apps with migrations
    tables = connection.introspection.table_names()
    assert not [table for table in tables if table.startswith(tuple(f"{app}_" for app in ours))], tables
    assert not [node for node in MigrationRecorder(connection).applied_migrations() if node[0] in ours]

    migrate(leaves)
    # Reversing to zero dropped the tables: the demo's patients are gone, and the schema is whole again.
    assert schema() == whole
    assert set(leaves) <= set(MigrationRecorder(connection).applied_migrations())
    assert Patient.objects.count() == 0


def test_feed_fetches_are_logged_by_subscription_never_by_link(client, patient_a, caregiver_a):
    from feeds import subscriptions

    subscription, token = subscriptions.subscription_create(
        patient=patient_a, name="Kitchen tablet", detail="discreet", by=patient_a.user
    )
    client.get(reverse("feeds:feed", args=[token]))
    event = AccessEvent.objects.get(patient=patient_a, action="feed")
    assert str(subscription.public_id) in event.detail and token not in event.detail


def test_a_caregivers_look_at_the_landing_page_is_logged(client_for, caregiver_a, patient_a):
    assert client_for(caregiver_a).get(reverse("home")).status_code == 200
    assert AccessEvent.objects.filter(patient=patient_a, user=caregiver_a, action="view").exists()


def test_history_names_every_value_in_words(client_for, staff_a, patient_a):
    """No raw ids: the plan by its protocol, people by their names, pages by what they are."""
    staff_a.first_name, staff_a.last_name = "Nora", "Nurse"
    staff_a.save()
    client = client_for(staff_a)
    services.fill_record(plan=patient_a.plan, date=TODAY, infusate="fudr", by=staff_a, volume_in_ml=30)
    client.get(reverse("staff:fill_record", args=[patient_a.public_id]))
    response = client.get(history_url(patient_a))
    fields = next(fields for _who, what, fields in changes_shown(response) if what == "Recorded fill created")
    assert fields["Plan"] == patient_a.plan.protocol.name
    assert fields["Recorded by"] == "Nora Nurse"
    assert fields["Date"] == TODAY.strftime("%a %-d %b %Y")
    assert ["Nora Nurse", "Viewed the record fill form"] in [row[1:] for row in who_looked(response)]
    assert "staff:fill_record" not in response.content.decode()


def test_history_is_linked_from_the_patient_page_and_paginated(client_for, staff_a, patient_a):
    client = client_for(staff_a)
    detail = client.get(reverse("staff:patient", args=[patient_a.public_id])).content.decode()
    assert f'href="{history_url(patient_a)}"' in detail
    for _ in range(30):
        client.get(reverse("staff:patient", args=[patient_a.public_id]))
    first = client.get(history_url(patient_a))
    assert len(who_looked(first)) == 25
    assert page_of(first).find("nav", **{"aria-label": "Pages of who looked"}).text() == (
        "Page 1 of 2 Older pages of who looked"
    )
    older = client.get(history_url(patient_a), {"views": 2})
    assert len(who_looked(older)) >= 6
    assert page_of(older).find("nav", **{"aria-label": "Pages of who looked"}).text() == (
        "Newer pages of who looked Page 2 of 2"
    )
    # Staff navigation, and a scrolling table a keyboard can reach (axe: scrollable-region-focusable).
    assert f'href="{reverse("staff:patients", args=[patient_a.clinic.pk])}"' in first.content.decode()
    assert 'role="region" aria-label="Table: who looked" tabindex="0"' in first.content.decode()


def test_the_history_manager_class_is_built_once_and_still_answers(staff_a, patient_a):
    """Every save of a tracked model reads Model.history: its class is built once (patients.history), not each
    time, and the manager still has simple_history's queryset methods and sees this instance's history."""
    from schedules.models import RecordedFill

    fill, _ = services.fill_record(plan=patient_a.plan, date=TODAY, infusate="fudr", by=staff_a)
    assert type(RecordedFill.history) is type(RecordedFill.history)
    assert type(fill.history) is type(RecordedFill.objects.get(pk=fill.pk).history)
    assert [h.history_type for h in fill.history.all()] == ["+"]
    assert fill.history.as_of(dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).pk == fill.pk
