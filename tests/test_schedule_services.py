"""services keep the stored projection current with every input, in the same transaction."""

import datetime as dt
import itertools

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from schedules import jobs, selectors, services
from schedules.models import ClinicClosure, FillKind, Hold, Protocol, ScheduledFill, TherapyPlan
from tests.conftest import TODAY, make_clinic, make_patient


def planned(patient):
    """The patient's refills still to come (the implant fill at surgery is not one)."""
    return list(selectors.planned_fills().filter(plan__patient=patient).order_by("sequence"))


def test_saving_a_plan_stores_its_fills_to_the_horizon(patient_a):
    rows = list(ScheduledFill.objects.filter(plan__patient=patient_a).order_by("sequence"))
    surgery = patient_a.plan.surgery_date
    assert rows[0].kind == FillKind.IMPLANT and rows[0].date == surgery
    assert rows[1].kind == FillKind.CHEMO and rows[1].cycle == 1
    assert [r.sequence for r in rows] == list(range(len(rows)))
    assert all(r.date <= TODAY + dt.timedelta(days=365) for r in rows)
    assert patient_a.plan.__class__.objects.get(pk=patient_a.plan.pk).projected_on == TODAY


def test_a_late_fill_moves_later_fills_and_keeps_their_identity(patient_a, staff_a):
    plan = patient_a.plan
    first_chemo = planned(patient_a)[0]  # due 6 days ago: overdue
    before = {r.sequence: (r.pk, r.date, r.revision) for r in planned(patient_a)}
    _, result = services.fill_record(plan=plan, date=TODAY, infusate="fudr", by=staff_a)
    after = {r.sequence: r for r in ScheduledFill.objects.filter(plan=plan)}
    assert after[first_chemo.sequence].recorded and after[first_chemo.sequence].date == TODAY
    next_fill = after[first_chemo.sequence + 1]
    assert next_fill.pk == before[next_fill.sequence][0]  # the same appointment
    assert next_fill.date > before[next_fill.sequence][1]
    assert next_fill.revision == before[next_fill.sequence][2] + 1
    assert any(m.sequence == next_fill.sequence for m in result.moves)


def test_recording_the_same_day_twice_is_refused_and_keeps_one_record(patient_a, staff_a):
    services.fill_record(plan=patient_a.plan, date=TODAY, infusate="fudr", by=staff_a)
    with pytest.raises((ValidationError, IntegrityError)), transaction.atomic():
        services.fill_record(plan=patient_a.plan, date=TODAY, infusate="fudr", by=staff_a)
    assert patient_a.plan.recorded_fills.count() == 1


def test_a_correction_keeps_the_old_values_and_who_changed_them(patient_a, staff_a):
    fill, _ = services.fill_record(plan=patient_a.plan, date=TODAY, infusate="fudr", by=staff_a, volume_in_ml=30)
    services.fill_correct(fill=fill, by=staff_a, volume_in_ml=28)
    versions = list(fill.history.order_by("history_date").values_list("volume_in_ml", "history_change_reason",
                                                                      "history_user"))
    assert [(float(v), why, who) for v, why, who in versions] == [(30.0, None, None), (28.0, "corrected", staff_a.pk)]


def test_a_hold_turns_the_chemo_fill_into_rest_and_shows(patient_a, staff_a):
    services.fill_record(plan=patient_a.plan, date=TODAY, infusate="fudr", by=staff_a)
    next_chemo = next(r for r in planned(patient_a) if r.kind == FillKind.CHEMO)
    services.hold_add(plan=patient_a.plan, sequence=next_chemo.sequence, reason="ALP rising", by=staff_a)
    row = ScheduledFill.objects.get(pk=next_chemo.pk)
    assert row.held and row.kind == FillKind.HELD and row.infusate == "heparinized_saline"
    services.hold_remove(hold=Hold.objects.get(plan=patient_a.plan))
    assert ScheduledFill.objects.get(pk=next_chemo.pk).kind == FillKind.CHEMO


def test_ending_therapy_cancels_the_future_fills_and_reopening_brings_them_back(patient_a):
    plan = patient_a.plan
    future = [r.pk for r in planned(patient_a) if r.date > TODAY]
    services.therapy_end(plan=plan, end_date=TODAY, reason="pump_removed")
    assert not ScheduledFill.objects.filter(pk__in=future, active=True).exists()
    ended = TherapyPlan.objects.get(pk=plan.pk)
    assert (ended.status, ended.end_date, ended.end_reason, ended.end_note) == ("ended", TODAY, "pump_removed", "")
    cancelled = ScheduledFill.objects.get(pk=future[0])
    services.therapy_reopen(plan=plan)
    reopened = ScheduledFill.objects.get(pk=future[0])
    assert reopened.active and reopened.revision > cancelled.revision
    plan = TherapyPlan.objects.get(pk=plan.pk)
    assert (plan.status, plan.end_date, plan.end_reason, plan.end_note) == ("active", None, "", "")


def test_reopening_an_ended_chemotherapy_clears_its_end(patient_a):
    plan = patient_a.plan
    services.therapy_end(plan=plan, end_date=TODAY + dt.timedelta(days=30), reason="toxicity", note="ALP")
    services.therapy_reopen(plan=plan)
    plan = TherapyPlan.objects.get(pk=plan.pk)
    assert (plan.chemo_end_date, plan.chemo_end_reason, plan.chemo_end_note) == (None, "", "")


def test_end_before_surgery_is_refused_and_nothing_changes(patient_a):
    plan = patient_a.plan
    with pytest.raises(ValidationError):
        services.therapy_end(plan=plan, end_date=plan.surgery_date - dt.timedelta(days=1), reason="other")
    plan.refresh_from_db()
    assert plan.status == "active" and plan.end_date is None


def test_a_new_closure_marks_every_plan_of_the_clinic_and_the_worker_moves_the_fills(clinic_a, patient_a, patient_b):
    row = planned(patient_a)[1]
    ClinicClosure.objects.create(clinic=clinic_a, date=row.date, name="Staff training")
    assert services.clinic_recompute(clinic=clinic_a) == 1  # clinic B's patient is not touched
    assert ScheduledFill.objects.get(pk=row.pk).date == row.date  # not yet: the request returned at once
    assert TherapyPlan.objects.get(patient=patient_a).is_updating
    assert not TherapyPlan.objects.get(patient=patient_b).is_updating
    assert jobs.recompute_stale_plans(limit=100) == 1
    moved = ScheduledFill.objects.get(pk=row.pk)
    assert moved.date != row.date and moved.moved_from == row.date
    assert not TherapyPlan.objects.get(patient=patient_a).is_updating
    assert jobs.recompute_stale_plans(limit=100) == 0


def test_due_today_uses_the_clinics_local_date(db, time_machine):
    # 23:30 UTC on 9 March is already 10 March in Auckland.
    time_machine.move_to(dt.datetime(2026, 3, 9, 23, 30, tzinfo=dt.UTC), tick=False)
    clinic = make_clinic("Auckland", time_zone="Pacific/Auckland", open_weekdays="0123456")
    patient = make_patient(clinic, "Kiri", "NZ-1", surgery=dt.date(2026, 2, 24))  # first chemo 10 March
    assert clinic.today() == dt.date(2026, 3, 10)
    due = selectors.fills_due_between(clinic=clinic, start=clinic.today(), end=clinic.today())
    assert [r.plan.patient for r in due] == [patient]


def test_a_fill_before_surgery_is_refused(patient_a, staff_a):
    with pytest.raises(ValidationError) as error:
        services.fill_record(
            plan=patient_a.plan, date=patient_a.plan.surgery_date - dt.timedelta(days=1), infusate="fudr", by=staff_a
        )
    assert "before the surgery date" in str(error.value)
    assert not patient_a.plan.recorded_fills.exists()


def test_moving_surgery_after_a_recorded_fill_is_refused(patient_a, staff_a):
    plan = patient_a.plan
    services.fill_record(plan=plan, date=TODAY, infusate="fudr", by=staff_a)
    plan.surgery_date = TODAY + dt.timedelta(days=1)
    with pytest.raises(ValidationError):
        services.plan_save(plan=plan)


def test_a_protocol_cannot_maintain_with_chemotherapy(clinic_a):
    protocol = clinic_a.default_protocol
    protocol.maintenance_infusate = "fudr"
    with pytest.raises(ValidationError):
        services.protocol_save(protocol=protocol)


def test_a_hold_is_refused_on_a_fill_that_is_no_longer_a_planned_chemo_fill(patient_a, patient_b, staff_a):
    """What the hold page says when the schedule changed since it was shown (hold_add's own check)."""
    plan = patient_a.plan
    refused = r"^\['That fill is no longer a planned chemo fill: look at the schedule again\.'\]$"
    first_chemo = planned(patient_a)[0]
    services.fill_record(plan=plan, date=TODAY, infusate="fudr", by=staff_a)
    rest = next(r for r in planned(patient_a) if r.kind == FillKind.REST)
    # Recorded since; a rest fill; (patient_b's fill of the same number is a planned chemo fill: not this one).
    assert ScheduledFill.objects.get(plan=patient_b.plan, sequence=first_chemo.sequence).kind == FillKind.CHEMO
    for sequence in (first_chemo.sequence, rest.sequence):
        with pytest.raises(ValidationError, match=refused):
            services.hold_add(plan=plan, sequence=sequence, reason="ALP rising", by=staff_a)
    chemo = next(r for r in planned(patient_a) if r.kind == FillKind.CHEMO)
    services.therapy_end(plan=plan, end_date=TODAY, reason="pump_removed")  # the chemo fill is cancelled
    with pytest.raises(ValidationError, match=refused):
        services.hold_add(plan=plan, sequence=chemo.sequence, reason="ALP rising", by=staff_a)
    assert not Hold.objects.exists()


def test_a_hold_stays_on_its_chemo_fill_when_an_earlier_chemo_is_held_at_the_visit(patient_a, staff_a):
    plan = patient_a.plan
    services.fill_record(plan=plan, date=TODAY, infusate="fudr", by=staff_a)  # cycle 1
    cycle_3 = next(r for r in planned(patient_a) if r.kind == FillKind.CHEMO and r.cycle == 3)
    services.hold_add(plan=plan, sequence=cycle_3.sequence, reason="ALP rising", by=staff_a)
    rest = planned(patient_a)[0]
    services.fill_record(plan=plan, date=rest.date, infusate="heparinized_saline", by=staff_a)
    cycle_2 = planned(patient_a)[0]
    services.fill_record(plan=plan, date=cycle_2.date, infusate="heparinized_saline", by=staff_a)  # held at visit
    attempts = [(r.cycle, r.kind) for r in planned(patient_a) if r.kind in (FillKind.CHEMO, FillKind.HELD)][:3]
    assert attempts == [(2, FillKind.CHEMO), (3, FillKind.HELD), (3, FillKind.CHEMO)]
    held = next(r for r in planned(patient_a) if r.kind == FillKind.HELD)
    assert services.holds_by_sequence(planned(patient_a), Hold.objects.filter(plan=plan)) == {
        held.sequence: Hold.objects.get(plan=plan)
    }


def test_a_recorded_fill_keeps_its_time_and_note_and_none_when_not_given(patient_a, staff_a):
    plan = patient_a.plan
    services.fill_record(plan=plan, date=TODAY - dt.timedelta(days=1), infusate="fudr", by=staff_a,
                         appointment_time=dt.time(9, 30), note="Pump site checked")
    services.fill_record(plan=plan, date=TODAY, infusate="heparinized_saline", by=staff_a)
    kept = list(plan.recorded_fills.order_by("date").values_list("appointment_time", "note"))
    assert kept == [(dt.time(9, 30), "Pump site checked"), (None, "")]
    timed = ScheduledFill.objects.get(plan=plan, date=TODAY - dt.timedelta(days=1))
    assert timed.recorded and timed.appointment_time == dt.time(9, 30)


def test_a_fill_recorded_meanwhile_is_not_recorded_twice(patient_a, patient_b, staff_a):
    """The record form carries the fill's number: if someone recorded that fill since (on any day), nothing is
    added; another patient's fill of the same number, or an extra visit, does not stand in the way."""
    first = planned(patient_a)[0]
    services.fill_record(plan=patient_b.plan, date=TODAY, infusate="fudr", by=staff_a)  # patient_b's fill number 1
    assert ScheduledFill.objects.get(plan=patient_b.plan, sequence=first.sequence).recorded
    services.fill_record_expected(plan=patient_a.plan, sequence=first.sequence, date=TODAY - dt.timedelta(days=1),
                                  infusate="fudr", by=staff_a)
    with pytest.raises(services.FillAlreadyRecorded):
        services.fill_record_expected(plan=patient_a.plan, sequence=first.sequence, date=TODAY, infusate="fudr",
                                      by=staff_a)
    services.fill_record_expected(plan=patient_a.plan, sequence=None, date=TODAY, infusate="heparinized_saline",
                                  by=staff_a)
    assert list(patient_a.plan.recorded_fills.order_by("date").values_list("infusate", "note")) == [
        ("fudr", ""), ("heparinized_saline", "")
    ]


def test_a_cycle_held_twice_holds_two_visits_then_gives_its_chemo(patient_a, patient_b, staff_a):
    # patient_b's own hold of a chemo fill of the same cycle number counts for patient_b only.
    other = next(r for r in planned(patient_b) if r.kind == FillKind.CHEMO and r.date > TODAY)
    services.hold_add(plan=patient_b.plan, sequence=other.sequence, reason="Platelets low", by=staff_a)
    plan = patient_a.plan
    services.fill_record(plan=plan, date=TODAY, infusate="fudr", by=staff_a)
    chemo = next(r for r in planned(patient_a) if r.kind == FillKind.CHEMO)
    assert chemo.cycle == other.cycle and other.sequence <= chemo.sequence
    services.hold_add(plan=plan, sequence=chemo.sequence, reason="ALP rising", by=staff_a)
    again = next(r for r in planned(patient_a) if r.kind == FillKind.CHEMO)  # the same cycle's chemo, a visit on
    assert again.cycle == chemo.cycle and again.sequence == chemo.sequence + 1
    services.hold_add(plan=plan, sequence=again.sequence, reason="ALP still rising", by=staff_a)
    following = [(r.sequence, r.kind, r.cycle) for r in planned(patient_a) if r.sequence >= chemo.sequence][:3]
    assert following == [
        (chemo.sequence, FillKind.HELD, chemo.cycle),
        (chemo.sequence + 1, FillKind.HELD, chemo.cycle),
        (chemo.sequence + 2, FillKind.CHEMO, chemo.cycle),
    ]
    assert sorted(plan.holds.values_list("attempt", flat=True)) == [1, 2]
    # The next cycle's chemo fill is its first attempt, whatever the cycle before needed.
    later = next(r for r in planned(patient_a) if r.kind == FillKind.CHEMO and r.cycle == chemo.cycle + 1)
    services.hold_add(plan=plan, sequence=later.sequence, reason="ALP rising again", by=staff_a)
    assert ScheduledFill.objects.get(plan=plan, sequence=later.sequence).kind == FillKind.HELD


def test_plans_are_recomputed_by_id_or_by_plan_and_each_counted_once(clinic_a, patient_a, patient_b):
    due = planned(patient_a)[1]
    ClinicClosure.objects.create(clinic=clinic_a, date=due.date, name="Staff day")  # no service: nothing moved yet
    result = services.recompute_plans([patient_a.plan.pk, patient_b.plan])
    assert result.plans == 2
    assert ScheduledFill.objects.get(pk=due.pk).date != due.date
    assert next(m.sequence for m in result.moves if m.plan_id == patient_a.plan.pk) == due.sequence


def test_a_plan_deleted_before_its_recompute_is_recomputed_as_nothing(patient_a, patient_b):
    """The ids were taken, then the patient was deleted (a record entered twice): the recompute of what is left."""
    gone = patient_a.plan.pk
    patient_a.delete()
    assert services.recompute_plans([gone]) == services.RecomputeResult(plans=0, moves=(), created=0, cancelled=0)
    assert services.recompute_plans([gone, patient_b.plan.pk]).plans == 1


def test_recomputing_many_plans_takes_no_more_queries_than_one(clinic_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    plans = [make_patient(clinic_a, f"Quinn {i}", f"A-8{i:02}", surgery=TODAY - dt.timedelta(days=i)).plan
             for i in range(6)]
    ClinicClosure.objects.create(clinic=clinic_a, date=TODAY + dt.timedelta(days=30), name="Staff day")

    def queries(chosen) -> int:
        with CaptureQueriesContext(connection) as captured:
            services.recompute_plans([plan.pk for plan in chosen])
        return len(captured.captured_queries)

    assert queries(plans[:1]) == queries(plans)

def test_a_plan_saved_from_a_page_read_before_the_worker_recomputed_it_is_stored_right(clinic_a, patient_a):
    """The edit page read the plan (with its digest); a closure moved a fill and the worker stored that; the
    closure was taken back; then the page's plan is saved. Its digest says "as before the closure", which the
    schedule is again, but the stored rows are the closure's: they are compared, not trusted, and put back."""
    read_by_the_page = TherapyPlan.objects.get(patient=patient_a)
    due = planned(patient_a)[1]
    services.closures_add(clinic=clinic_a, days={due.date: "Staff day"})
    jobs.recompute_stale_plans(limit=10)
    assert ScheduledFill.objects.get(pk=due.pk).moved_from == due.date
    services.closure_remove(closure=ClinicClosure.objects.get(clinic=clinic_a, date=due.date))
    services.plan_save(plan=read_by_the_page)
    jobs.recompute_stale_plans(limit=10)
    back = ScheduledFill.objects.get(pk=due.pk)
    assert (back.date, back.moved_from) == (due.date, None)

def test_closures_added_outside_a_request_keep_who_added_them(clinic_a, staff_a):
    services.closures_add(clinic=clinic_a, days={TODAY + dt.timedelta(days=9): "Inventory"}, by=staff_a)
    assert ClinicClosure.objects.get(clinic=clinic_a).history.get().history_user == staff_a


def test_chemotherapy_turns_into_maintenance_after_the_plans_last_cycle(clinic_a):
    def kinds(patient):
        return [r.kind for r in ScheduledFill.objects.filter(plan__patient=patient, active=True).order_by("sequence")]

    two = kinds(make_patient(clinic_a, "Cora Two", "A-401", surgery=TODAY - dt.timedelta(days=20), cycle_count=2))
    assert two[:5] == [FillKind.IMPLANT, FillKind.CHEMO, FillKind.REST, FillKind.CHEMO, FillKind.REST]
    assert len(two) > 6 and set(two[5:]) == {FillKind.MAINTENANCE}
    six = kinds(make_patient(clinic_a, "Cora Six", "A-402", surgery=TODAY - dt.timedelta(days=20)))  # the protocol's
    assert six.count(FillKind.CHEMO) == 6 and six[-1] == FillKind.MAINTENANCE
    endless = kinds(make_patient(clinic_a, "Cora Open", "A-403", surgery=TODAY - dt.timedelta(days=20),
                                 open_ended=True))
    assert endless.count(FillKind.CHEMO) > 6 and FillKind.MAINTENANCE not in endless


def test_a_flow_exactly_at_the_clinics_tolerance_is_within_it(clinic_a, patient_a, staff_a):
    """S12 with the clinic's 25%: 17.5 mL over 14 days is 1.25 mL/day against 1.0, exactly 25% off, not flagged;
    0.1 mL more is."""
    clinic_a.flow_tolerance_percent = 25
    services.clinic_settings_save(clinic=clinic_a)
    plan = patient_a.plan
    services.fill_record(plan=plan, date=plan.surgery_date, infusate="heparinized_saline", by=staff_a,
                         volume_in_ml=30)
    fill, _ = services.fill_record(plan=plan, date=plan.surgery_date + dt.timedelta(days=14), infusate="fudr",
                                   by=staff_a, volume_returned_ml="12.5")
    row = ScheduledFill.objects.get(plan=plan, date=fill.date)
    assert (row.measured_flow_ml_per_day, row.flow_deviation) == (1.25, False)
    services.fill_correct(fill=fill, by=staff_a, volume_returned_ml="12.4")
    assert ScheduledFill.objects.get(pk=row.pk).flow_deviation


def test_maintenance_refills_follow_the_protocols_own_infusate_and_interval(clinic_a):
    protocol = Protocol.objects.create(clinic=clinic_a, name="Glycerin lock", cycle_steps=Protocol.default_steps(),
                                       cycle_count=1, maintenance_infusate="glycerin", maintenance_days=28)
    plan = make_patient(clinic_a, "Greta Glycerin", "A-950", surgery=TODAY - dt.timedelta(days=20)).plan
    plan.protocol = protocol
    services.plan_save(plan=plan)
    maintenance = list(ScheduledFill.objects.filter(plan=plan, active=True, kind=FillKind.MAINTENANCE))
    assert len(maintenance) > 3 and {row.infusate for row in maintenance} == {"glycerin"}
    assert {(b.date - a.date).days for a, b in itertools.pairwise(maintenance)} == {28}


def test_a_stored_fill_deleted_while_the_recompute_writes_it_rolls_the_write_back(patient_a):
    """The plan's digest would call its rows current: a write that missed a row (the daily prune deleted it
    meanwhile) must fail, so the batch rolls back and the plan is recomputed, rather than lose the row for good."""
    rows = [(*values, pk) for pk, *values in ScheduledFill.objects.filter(plan=patient_a.plan).order_by("sequence")
            .values_list("pk", *services._UPDATED_FIELDS)[:2]]
    services._update_rows(rows)  # the rows are there: written
    ScheduledFill.objects.filter(pk=rows[1][-1]).delete()
    with pytest.raises(services.RowsVanished, match=r"^1 of 2 stored fills were gone when written$"):  # the log says
        services._update_rows(rows)


def test_changed_rows_beyond_one_statements_batch_are_all_written(clinic_a, patient_a, monkeypatch):
    """A closure moves every later fill of the plan: written two rows per statement here (25,000 rows in a
    clinic-wide recompute are written 2,000 per statement), every one is stored, so a second recompute finds
    nothing left to write."""
    monkeypatch.setattr(services, "UPDATE_BATCH", 2)
    ClinicClosure.objects.create(clinic=clinic_a, date=planned(patient_a)[1].date, name="Staff day")
    assert len(services.recompute_plans([patient_a.plan]).moves) > 4
    stored = _revisions(patient_a)
    assert services.recompute_plans([patient_a.plan]).moves == ()
    assert _revisions(patient_a) == stored

def test_a_measured_flow_of_zero_still_says_why_the_visit_is_flagged(db):
    from types import SimpleNamespace

    from django.template.loader import render_to_string

    def badges(**flow):
        fill = SimpleNamespace(date=TODAY, recorded=True, held=False, moved_from=None, closed_day=False,
                               capacity_warning=False, flow_deviation=False, active=True, kind="chemo", **flow)
        return render_to_string("clinic/_fill_badges.html", {"fill": fill, "today": TODAY})

    assert "Last measured flow 0.00 mL/day: out of tolerance" in badges(deviating_flow=0.0)  # the pump stopped
    assert "Last measured flow" not in badges(deviating_flow=None)
    assert "Last measured flow" not in badges()  # a fill from a page that does not ask


def _revisions(patient) -> dict[int, tuple]:
    """sequence -> (revision, the stored values)."""
    rows = ScheduledFill.objects.filter(plan__patient=patient).values_list(
        "sequence", "revision", *ScheduledFill.PROJECTED_FIELDS
    )
    return {sequence: (revision, tuple(values)) for sequence, revision, *values in rows}


def test_a_clinic_wide_recompute_rewrites_only_what_changed_and_an_unchanged_plan_reads_no_stored_row(
    clinic_a, patient_a
):
    """The worker's path (plans claimed as rows, the digest of the engine's fills): a closure moves one of
    patient_a's fills and those after it; a patient with no fill near that day keeps every row as it was; a
    second clinic-wide change that moves nothing writes no row and reads none."""
    other = make_patient(clinic_a, "Olga Other", "A-300", surgery=TODAY - dt.timedelta(days=27))
    closed = planned(patient_a)[1]
    assert closed.date not in {row.date for row in planned(other)}
    before, others_before = _revisions(patient_a), _revisions(other)
    ClinicClosure.objects.create(clinic=clinic_a, date=closed.date, name="Staff training")
    services.clinic_recompute(clinic=clinic_a)
    assert jobs.recompute_stale_plans(limit=100) == 2
    after = _revisions(patient_a)
    for sequence, (revision, values) in before.items():
        # A changed row is a new revision of the same appointment (the fill before the closed day too: its phase
        # ends later or earlier); an unchanged row keeps its revision.
        assert after[sequence] == (revision + (after[sequence][1] != values), after[sequence][1])
    assert after[closed.sequence][1][0] != closed.date
    assert after[0] == before[0]  # the implant fill, long before
    assert _revisions(other) == others_before  # nothing of it changed: nothing written

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    services.clinic_recompute(clinic=clinic_a)  # e.g. the tolerance saved unchanged
    with CaptureQueriesContext(connection) as queries:
        assert jobs.recompute_stale_plans(limit=100) == 2
    assert not any("schedules_scheduledfill" in q["sql"] for q in queries.captured_queries)
    assert _revisions(patient_a) == after and _revisions(other) == others_before
    assert not TherapyPlan.objects.filter(patient__clinic=clinic_a, projected_version__lt=F("inputs_version")).exists()


def test_one_worker_batch_of_two_clinics_uses_each_clinics_own_calendar(clinic_a, clinic_b, patient_a):
    twin = make_patient(clinic_b, "Tina Twin", "B-300", surgery=patient_a.plan.surgery_date)
    closed = planned(patient_a)[1]
    assert planned(twin)[1].date == closed.date
    ClinicClosure.objects.create(clinic=clinic_a, date=closed.date, name="Staff training")
    services.clinic_recompute(clinic=clinic_a)
    services.clinic_recompute(clinic=clinic_b)
    assert jobs.recompute_stale_plans(limit=100) == 2
    assert planned(patient_a)[1].date != closed.date
    assert planned(twin)[1].date == closed.date  # clinic B is open that day


def test_one_worker_batch_of_two_clinics_uses_each_clinics_own_open_days(clinic_a, clinic_b, patient_a):
    """Clinic B opens at weekends too: its patient's fills stay on Saturdays, however the batch that recomputes
    them also holds a plan of clinic A (closed at weekends) with the same pump."""
    clinic_b.open_weekdays = "0123456"
    clinic_b.save()
    saturday = TODAY - dt.timedelta(days=24)
    weekend = make_patient(clinic_b, "Wanda Weekend", "B-301", surgery=saturday)
    assert weekend.pump_reservoir_ml == patient_a.pump_reservoir_ml and patient_a.plan.pk < weekend.plan.pk
    services.clinic_recompute(clinic=clinic_a)
    services.clinic_recompute(clinic=clinic_b)
    assert jobs.recompute_stale_plans(limit=100) == 2
    days = [(row.date.weekday(), row.moved_from) for row in planned(weekend)]
    assert days and set(days) == {(saturday.weekday(), None)}

def test_the_digest_changes_with_every_stored_value(patient_a):
    """A plan whose digest is unchanged has nothing written: so each value the engine gives a fill, the
    recorded fills' appointment times and the clinic must each change the digest."""
    import dataclasses

    from schedules import engine

    plan = TherapyPlan.objects.select_related("patient__clinic", "protocol").get(patient=patient_a)
    calendar = services.clinic_calendar(plan.patient.clinic, [])
    fills = engine.project(services.engine_plan(plan), calendar, today=TODAY,
                           recorded=(engine.RecordedFill(TODAY - dt.timedelta(days=6), engine.Infusate.FUDR),))
    clinic_id = plan.patient.clinic_id
    times = ((TODAY - dt.timedelta(days=6), dt.time(9, 30)),)
    digest = services._fingerprint(clinic_id, fills, times)
    assert services._fingerprint(clinic_id, list(fills), times) == digest
    assert services._fingerprint(clinic_id + 1, fills, times) != digest
    assert services._fingerprint(clinic_id, fills, ((times[0][0], dt.time(10, 0)),)) != digest
    assert services._fingerprint(clinic_id, fills, ()) != digest
    assert services._fingerprint(clinic_id, fills[:-1], times) != digest
    other = {engine.Infusate: engine.Infusate.GLYCERIN, engine.FillKind: engine.FillKind.MAINTENANCE}
    fill = fills[2]
    for name in (f.name for f in dataclasses.fields(engine.Fill) if f.name != "overdue"):  # overdue is not stored
        value = getattr(fill, name)
        if isinstance(value, bool):
            changed = not value
        elif isinstance(value, dt.date):
            changed = value + dt.timedelta(days=1)
        elif type(value) in other:
            changed = other[type(value)]
        elif isinstance(value, int):
            changed = value + 1
        else:  # None, or a measured flow
            changed = 1.5 if value is None else value + 0.01
        altered = [*fills[:2], dataclasses.replace(fill, **{name: changed}), *fills[3:]]
        assert services._fingerprint(clinic_id, altered, times) != digest, name


def test_correcting_only_a_fills_appointment_time_rewrites_its_row(patient_a, staff_a):
    fill, _ = services.fill_record(plan=patient_a.plan, date=TODAY - dt.timedelta(days=1), infusate="fudr",
                                   by=staff_a, appointment_time=dt.time(9, 30))
    row = ScheduledFill.objects.get(plan=patient_a.plan, date=fill.date)
    services.fill_correct(fill=fill, by=staff_a, appointment_time=dt.time(10, 0))
    corrected = ScheduledFill.objects.get(pk=row.pk)
    assert corrected.appointment_time == dt.time(10, 0) and corrected.revision == row.revision + 1


def test_a_fill_recorded_while_the_clinics_open_days_change_is_projected_with_the_new_days(
    transactional_db, frozen, staff_a
):
    """The nurse's recompute waits for the plan's lock, which the clinic-wide change holds until it commits; it
    must then read the clinic as committed, not as it was when its locking query began (PostgreSQL re-reads only
    the locked row): else the plan would be stored as current with the old open days, and never recomputed."""
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent transactions: PostgreSQL")
    clinic = staff_a.memberships.get().clinic
    patient = make_patient(clinic, "Lena Lock", "A-500", surgery=TODAY - dt.timedelta(days=14))  # chemo due today
    plan = patient.plan
    outdated, go = threading.Event(), threading.Event()
    errors = []

    def close_tuesdays():
        try:
            with transaction.atomic():
                clinic.open_weekdays = "0234"  # Monday, Wednesday to Friday
                services.clinic_settings_save(clinic=clinic)
                outdated.set()
                go.wait(10)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    def record():
        try:
            services.fill_record(plan=plan, date=TODAY, infusate="fudr", by=staff_a)  # waits for the lock
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    change = threading.Thread(target=close_tuesdays)
    change.start()
    assert outdated.wait(10)
    nurse = threading.Thread(target=record)
    nurse.start()
    nurse.join(0.5)  # blocked on the plan's lock
    go.set()
    change.join()
    nurse.join()
    assert not errors
    plan.refresh_from_db()
    jobs.recompute_stale_plans(limit=100)
    after_fill = ScheduledFill.objects.get(plan=plan, date=TODAY).sequence + 1
    assert ScheduledFill.objects.get(plan=plan, sequence=after_fill).date.weekday() != 1  # no Tuesday


def test_the_worker_keeps_a_plans_holds_and_reads_holds_only_for_plans_that_have_some(clinic_a, patient_a, staff_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    chemo = next(r for r in planned(patient_a) if r.kind == FillKind.CHEMO and r.date > TODAY)
    services.hold_add(plan=patient_a.plan, sequence=chemo.sequence, reason="Bilirubin up", by=staff_a)
    make_patient(clinic_a, "Nora Nohold", "A-600", surgery=TODAY - dt.timedelta(days=27))  # no hold
    services.clinic_recompute(clinic=clinic_a)
    with CaptureQueriesContext(connection) as queries:
        assert jobs.recompute_stale_plans(limit=100) == 2
    asked = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('SELECT "schedules_hold"')]
    assert len(asked) == 1 and asked[0].endswith(f"IN ({patient_a.plan.pk})")  # not the other plan's
    assert ScheduledFill.objects.get(plan=patient_a.plan, sequence=chemo.sequence).kind == FillKind.HELD

    Hold.objects.filter(plan=patient_a.plan).delete()  # as if gone: nothing of the clinic has holds now
    services.clinic_recompute(clinic=clinic_a)
    with CaptureQueriesContext(connection) as queries:
        jobs.recompute_stale_plans(limit=100)
    assert not any(q["sql"].startswith('SELECT "schedules_hold"') for q in queries.captured_queries)
    assert ScheduledFill.objects.get(plan=patient_a.plan, sequence=chemo.sequence).kind == FillKind.CHEMO


@pytest.mark.parametrize("service", ["fill_record", "fill_record_expected"])  # the latter: the record page's
def test_recording_a_fill_asks_for_holds_only_when_the_plan_has_some_and_reads_its_rows_once(
    patient_a, staff_a, service
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def asked(day, infusate="fudr"):
        """How many times recording reads the plan's holds, and its stored rows."""
        expected = {"sequence": None} if service == "fill_record_expected" else {}
        with CaptureQueriesContext(connection) as queries:
            getattr(services, service)(plan=patient_a.plan, date=day, infusate=infusate, by=staff_a, **expected)
        sql = [q["sql"] for q in queries.captured_queries]
        return (sum(s.startswith('SELECT "schedules_hold"') for s in sql),
                sum(s.startswith('SELECT "schedules_scheduledfill"') for s in sql))

    assert asked(TODAY - dt.timedelta(days=6)) == (0, 1)
    chemo = next(r for r in planned(patient_a) if r.kind == FillKind.CHEMO)
    services.hold_add(plan=patient_a.plan, sequence=chemo.sequence, reason="ALP up", by=staff_a)
    assert ScheduledFill.objects.get(plan=patient_a.plan, sequence=chemo.sequence).kind == FillKind.HELD
    assert asked(TODAY, infusate="heparinized_saline") == (1, 1)  # the rest fill: the hold, later, stays
    assert ScheduledFill.objects.get(plan=patient_a.plan, sequence=chemo.sequence).kind == FillKind.HELD


def test_the_preview_of_a_saved_plan_is_its_stored_schedule(clinic_a, staff_a):
    """"Preview fills" on the edit page must tell what saving would store: each plan's own first chemo and cycle
    count, open-ended cycles, either end of therapy, the patient's pump, and the fills already recorded."""
    surgery = TODAY - dt.timedelta(days=40)
    overrides = make_patient(clinic_a, "Olive Overrides", "A-701", surgery=surgery, first_chemo_after_days=10,
                             cycle_count=2)
    open_ended = make_patient(clinic_a, "Opal Open", "A-702", surgery=surgery, open_ended=True)
    services.fill_record(plan=open_ended.plan, date=surgery + dt.timedelta(days=15), infusate="fudr", by=staff_a)
    services.fill_record(plan=open_ended.plan, date=surgery + dt.timedelta(days=29), infusate="heparinized_saline",
                         by=staff_a)
    chemo_ended = make_patient(clinic_a, "Chloe Chemo", "A-703", surgery=surgery)
    services.therapy_end(plan=chemo_ended.plan, end_date=TODAY + dt.timedelta(days=30), reason="toxicity")
    therapy_over = make_patient(clinic_a, "Enid Ended", "A-704", surgery=surgery)
    services.therapy_end(plan=therapy_over.plan, end_date=TODAY + dt.timedelta(days=60), reason="pump_removed")
    small_pump = make_patient(clinic_a, "Petra Pump", "A-705", surgery=surgery)
    small_pump.pump_reservoir_ml, small_pump.pump_flow_ml_per_day = 20, 2.5  # 8 days: shorter than a phase
    services.patient_save(patient=small_pump, plan=small_pump.plan)

    def told(fills):
        return [(f.date, str(f.infusate), str(f.kind), f.cycle, f.recorded, f.moved_from, f.capacity_warning)
                for f in fills]

    for patient in (overrides, open_ended, chemo_ended, therapy_over, small_pump):
        plan = TherapyPlan.objects.get(patient=patient)
        stored = ScheduledFill.objects.filter(plan=plan, active=True).order_by("sequence")
        preview = services.plan_preview(plan=plan, clinic=clinic_a, count=len(stored) + 3)  # and nothing more
        assert told(preview) == told(stored), patient.name
    # Each plan is unlike the protocol's: a preview that missed what makes it so would differ.
    kinds = {p.name: list(ScheduledFill.objects.filter(plan__patient=p, active=True).values_list("kind", flat=True))
             for p in (overrides, open_ended, chemo_ended)}
    assert kinds["Olive Overrides"].count(FillKind.CHEMO) == 2 and FillKind.MAINTENANCE not in kinds["Opal Open"]
    assert FillKind.MAINTENANCE in kinds["Chloe Chemo"][:8]
    assert ScheduledFill.objects.filter(plan__patient=small_pump, active=True, capacity_warning=True).exists()
