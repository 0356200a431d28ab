"""A separate process for the concurrency and crash tests: `python -m tests.probe COMMAND` with DATABASE_URL set.

The tests start it as several processes at once (workers, writers) against one database: PostgreSQL (the
test database, committed with transactional_db) or a file-based SQLite database (SQLite in memory cannot be
shared between processes). Each command prints one JSON line with what it saw.

    setup PATIENTS           a clinic with PATIENTS patients (migrates a fresh SQLite file first)
    outdate                  close the clinic on a busy day, then every plan out of date: print how many
    work [--log FILE] [--hang-after N]
                             run the worker's recompute unit until the queue is empty, appending each
                             recomputed plan id to FILE; with --hang-after, hang (to be killed) inside the
                             transaction of the batch after N batches
    status                   how many plans are out of date, and whether every stored row matches the engine
    concurrent N             N threads recording a fill, then N threads adding a closure, all at once
    during                   a fill recorded for a plan the worker is recomputing (threads)
    web                      a patient with a password and a calendar link, for the HTTP tests
"""

import datetime as dt
import json
import os
import sys
import threading
import time

CLINIC = "Probe clinic"


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pumpcare.settings")
    import django

    django.setup()


def setup(patients: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from patients.models import Clinic, Patient, StaffMembership
    from schedules import services
    from schedules.models import Protocol, TherapyPlan

    call_command("migrate", verbosity=0)  # a no-op on the test database; a fresh SQLite file needs it
    clinic = Clinic.objects.create(name=CLINIC, phone="+1 555 0100", time_zone="America/New_York")
    protocol = Protocol.objects.create(clinic=clinic, name="Standard", cycle_steps=Protocol.default_steps())
    clinic.default_protocol = protocol
    clinic.save()
    StaffMembership.objects.create(user=get_user_model().objects.create_user("probe-nurse"), clinic=clinic)
    today = clinic.today()
    for index in range(patients):
        patient = Patient.objects.create(
            clinic=clinic, name=f"Probe {index}", record_number=f"P-{index}", date_of_birth=dt.date(1960, 1, 1)
        )
        plan = TherapyPlan(patient=patient, protocol=protocol, surgery_date=today - dt.timedelta(days=1 + index % 60))
        services.plan_save(plan=plan)
    return {"patients": patients}


def outdate() -> dict:
    """Close the clinic on the busiest planned day of the next month: a clinic-wide change that moves fills."""
    from django.db import transaction
    from django.db.models import Count

    from patients.models import Clinic
    from schedules import selectors, services

    clinic = Clinic.objects.get(name=CLINIC)
    today = clinic.today()
    busiest = (
        selectors.planned_fills().filter(clinic=clinic, date__range=(today, today + dt.timedelta(days=30)))
        .values("date").annotate(n=Count("pk")).order_by("-n", "date").first()
    )
    # A closure marks only the plans it can change; the tests want the whole clinic in the queue, as a change of
    # open weekdays would put it. One transaction: a worker polling meanwhile would otherwise recompute the
    # closure's plans and then again the whole clinic's (the tests count each plan once).
    with transaction.atomic():
        services.closures_add(clinic=clinic, days={busiest["date"]: "Probe closure"})
        outdated = services.clinic_recompute(clinic=clinic)
    return {"outdated": outdated, "closed": busiest["date"].isoformat(), "moving": busiest["n"]}


def during() -> dict:
    """A nurse records a fill for a plan while the worker holds it in a batch: she waits, nothing is lost."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from patients.models import Clinic
    from schedules import jobs, services
    from schedules.models import ScheduledFill

    clinic = Clinic.objects.get(name=CLINIC)
    nurse = get_user_model().objects.get(username="probe-nurse")
    original = services.recompute_locked
    inside = threading.Event()
    batch: list = []

    def slow(plans, **kwargs):
        result = original(plans, **kwargs)
        if not batch:
            batch.extend(plans)
            inside.set()
            time.sleep(0.5)  # still inside the batch's transaction, its plans locked
        return result

    services.recompute_locked = slow
    jobs.CLAIM_BATCH = 5
    recorded = {}

    def nurse_records():
        try:
            inside.wait(60)
            plan = batch[0]
            started = time.monotonic()
            fill, _ = services.fill_record(plan=plan, date=clinic.today(), infusate="fudr", by=nurse)
            recorded.update(plan=plan.pk, date=fill.date, waited=time.monotonic() - started)
        finally:
            connection.close()

    def worker():
        try:
            while jobs.recompute_stale_plans(limit=1000):
                pass
        finally:
            connection.close()

    threads = [threading.Thread(target=worker), threading.Thread(target=nurse_records)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    services.recompute_locked = original
    stored = ScheduledFill.objects.filter(plan_id=recorded["plan"], date=recorded["date"], recorded=True, active=True)
    return {"kept": stored.exists(), "waited": recorded["waited"]}


def work(log: str | None, hang_after: int | None) -> dict:
    from django.db import connection

    from schedules import jobs, services

    original = services.recompute_locked
    batches = 0

    def logged(plans, **kwargs):
        nonlocal batches
        if hang_after is not None and batches >= hang_after:
            print(json.dumps({"hanging": [p.pk for p in plans]}), flush=True)
            time.sleep(600)  # killed here, inside the batch's transaction
        result = original(plans, **kwargs)
        if log:
            with open(log, "a") as out:
                out.write("".join(f"{p.pk}\n" for p in plans))
        batches += 1
        return result

    services.recompute_locked = logged
    jobs.CLAIM_BATCH = 5  # small batches: a crash leaves some done, some not
    total = 0
    while done := jobs.recompute_stale_plans(limit=1000):
        total += done
        print(json.dumps({"done": total}), flush=True)
    connection.close()
    return {"recomputed": total}


def status() -> dict:
    from django.conf import settings

    from patients.models import Clinic
    from schedules import engine, jobs, services
    from schedules.models import ScheduledFill, TherapyPlan

    clinic = Clinic.objects.get(name=CLINIC)
    calendar = services.clinic_calendar(clinic, clinic.closures.values_list("date", flat=True))
    mismatched = 0
    plans = TherapyPlan.objects.filter(patient__clinic=clinic).select_related("patient", "protocol")
    for plan in plans.prefetch_related("recorded_fills", "holds"):
        expected = [
            (f.sequence, f.date)
            for f in engine.project(
                services.engine_plan(plan), calendar, today=clinic.today(),
                recorded=services.engine_recorded(plan.recorded_fills.all()),
                holds=frozenset(h.key for h in plan.holds.all()), horizon_days=settings.SCHEDULE_HORIZON_DAYS,
            )
        ]
        stored = list(
            ScheduledFill.objects.filter(plan=plan, active=True).order_by("sequence").values_list("sequence", "date")
        )
        mismatched += stored != expected
    return {
        "stale": jobs.stale_plans().filter(patient__clinic=clinic).count(),
        "plans": plans.count(),
        "mismatched": mismatched,
        "closures": clinic.closures.count(),
    }


def concurrent(count: int) -> dict:
    """`count` nurses record a fill and `count` add a closure day, all at the same moment (threads)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from patients.models import Clinic
    from schedules import services
    from schedules.models import RecordedFill, TherapyPlan

    clinic = Clinic.objects.get(name=CLINIC)
    nurse = get_user_model().objects.get(username="probe-nurse")
    plans = list(TherapyPlan.objects.filter(patient__clinic=clinic).order_by("pk")[:count])
    today = clinic.today()
    errors: list[str] = []
    barrier = threading.Barrier(2 * count)

    def record(plan):
        try:
            barrier.wait()
            services.fill_record(plan=plan, date=today, infusate="fudr", by=nurse)
        except Exception as error:  # every failure is the finding: counted, not raised
            errors.append(f"fill: {error!r}")
        finally:
            connection.close()

    def close_day(index):
        try:
            barrier.wait()
            services.closures_add(clinic=clinic, days={today + dt.timedelta(days=30 + index): "Probe"}, by=nurse)
        except Exception as error:
            errors.append(f"closure: {error!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=record, args=(plan,)) for plan in plans]
    threads += [threading.Thread(target=close_day, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "errors": errors,
        "fills": RecordedFill.objects.filter(plan__in=plans, date=today).count(),
        "closures": clinic.closures.count(),
    }


def web() -> dict:
    """A patient who can sign in, and a calendar link of theirs: what the two-instance test uses over HTTP."""
    from django.contrib.auth import get_user_model

    from feeds import subscriptions
    from patients.models import Patient

    patient = Patient.objects.filter(clinic__name=CLINIC).order_by("pk").first()
    password = "probe-password-" + "z" * 12
    patient.user = get_user_model().objects.create_user("probe-patient", password=password)
    patient.save(update_fields=["user"])
    _, token = subscriptions.subscription_create(patient=patient, name="Phone", detail="discreet", by=patient.user)
    return {"username": "probe-patient", "password": password, "feed": token, "name": patient.name}


def main(argv: list[str]) -> None:
    django_setup()
    command, *args = argv
    if command == "setup":
        result = setup(int(args[0]))
    elif command == "outdate":
        result = outdate()
    elif command == "work":
        log = args[args.index("--log") + 1] if "--log" in args else None
        hang = int(args[args.index("--hang-after") + 1]) if "--hang-after" in args else None
        result = work(log, hang)
    elif command == "status":
        result = status()
    elif command == "web":
        result = web()
    elif command == "during":
        result = during()
    elif command == "concurrent":
        result = concurrent(int(args[0]))
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
