"""Adding or removing closure dates marks out of date only the plans whose projection can change (issue 13).

The property: over random plans (protocols, pumps, recorded fills, ends) and clinic calendars (open weekdays,
closures), adding or removing random closure dates marks every plan whose full recompute changes any stored row,
and once the worker has recomputed the marked plans, the stored projection is what a full recompute of every plan
stores. A plan left unmarked with a wrong schedule fails it.
"""

import datetime as dt

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patients import search
from patients.models import Patient
from schedules import jobs, services
from schedules.models import ClinicClosure, EndReason, Infusate, Protocol, RecordedFill, ScheduledFill, TherapyPlan
from tests.conftest import TODAY, make_clinic, make_patient

REST = [Infusate.HEPARINIZED_SALINE, Infusate.SALINE, Infusate.GLYCERIN]
# Closures and fills from here to there: past the 90-day horizon set below, so its edge is exercised.
FIRST, LAST = -60, 130


def day(offset: int) -> dt.date:
    return TODAY + dt.timedelta(days=offset)


plans_strategy = st.lists(
    st.fixed_dictionaries({
        "surgery": st.integers(-120, 60),
        "first": st.integers(1, 30),
        "chemo": st.sampled_from([Infusate.FUDR, Infusate.FUDR_DEX]),
        "chemo_days": st.integers(1, 28),
        "rest": st.lists(st.tuples(st.sampled_from(REST), st.integers(1, 28)), min_size=1, max_size=2),
        "cycles": st.one_of(st.none(), st.integers(1, 6)),
        "maintenance_days": st.integers(1, 30),
        "reservoir": st.sampled_from([5, 10, 20, 30, 45, 60]),
        "flow": st.sampled_from(["0.5", "1", "1.5", "2"]),
        "recorded": st.lists(st.tuples(st.integers(0, 150), st.sampled_from(list(Infusate))), max_size=4),
        "chemo_end": st.one_of(st.none(), st.integers(0, 200)),
        "end": st.one_of(st.none(), st.integers(0, 200)),
    }),
    min_size=1,
    max_size=5,
)


def snapshot(plan_ids) -> dict[int, tuple]:
    rows: dict[int, list] = {pk: [] for pk in plan_ids}
    stored = ScheduledFill.objects.filter(plan_id__in=plan_ids).order_by("plan_id", "sequence")
    for plan_id, *values in stored.values_list("plan_id", "sequence", *ScheduledFill.PROJECTED_FIELDS):
        rows[plan_id].append(tuple(values))
    return {pk: tuple(values) for pk, values in rows.items()}


def near_fills(plan_ids) -> set[dt.date]:
    """Days near the stored fills: each fill's day and the day it moved from, 3 days either side, and the
    month after each plan's last stored fill."""
    days = set()
    for date, moved_from, phase_end in ScheduledFill.objects.filter(plan_id__in=plan_ids, active=True).values_list(
        "date", "moved_from", "phase_end"
    ):
        for start in (date, moved_from or date):
            days.update(start + dt.timedelta(d) for d in range(-3, 4))
        if phase_end is None:
            days.update(date + dt.timedelta(d) for d in range(1, 32))
    return days


def build(clinic, index: int, spec: dict) -> TherapyPlan:
    protocol = Protocol.objects.create(
        clinic=clinic, name=f"P{index}", first_chemo_after_days=spec["first"],
        cycle_steps=[{"infusate": spec["chemo"], "days": spec["chemo_days"]},
                     *({"infusate": infusate, "days": days} for infusate, days in spec["rest"])],
        cycle_count=spec["cycles"], maintenance_days=spec["maintenance_days"],
    )
    patient = Patient.objects.create(
        clinic=clinic, name=f"Patient {index}", record_number=f"R{index}", date_of_birth=dt.date(1958, 4, 2),
        search_text=search.patient_text(f"Patient {index}", f"R{index}"), pump_reservoir_ml=spec["reservoir"],
        pump_flow_ml_per_day=spec["flow"],
    )
    surgery = day(spec["surgery"])
    plan = TherapyPlan.objects.create(
        patient=patient, protocol=protocol, surgery_date=surgery,
        chemo_end_date=None if spec["chemo_end"] is None else surgery + dt.timedelta(spec["chemo_end"]),
        end_date=None if spec["end"] is None else surgery + dt.timedelta(spec["end"]),
        chemo_end_reason="" if spec["chemo_end"] is None else EndReason.COMPLETED,
        status=TherapyPlan.Status.ACTIVE if spec["end"] is None else TherapyPlan.Status.ENDED,
        end_reason="" if spec["end"] is None else EndReason.PUMP_REMOVED,
    )
    recorded = {surgery + dt.timedelta(offset): infusate for offset, infusate in spec["recorded"]}
    RecordedFill.objects.bulk_create(
        RecordedFill(plan=plan, date=date, infusate=infusate) for date, infusate in recorded.items() if date < TODAY
    )
    services.recompute_plans([plan])
    return plan


@pytest.mark.django_db
@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                                  HealthCheck.too_slow])
@given(
    open_days=st.sets(st.integers(0, 6), min_size=1),
    closures=st.sets(st.integers(FIRST, LAST), max_size=40),
    plans=plans_strategy,
    added=st.sets(st.integers(FIRST, LAST), min_size=1, max_size=3),
    remove=st.booleans(),
    data=st.data(),
)
def test_a_closure_marks_every_plan_whose_schedule_it_changes(frozen, settings, open_days, closures, plans, added,
                                                               remove, data):
    settings.SCHEDULE_HORIZON_DAYS = 90
    with transaction.atomic():
        clinic = make_clinic("Clinic", time_zone="America/New_York",
                             open_weekdays="".join(str(d) for d in sorted(open_days)))
        ClinicClosure.objects.bulk_create(ClinicClosure(clinic=clinic, date=day(offset)) for offset in closures)
        ids = [build(clinic, index, spec).pk for index, spec in enumerate(plans)]
        before = snapshot(ids)

        # Half the time the dates are drawn where the marking's edges are (near a fill's day, the day it moved
        # from, its search, the last stored fill), where random dates alone would seldom fall.
        near = sorted(near_fills(ids))
        if remove and closures:
            closed = list(ClinicClosure.objects.filter(clinic=clinic).order_by("date"))
            edge = [c for c in closed if c.date in near]
            closure = data.draw(st.sampled_from(edge if edge and data.draw(st.booleans()) else closed))
            updating = services.closure_remove(closure=closure)
        else:
            days = {day(offset) for offset in added}
            if near and data.draw(st.booleans()):
                days = set(data.draw(st.lists(st.sampled_from(near), min_size=1, max_size=3)))
            updating = services.closures_add(clinic=clinic, days=dict.fromkeys(days, ""))[1]
        marked = set(jobs.stale_plans().filter(pk__in=ids).values_list("pk", flat=True))
        assert updating == len(marked)

        jobs.recompute_stale_plans(limit=1000)
        shortcut = snapshot(ids)
        services.recompute_plans(ids)  # every plan, every stored row compared
        full = snapshot(ids)

        assert {pk for pk in ids if full[pk] != before[pk]} <= marked
        assert shortcut == full
        transaction.set_rollback(True)


@pytest.fixture
def clinic(db, frozen):
    return make_clinic("Clinic", time_zone="America/New_York")


def plan_of(clinic, *, surgery: dt.date, first: int, record: str = "R1", **pump) -> TherapyPlan:
    patient = Patient.objects.create(
        clinic=clinic, name=f"Patient {record}", record_number=record, date_of_birth=dt.date(1958, 4, 2),
        search_text=search.patient_text(f"Patient {record}", record), **pump,
    )
    plan = TherapyPlan(patient=patient, surgery_date=surgery, protocol=clinic.default_protocol,
                       first_chemo_after_days=first)
    services.plan_save(plan=plan)
    return plan


def test_opening_a_day_after_a_fill_moved_earlier_marks_it_when_its_search_looked_there(clinic):
    """The first chemo fill is due Thursday 9 April, 28 days after surgery, with a 30-day pump: after a saline
    phase it may go up to 2 days later (S11), but Friday (closed) and Saturday are closed too, so it moved back to
    Wednesday. Opening Friday moves it there, although Friday is outside Wednesday..Thursday."""
    thursday, friday = dt.date(2026, 4, 9), dt.date(2026, 4, 10)
    ClinicClosure.objects.bulk_create([ClinicClosure(clinic=clinic, date=thursday),
                                       ClinicClosure(clinic=clinic, date=friday)])
    plan = plan_of(clinic, surgery=dt.date(2026, 3, 12), first=28)
    other = plan_of(clinic, surgery=dt.date(2026, 3, 10), first=14, record="R2")  # no fill near that Friday
    first = ScheduledFill.objects.get(plan=plan, sequence=1)
    assert (first.date, first.moved_from) == (dt.date(2026, 4, 8), thursday)

    assert services.closure_remove(closure=ClinicClosure.objects.get(clinic=clinic, date=friday)) == 1
    assert set(jobs.stale_plans().values_list("pk", flat=True)) == {plan.pk}
    jobs.recompute_stale_plans(limit=10)
    assert ScheduledFill.objects.get(plan=plan, sequence=1).date == friday
    assert other.pk not in set(jobs.stale_plans().values_list("pk", flat=True))



def test_opening_the_last_day_of_a_long_closure_brings_back_a_fill_moved_late_and_marks_only_its_plan(clinic):
    """A 30-day pump after a 14-day saline phase: the first chemo fill may go up to 14 days later (S11). Twelve
    days closed from its due day moved it 12 days later; opening the twelfth day moves it there. Another plan's
    fill, due inside the closure, went earlier (its 10-day pump cannot wait): its search never looked that far, so
    it is not marked, and a full recompute agrees that nothing of it changes."""
    clinic.open_weekdays = "0123456"
    clinic.save()
    due = TODAY + dt.timedelta(days=34)
    ClinicClosure.objects.bulk_create(ClinicClosure(clinic=clinic, date=due + dt.timedelta(d)) for d in range(12))
    late = plan_of(clinic, surgery=due - dt.timedelta(days=14), first=14)
    early = plan_of(clinic, surgery=due - dt.timedelta(days=11), first=14, record="R2", pump_reservoir_ml=10)
    last_closed = due + dt.timedelta(days=11)
    first = ScheduledFill.objects.get(plan=late, sequence=1)
    assert (first.date, first.moved_from) == (due + dt.timedelta(days=12), due)
    other = ScheduledFill.objects.get(plan=early, sequence=1)
    assert other.moved_from == due + dt.timedelta(days=3) and other.date < due
    untouched = snapshot([early.pk])

    assert services.closure_remove(closure=ClinicClosure.objects.get(clinic=clinic, date=last_closed)) == 1
    assert set(jobs.stale_plans().values_list("pk", flat=True)) == {late.pk}
    jobs.recompute_stale_plans(limit=10)
    assert ScheduledFill.objects.get(plan=late, sequence=1).date == last_closed
    services.recompute_plans([early.pk])
    assert snapshot([early.pk]) == untouched


@pytest.mark.parametrize("stuck", [False, True], ids=["moved earlier", "stuck on its closed day"])
@pytest.mark.parametrize(("flow", "wait"), [("1", 5), ("0.5", 10)], ids=["1 mL a day", "0.5 mL a day"])
def test_opening_the_last_day_a_fill_may_wait_for_brings_it_there(clinic, stuck, flow, wait):
    """A 10 mL pump lasts 10 days at 1 mL a day, 20 at 0.5: after a saline phase of half that, the first chemo fill
    may wait the other half (S11). All of those days closed, it went a day earlier, or, the days back to surgery
    closed too, stayed on its closed day; opening the last moves it there, the latest day the pump allows."""
    clinic.open_weekdays = "0123456"
    clinic.save()
    due = TODAY + dt.timedelta(days=34)
    ClinicClosure.objects.bulk_create(ClinicClosure(clinic=clinic, date=due + dt.timedelta(d))
                                      for d in range(1 - wait if stuck else 0, wait + 1))
    plan = plan_of(clinic, surgery=due - dt.timedelta(days=wait), first=wait, pump_reservoir_ml=10,
                   pump_flow_ml_per_day=flow)
    first = ScheduledFill.objects.get(plan=plan, sequence=1)
    if stuck:
        assert (first.date, first.closed_day) == (due, True)
    else:
        assert (first.date, first.moved_from) == (due - dt.timedelta(days=1), due)
    last_day = due + dt.timedelta(days=wait)

    assert services.closure_remove(closure=ClinicClosure.objects.get(clinic=clinic, date=last_day)) == 1
    jobs.recompute_stale_plans(limit=10)
    assert ScheduledFill.objects.get(plan=plan, sequence=1).date == last_day


def test_opening_a_day_before_the_fill_that_precedes_a_stuck_one_marks_nothing(clinic):
    """Two weeks closed after a chemo fill: the next fill found no open day back to it and stays, flagged, on
    its closed day. A closed day before that chemo fill was never looked at: opening it marks no plan (a patient
    of another clinic, with fills before it, does not count either)."""
    clinic.open_weekdays = "0123456"
    clinic.save()
    make_patient(make_clinic("Other", time_zone="Europe/Berlin"), "Otto Other", "O-1", surgery=TODAY - dt.timedelta(40))
    chemo_day = TODAY + dt.timedelta(days=24)
    ClinicClosure.objects.bulk_create(ClinicClosure(clinic=clinic, date=chemo_day + dt.timedelta(d))
                                      for d in (-2, *range(1, 15)))
    plan = plan_of(clinic, surgery=chemo_day - dt.timedelta(days=14), first=14)
    chemo, stuck = ScheduledFill.objects.filter(plan=plan, sequence__in=(1, 2)).order_by("sequence")
    assert chemo.date == chemo_day and not chemo.moved_from
    assert stuck.closed_day and stuck.date == chemo_day + dt.timedelta(days=14)
    before = snapshot([plan.pk])

    earlier = ClinicClosure.objects.get(clinic=clinic, date=chemo_day - dt.timedelta(days=2))
    assert services.closure_remove(closure=earlier) == 0
    services.recompute_plans([plan.pk])
    assert snapshot([plan.pk]) == before

def test_opening_a_day_past_what_a_stuck_fills_pump_allows_marks_nothing(clinic):
    """A 10-day pump: a fill stuck on a closed day two weeks after its chemo fill could only have gone up to 5 days
    later, so opening a day 8 days after it changes nothing, even where another patient's 30-day pump could
    wait that long."""
    clinic.open_weekdays = "0123456"
    clinic.save()
    chemo_day = TODAY + dt.timedelta(days=24)
    beyond = chemo_day + dt.timedelta(days=22)
    ClinicClosure.objects.bulk_create(ClinicClosure(clinic=clinic, date=chemo_day + dt.timedelta(d))
                                      for d in (*range(1, 15), 22))
    plan = plan_of(clinic, surgery=chemo_day - dt.timedelta(days=14), first=14, pump_reservoir_ml=10)
    plan_of(clinic, surgery=chemo_day + dt.timedelta(days=30), first=14, record="R2")  # a 30-day pump, later
    stuck = ScheduledFill.objects.get(plan=plan, sequence=2)
    assert stuck.closed_day and stuck.date == chemo_day + dt.timedelta(days=14)
    before = snapshot([plan.pk])

    assert services.closure_remove(closure=ClinicClosure.objects.get(clinic=clinic, date=beyond)) == 0
    services.recompute_plans([plan.pk])
    assert snapshot([plan.pk]) == before

def test_a_closure_counts_the_patients_still_updating_from_the_one_before(clinic):
    """Two closures in a row, before the worker has caught up: the second moves no fill, but the patient the
    first moved is still being updated, and the page's count says so."""
    plan = plan_of(clinic, surgery=TODAY - dt.timedelta(days=20), first=14)
    due = ScheduledFill.objects.filter(plan=plan, date__gt=TODAY).first()
    assert services.closures_add(clinic=clinic, days={due.date: "Staff day"}) == (1, 1)
    far = TODAY + dt.timedelta(days=400)  # past the horizon and its reach
    assert services.closures_add(clinic=clinic, days={far: "Inventory"}) == (1, 1)
    assert set(jobs.stale_plans().values_list("pk", flat=True)) == {plan.pk}

def test_a_clinic_without_patients_can_remove_a_closure(clinic):
    closure = ClinicClosure.objects.create(clinic=clinic, date=TODAY + dt.timedelta(days=9), name="Inventory")
    assert services.closure_remove(closure=closure) == 0
    assert not ClinicClosure.objects.filter(clinic=clinic).exists()


def test_a_closure_on_the_day_of_a_cancelled_fill_leaves_a_finished_therapy_alone(clinic):
    """The pump came out today: the fills that were planned after it stay, inactive, for the feeds, but nothing
    is planned any more, so a closure on one of their days, or just after the last of them, changes nothing and
    marks no plan."""
    plan = plan_of(clinic, surgery=TODAY - dt.timedelta(days=20), first=14)
    services.therapy_end(plan=plan, end_date=TODAY, reason="pump_removed")
    cancelled = ScheduledFill.objects.filter(plan=plan, active=False, date__gte=TODAY + dt.timedelta(days=60)).first()
    last = ScheduledFill.objects.filter(plan=plan, active=False).last()
    assert last.phase_end is None  # the last fill stored before the end: the one a closure after it could move
    days = {cancelled.date: "Inventory", last.date + dt.timedelta(days=1): "Staff day"}
    assert services.closures_add(clinic=clinic, days=days) == (2, 0)
    assert not jobs.stale_plans().exists()


def test_a_closure_just_past_the_horizon_brings_the_next_fill_into_the_schedule(clinic, settings):
    """The schedule is stored up to the horizon; the fill after its last one falls on the day a new closure
    takes, follows a chemo phase, so goes a day earlier: inside the horizon, it is now stored."""
    settings.SCHEDULE_HORIZON_DAYS = 55
    clinic.open_weekdays = "0123456"
    clinic.save()
    plan = plan_of(clinic, surgery=TODAY, first=14)
    last = ScheduledFill.objects.filter(plan=plan, active=True).last()
    assert (last.kind, last.date, last.phase_end) == ("chemo", TODAY + dt.timedelta(days=42), None)
    assert services.closures_add(clinic=clinic, days={TODAY + dt.timedelta(days=56): "Inventory"}) == (1, 1)
    jobs.recompute_stale_plans(limit=10)
    new = ScheduledFill.objects.filter(plan=plan, active=True).last()
    assert (new.sequence, new.date, new.moved_from) == (last.sequence + 1, TODAY + dt.timedelta(days=55),
                                                        TODAY + dt.timedelta(days=56))


def test_a_closure_on_the_day_a_fill_past_the_horizon_waited_for_brings_it_into_the_schedule(clinic, settings):
    """A 16-day pump after a 14-day saline phase: the fill after the horizon's last may wait 2 days (S11). Its own
    day and the next closed, it waits for the second, 16 days after the last stored fill; closing that one too, it
    goes back, to the horizon's last day: now stored."""
    settings.SCHEDULE_HORIZON_DAYS = 69
    clinic.open_weekdays = "0123456"
    clinic.save()
    ClinicClosure.objects.bulk_create(ClinicClosure(clinic=clinic, date=TODAY + dt.timedelta(d)) for d in (70, 71))
    plan = plan_of(clinic, surgery=TODAY, first=14, pump_reservoir_ml=16)
    last = ScheduledFill.objects.filter(plan=plan, active=True).last()
    assert (last.kind, last.date, last.phase_end) == ("rest", TODAY + dt.timedelta(days=56), None)
    assert services.closures_add(clinic=clinic, days={TODAY + dt.timedelta(days=72): "Inventory"}) == (1, 1)
    jobs.recompute_stale_plans(limit=10)
    new = ScheduledFill.objects.filter(plan=plan, active=True).last()
    assert (new.sequence, new.date, new.moved_from) == (last.sequence + 1, TODAY + dt.timedelta(days=69),
                                                        TODAY + dt.timedelta(days=70))

# The rule itself, against the pure engine, over many more cases than the database allows: a projection changes
# only where services.closure_affected looks (the comment above it says why).


def rule_marks(fills, capacity: int, *, added=(), removed=()) -> bool:
    half = capacity // 2
    for index, fill in enumerate(fills):
        if fill.recorded or fill.kind == "implant":
            continue
        if any(fill.date == d for d in added):
            return True
        for d in removed:
            if fill.moved_from is not None and min(fill.date, fill.moved_from) <= d <= max(
                fill.date, fill.moved_from + dt.timedelta(half)
            ):
                return True
            if fill.closed_day and fills[index - 1].date < d <= fill.date + dt.timedelta(half):
                return True
    last = fills[-1]
    reach = last.date + dt.timedelta(max(last.phase_days, capacity))
    return any(last.date < d <= reach for d in (*added, *removed))


@settings(max_examples=3000, deadline=None, database=None)
@given(
    open_days=st.sets(st.integers(0, 6), min_size=1),
    closures=st.sets(st.integers(FIRST, LAST), max_size=40),
    spec=plans_strategy.map(lambda plans: plans[0]),
    change=st.integers(FIRST, LAST),
    remove=st.booleans(),
    data=st.data(),
)
def test_the_engine_changes_a_projection_only_where_the_marking_looks(open_days, closures, spec, change, remove,
                                                                      data):
    from schedules import engine

    surgery = day(spec["surgery"])
    plan = engine.Plan(
        surgery_date=surgery,
        protocol=engine.Protocol(
            first_chemo_after_days=spec["first"],
            cycle=(engine.Step(engine.Infusate(spec["chemo"]), spec["chemo_days"]),
                   *(engine.Step(engine.Infusate(i), d) for i, d in spec["rest"])),
            cycles=spec["cycles"],
            maintenance=engine.Step(engine.Infusate.HEPARINIZED_SALINE, spec["maintenance_days"]),
        ),
        pump=engine.Pump(float(spec["reservoir"]), float(spec["flow"])),
        chemo_end=None if spec["chemo_end"] is None else surgery + dt.timedelta(spec["chemo_end"]),
        end_date=None if spec["end"] is None else surgery + dt.timedelta(spec["end"]),
    )
    recorded = {surgery + dt.timedelta(o): i for o, i in spec["recorded"]}
    facts = tuple(engine.RecordedFill(d, engine.Infusate(i)) for d, i in recorded.items() if d < TODAY)
    closed = {day(o) for o in closures}

    def fills(days):
        calendar = engine.ClinicCalendar(open_weekdays=frozenset(open_days), closures=frozenset(days))
        return engine.project(plan, calendar, today=TODAY, recorded=facts, horizon_days=90)

    changed = day(change)
    if data.draw(st.booleans()):  # near a fill, where random days alone seldom fall
        near = set()
        for fill in fills(closed):
            near.update(fill.date + dt.timedelta(d) for d in range(-3, 32))
        changed = data.draw(st.sampled_from(sorted(near)))
    if remove:
        closed.add(changed)
    before = fills(closed)
    after = fills(closed - {changed} if remove else closed | {changed})
    capacity = int(plan.pump.capacity_days)
    if after != before:
        kind = {"removed": (changed,)} if remove else {"added": (changed,)}
        assert rule_marks(before, capacity, **kind)


def during_a_closure(clinic, closed: dt.date, action) -> bool:
    """Run `action` in a second connection while a closure of `closed` is added and not yet committed; let the
    closure commit after half a second. Returns whether `action` was still waiting then. PostgreSQL only."""
    import threading

    from django.db import connection

    checked, go = threading.Event(), threading.Event()
    errors = []

    def run(step):
        try:
            step()
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    def close():
        with transaction.atomic():
            services.closures_add(clinic=clinic, days={closed: "Inventory"})
            checked.set()
            go.wait(10)

    change = threading.Thread(target=run, args=(close,))
    change.start()
    assert checked.wait(10)
    nurse = threading.Thread(target=run, args=(action,))
    nurse.start()
    nurse.join(0.5)
    waited = nurse.is_alive()
    go.set()
    change.join()
    nurse.join()
    assert not errors
    return waited


def test_a_fill_recorded_while_a_closure_is_added_is_projected_with_it(transactional_db, frozen, staff_a):
    """The closure asks which plans have a fill on its day; a nurse recording a fill meanwhile would put one there
    (her chemo fill a day early: the next fill is due on the closed day). Her recompute waits for the plan's lock,
    which the closure takes before it asks and holds until it commits, and then reads the closure: without the
    lock, her plan would be stored as current with a fill on the closed day, and never marked."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent transactions: PostgreSQL")
    clinic = staff_a.memberships.get().clinic
    plan = plan_of(clinic, surgery=TODAY - dt.timedelta(days=14), first=14)  # chemo due today, Tuesday
    closed = TODAY + dt.timedelta(days=13)  # Monday 23 March: the next fill's day if chemo is given on Monday 9
    assert not ScheduledFill.objects.filter(plan=plan, date=closed).exists()
    during_a_closure(clinic, closed, lambda: services.fill_record(
        plan=plan, date=TODAY - dt.timedelta(days=1), infusate="fudr", by=staff_a
    ))
    jobs.recompute_stale_plans(limit=100)
    stored = snapshot([plan.pk])
    assert not ScheduledFill.objects.filter(plan=plan, date=closed, active=True).exists()
    services.recompute_plans([plan.pk])
    assert snapshot([plan.pk]) == stored


def test_a_plan_created_while_a_closure_is_added_is_projected_with_it(transactional_db, frozen, staff_a):
    """A closure marks the clinic's plans it has locked; a patient added meanwhile has a plan it never saw. The
    new plan's save waits for the clinic's lock, which the closure holds until it commits, and then reads the
    closure: without that wait, its first chemo fill would be stored on the closed day, as current, and never
    marked."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent transactions: PostgreSQL")
    clinic = staff_a.memberships.get().clinic
    closed = TODAY + dt.timedelta(days=14)  # the first chemo fill's day of a plan with surgery today
    created = []
    waited = during_a_closure(clinic, closed, lambda: created.append(plan_of(clinic, surgery=TODAY, first=14,
                                                                            record="R9")))
    assert waited  # for the clinic's lock
    plan = created[0]
    assert not jobs.stale_plans().filter(pk=plan.pk).exists()
    assert not ScheduledFill.objects.filter(plan=plan, date=closed, active=True).exists()
    stored = snapshot([plan.pk])
    services.recompute_plans([plan.pk])
    assert snapshot([plan.pk]) == stored
