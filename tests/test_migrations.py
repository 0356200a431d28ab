"""Data migrations: existing records keep a safe meaning when a rule changes.

A data migration runs here as `migrate` runs it: its own code, with the models of its place in the history (the
state just before it), forwards and then backwards, on the test database. Reaching that place by unapplying every
later migration and applying them all again (what this test used to do) cost 30 to 75 seconds of rendering model
states and checked nothing more, since 0003 changes no table: the later migrations' columns are simply not
seen by the old models. That every migration applies, reverses and applies again on a database with data is
tests/test_audit.py::test_migrations_reverse_to_zero_and_apply_again.
"""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from patients.models import Clinic, Patient
from schedules.models import Protocol, TherapyPlan

S8 = ("schedules", "0003_old_ends_keep_the_pump_refilled")


def run(node, *, backwards=False) -> None:
    """Apply (or unapply) one migration with the models of the state just before it; nothing is recorded, so the
    database's migration history stays at its leaves."""
    loader = MigrationLoader(connection)
    migration = loader.get_migration(*node)
    before = loader.project_state(node, at_end=False)
    with connection.schema_editor(atomic=migration.atomic) as editor:
        if backwards:
            migration.unapply(before, editor)
        else:
            migration.apply(before, editor)


@pytest.mark.django_db(transaction=True)  # a schema editor cannot run inside the test's transaction on SQLite
def test_s8_migration_old_chemo_ends_keep_maintenance_refills_pump_removed_stays_over():
    # Plans as S8 found them: one "ended" with the reason for every end, chemotherapy's included.
    clinic = Clinic.objects.create(name="Old clinic", phone="+1 555 0100")
    protocol = Protocol.objects.create(
        clinic=clinic, name="Default",
        cycle_steps=[{"infusate": "fudr", "days": 14}, {"infusate": "saline", "days": 14}],
    )
    surgery = dt.date(2026, 1, 5)
    ended = {}
    for index, reason in enumerate(["completed", "toxicity", "progression", "other", "pump_removed"]):
        patient = Patient.objects.create(
            clinic=clinic, name=f"P{index}", record_number=f"R{index}", date_of_birth=dt.date(1960, 1, 1)
        )
        ended[reason] = TherapyPlan.objects.create(
            patient=patient, surgery_date=surgery, protocol=protocol, status="ended",
            end_date=dt.date(2026, 3, 2), end_reason=reason, end_note=f"note {reason}", projected_on=surgery,
        ).pk

    run(S8)
    for reason in ("completed", "toxicity", "progression", "other"):
        plan = TherapyPlan.objects.get(pk=ended[reason])
        assert (plan.status, plan.end_date, plan.end_reason, plan.end_note) == ("active", None, "", "")
        assert (plan.chemo_end_date, plan.chemo_end_reason, plan.chemo_end_note) == (
            dt.date(2026, 3, 2), reason, f"note {reason}"
        )
        assert plan.projected_on is None  # refresh_schedules recomputes it: maintenance refills appear
    removed = TherapyPlan.objects.get(pk=ended["pump_removed"])
    assert (removed.status, removed.end_date, removed.end_reason) == ("ended", dt.date(2026, 3, 2), "pump_removed")
    assert (removed.chemo_end_date, removed.projected_on) == (None, surgery)

    # And back: the reverse joins the two ends again, so a rollback loses no end.
    run(S8, backwards=True)
    for reason, pk in ended.items():
        plan = TherapyPlan.objects.get(pk=pk)
        assert (plan.status, plan.end_date, plan.end_reason, plan.end_note) == (
            "ended", dt.date(2026, 3, 2), reason, f"note {reason}"
        )
        assert (plan.chemo_end_date, plan.chemo_end_reason, plan.chemo_end_note) == (None, "", "")
