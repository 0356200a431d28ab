"""Data migrations: existing records keep a safe meaning when a rule changes."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("schedules", "0002_therapy_two_ends")]
AFTER = [("schedules", "0003_old_ends_keep_the_pump_refilled")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_s8_migration_old_chemo_ends_keep_maintenance_refills_pump_removed_stays_over():
    apps = migrate(BEFORE)
    Clinic = apps.get_model("patients", "Clinic")
    Patient = apps.get_model("patients", "Patient")
    Protocol = apps.get_model("schedules", "Protocol")
    TherapyPlan = apps.get_model("schedules", "TherapyPlan")
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

    apps = migrate(AFTER)
    TherapyPlan = apps.get_model("schedules", "TherapyPlan")
    for reason in ("completed", "toxicity", "progression", "other"):
        plan = TherapyPlan.objects.get(pk=ended[reason])
        assert (plan.status, plan.end_date, plan.end_reason) == ("active", None, "")
        assert (plan.chemo_end_date, plan.chemo_end_reason, plan.chemo_end_note) == (
            dt.date(2026, 3, 2), reason, f"note {reason}"
        )
        assert plan.projected_on is None  # refresh_schedules recomputes it: maintenance refills appear
    removed = TherapyPlan.objects.get(pk=ended["pump_removed"])
    assert (removed.status, removed.end_date, removed.end_reason) == ("ended", dt.date(2026, 3, 2), "pump_removed")
    assert removed.chemo_end_date is None

    # And back: the reverse joins the two ends again, so a rollback loses no end.
    TherapyPlan = migrate(BEFORE).get_model("schedules", "TherapyPlan")
    toxicity = TherapyPlan.objects.get(pk=ended["toxicity"])
    assert (toxicity.status, toxicity.end_date, toxicity.end_reason) == ("ended", dt.date(2026, 3, 2), "toxicity")
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
