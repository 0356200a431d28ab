"""The database itself refuses what must never happen, whatever code path tries it."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from schedules.models import RecordedFill, TherapyPlan
from tests.conftest import TODAY


def refused(action) -> bool:
    try:
        with transaction.atomic():
            action()
    except IntegrityError:
        return True
    return False


def test_two_recorded_fills_for_one_plan_and_date_are_refused(patient_a):
    RecordedFill.objects.create(plan=patient_a.plan, date=TODAY, infusate="fudr")
    assert refused(lambda: RecordedFill.objects.create(plan=patient_a.plan, date=TODAY, infusate="saline"))
    assert RecordedFill.objects.filter(plan=patient_a.plan).count() == 1


@pytest.mark.parametrize("field", ["volume_in_ml", "volume_returned_ml"])
def test_negative_volumes_are_refused(patient_a, field):
    assert refused(lambda: RecordedFill.objects.create(plan=patient_a.plan, date=TODAY, infusate="fudr", **{field: -1}))


def test_an_end_before_surgery_is_refused(patient_a):
    plan = patient_a.plan
    assert refused(
        lambda: TherapyPlan.objects.filter(pk=plan.pk).update(
            status="ended", end_date=plan.surgery_date - dt.timedelta(days=1)
        )
    )
    assert refused(lambda: TherapyPlan.objects.filter(pk=plan.pk).update(status="ended", end_date=None))
    plan.refresh_from_db()
    assert plan.status == "active" and plan.end_date is None


def test_record_numbers_are_unique_within_a_clinic_only(patient_a, clinic_b):
    from patients.models import Patient

    assert refused(lambda: Patient.objects.create(clinic=patient_a.clinic, name="X", record_number="A-100",
                                                  date_of_birth=dt.date(1960, 1, 1)))
    Patient.objects.create(clinic=clinic_b, name="Y", record_number="A-100", date_of_birth=dt.date(1960, 1, 1))


# What an outside probe got into the database (issue 10) -------------------------------------------------------


def test_an_unknown_infusate_is_refused(patient_a):
    from schedules.models import Protocol, ScheduledFill

    plan = patient_a.plan
    assert refused(lambda: RecordedFill.objects.create(plan=plan, date=TODAY, infusate="bleach"))
    assert refused(lambda: ScheduledFill.objects.filter(plan=plan).update(infusate="bleach"))
    assert refused(lambda: Protocol.objects.filter(pk=plan.protocol_id).update(maintenance_infusate="bleach"))


@pytest.mark.parametrize("steps", [[], [{"infusate": "fudr", "days": 14}], {}])
def test_a_protocol_without_a_whole_cycle_is_refused(patient_a, steps):
    from schedules.models import Protocol

    assert refused(lambda: Protocol.objects.filter(pk=patient_a.plan.protocol_id).update(cycle_steps=steps))


def test_a_time_zone_that_does_not_exist_is_refused(clinic_a):
    from patients.models import Clinic

    assert refused(lambda: Clinic.objects.filter(pk=clinic_a.pk).update(time_zone="Mars/Olympus"))
    assert refused(lambda: Clinic.objects.filter(pk=clinic_a.pk).update(time_zone=""))
    Clinic.objects.filter(pk=clinic_a.pk).update(time_zone="Pacific/Chatham")


def test_a_hold_of_attempt_zero_is_refused(patient_a):
    from schedules.models import Hold

    plan = patient_a.plan
    assert refused(lambda: Hold.objects.create(plan=plan, cycle=1, attempt=0, planned_date=TODAY, reason="x"))
    assert refused(lambda: Hold.objects.create(plan=plan, cycle=0, attempt=1, planned_date=TODAY, reason="x"))
