"""Load the demo clinic (idempotent) and print the demo accounts: what `make run` calls."""

import datetime as dt
from decimal import Decimal

import holidays
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from patients import search, two_factor
from patients.models import CaregiverAccess, Clinic, Patient, StaffMembership
from schedules import engine, services
from schedules.models import ClinicClosure, FillKind, Protocol, ScheduledFill, TherapyPlan

CLINIC_NAME = "Riverside Cancer Center (demo)"
ACCOUNTS = {
    "nurse": ("nurse", "demo-nurse-pumpcare", "Nora", "Nurse"),
    "patient": ("patient", "demo-patient-pumpcare", "Maria", "Lopez"),
    "caregiver": ("caregiver", "demo-caregiver-pumpcare", "Daniel", "Lopez"),
}


class Command(BaseCommand):
    help = "Create the demo clinic, its patients at every stage of therapy, and the demo accounts."

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-production", action="store_true",
            help="Load the demo even with DEBUG off (its accounts have published passwords).",
        )

    def handle(self, *args, allow_production=False, **options):
        if not settings.DEBUG and not allow_production:
            raise CommandError(
                "The demo creates a staff account whose password is published: it runs only with DEBUG on "
                "(make run), or with --allow-production if this site is really a demo."
            )
        if Clinic.objects.filter(name=CLINIC_NAME).exists():
            self.stdout.write("Demo clinic already loaded; nothing changed.")
        else:
            with transaction.atomic():
                self.load()
            self.stdout.write(self.style.SUCCESS("Demo clinic loaded."))
        self.print_accounts()

    def print_accounts(self):
        self.stdout.write("\nDemo accounts (for this demo only):")
        for role, (username, password, *_names) in ACCOUNTS.items():
            self.stdout.write(f"  {role:<10} username: {username:<10} password: {password}")
        nurse = get_user_model().objects.get(username=ACCOUNTS["nurse"][0])
        device = TOTPDevice.objects.get(user=nurse, confirmed=True)
        codes = StaticToken.objects.filter(device__user=nurse).values_list("token", flat=True)
        self.stdout.write(
            "\nClinic staff confirm each sign-in with a second factor. For the demo nurse, add this key to an\n"
            f"authenticator app: {two_factor.totp_secret(device)}\n"
            f"or use one of these one-time backup codes: {' '.join(sorted(codes))}"
        )

    def user(self, role):
        username, password, first, last = ACCOUNTS[role]
        user = get_user_model().objects.create_user(
            username, email=f"{username}@demo.pumpcare.example", password=password, first_name=first, last_name=last
        )
        return user

    def load(self):
        clinic = Clinic.objects.create(
            name=CLINIC_NAME, time_zone="America/New_York", phone="+1 555 010 0199", open_weekdays="01234",
            address="200 Lakeside Avenue, Springfield",
        )
        today = clinic.today()
        us_holidays = holidays.US(years=range(today.year - 1, today.year + 3))
        ClinicClosure.objects.bulk_create(
            ClinicClosure(clinic=clinic, date=day, name=name) for day, name in sorted(us_holidays.items())
        )
        protocol = Protocol.objects.create(
            clinic=clinic, name="Standard HAI: 6 cycles", cycle_steps=Protocol.default_steps(), cycle_count=6
        )
        Protocol.objects.create(
            clinic=clinic,
            name="FUDR 2 weeks, saline 4 weeks",
            cycle_steps=[{"infusate": "fudr_dex", "days": 14}, {"infusate": "heparinized_saline", "days": 28}],
            cycle_count=4,
            maintenance_infusate="glycerin",
            maintenance_days=28,
        )
        clinic.default_protocol = protocol
        clinic.save()
        nurse = self.user("nurse")
        StaffMembership.objects.create(user=nurse, clinic=clinic)
        TOTPDevice.objects.create(user=nurse, name="Authenticator app", confirmed=True)
        two_factor.create_backup_codes(nurse)

        days = dt.timedelta
        stages = [
            # name, record, surgery, what happens
            ("Maria Lopez", "RCC-1001", today - days(75), {}),
            ("Alan Brooks", "RCC-1002", today + days(7), {}),
            ("Grace Chen", "RCC-1003", today - days(13), {}),
            ("Samuel Okafor", "RCC-1004", today - days(100), {"held_at": 4}),
            ("Linda Park", "RCC-1005", today - days(60), {"planned_hold": True}),
            ("Robert Haines", "RCC-1006", today - days(89), {"stop_before": 17}),
            ("Evelyn Sato", "RCC-1007", today - days(230), {}),
            ("Thomas Weller", "RCC-1008", today - days(180), {"ended": "completed"}),
            ("Priya Nair", "RCC-1009", today - days(120), {"open_ended": True}),
            ("George Miller", "RCC-1010", today - days(40), {"late": 2}),
            ("Helen Ward", "RCC-1011", today - days(30), {"reservoir": 12}),
            ("Frank Russo", "RCC-1012", today - days(50), {"fast_flow": True}),
            ("Ruth Alvarez", "RCC-1013", today - days(400), {"stop_before": 3, "ended": "pump_removed"}),
        ]
        for index, (name, record, surgery, story) in enumerate(stages):
            patient = Patient.objects.create(
                clinic=clinic,
                name=name,
                record_number=record,
                search_text=search.patient_text(name, record),
                date_of_birth=dt.date(1950 + index * 2, 1 + index % 12, 10 + index),
                email=f"{record.lower()}@demo.pumpcare.example",
                pump_model="Intera 3000",
                pump_reservoir_ml=story.get("reservoir", 30),
            )
            plan = TherapyPlan(
                patient=patient, surgery_date=surgery, protocol=protocol, open_ended=story.get("open_ended", False)
            )
            services.plan_save(plan=plan)
            self.record_history(plan, nurse, today, story)
            if story.get("planned_hold"):
                next_chemo = (
                    ScheduledFill.objects.filter(plan=plan, recorded=False, active=True, kind=FillKind.CHEMO)
                    .order_by("sequence")
                    .first()
                )
                if next_chemo:
                    services.hold_add(plan=plan, sequence=next_chemo.sequence, reason="ALP rising: hold", by=nurse)
            if story.get("ended"):
                services.therapy_end(plan=plan, end_date=today - days(3), reason=story["ended"])
            if index == 0:
                patient.user = self.user("patient")
                patient.save()
                CaregiverAccess.objects.create(patient=patient, user=self.user("caregiver"), granted_by=nurse)

    def record_history(self, plan, nurse, today, story):
        """Record every fill planned before today (or before story['stop_before'] days ago) as given."""
        cutoff = today - dt.timedelta(days=story.get("stop_before", 0))
        given = 0
        previous_date = None
        flow = 1.4 if story.get("fast_flow") else 1.0
        reservoir = plan.patient.pump_reservoir_ml
        while True:
            row = (
                ScheduledFill.objects.filter(plan=plan, recorded=False, active=True, date__lt=cutoff)
                .order_by("sequence")
                .first()
            )
            if row is None:
                return
            given += 1
            date = row.date
            infusate = row.infusate
            if story.get("held_at") == given and engine.Infusate(infusate).is_chemo:
                infusate = "heparinized_saline"
            if story.get("late") and given == 2:
                date += dt.timedelta(days=story["late"])
            returned = None
            if previous_date is not None:
                used = Decimal(f"{(date - previous_date).days * flow:.1f}")
                returned = max(reservoir - used, Decimal(0))
            services.fill_record(
                plan=plan, date=date, infusate=infusate, by=nurse, volume_in_ml=reservoir, volume_returned_ml=returned
            )
            previous_date = date
