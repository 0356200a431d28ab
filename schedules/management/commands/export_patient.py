"""One patient's full record as JSON: their right of access. The export itself is audited."""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.forms.models import model_to_dict

from patients import audit
from patients.models import AccessEvent, Patient
from schedules.history import patient_changes
from schedules.models import ScheduledFill


def patient_record(patient: Patient) -> dict:
    plan = getattr(patient, "plan", None)

    def rows(qs, exclude=()):
        return [model_to_dict(obj, exclude=["id", "plan", *exclude]) for obj in qs]

    return {
        "patient": {
            "public_id": str(patient.public_id),
            **model_to_dict(patient, exclude=["id", "clinic", "user"]),
            "clinic": {"name": patient.clinic.name, "phone": patient.clinic.phone},
            "login": patient.user.get_username() if patient.user else None,
        },
        "therapy_plan": (
            {**model_to_dict(plan, exclude=["id", "patient", "protocol"]), "protocol": plan.protocol.name}
            if plan
            else None
        ),
        "recorded_fills": rows(plan.recorded_fills.order_by("date"), exclude=["recorded_by"]) if plan else [],
        "holds": rows(plan.holds.order_by("cycle", "attempt"), exclude=["created_by"]) if plan else [],
        "schedule": rows(ScheduledFill.objects.filter(plan=plan, active=True), exclude=["clinic"]) if plan else [],
        "caregivers": [
            {"user": grant.user.get_username(), "granted_at": grant.granted_at, "revoked_at": grant.revoked_at}
            for grant in patient.caregiver_grants.select_related("user")
        ],
        "changes": [
            {"at": c.at, "by": c.who, "what": f"{c.what} {c.kind}", "fields": [list(f) for f in c.fields]}
            for c in patient_changes(patient)
        ],
        "access_log": [
            {"at": e.at, "by": e.user.get_username() if e.user else None, "action": e.action, "detail": e.detail}
            for e in audit.patient_access_events(patient, limit=10_000)
        ],
    }


class Command(BaseCommand):
    help = "Print one patient's full record (details, plan, fills, holds, schedule, access, history) as JSON."

    def add_arguments(self, parser):
        parser.add_argument("public_id", help="The patient's public id (shown on the staff patient page).")

    def handle(self, *args, public_id, **options):
        try:
            patient = Patient.objects.select_related("clinic", "user").get(public_id=public_id)
        except (Patient.DoesNotExist, ValidationError):
            raise CommandError("No patient with that public id.") from None
        AccessEvent.objects.create(patient=patient, action=AccessEvent.Action.EXPORT, detail="export_patient")
        self.stdout.write(json.dumps(patient_record(patient), cls=DjangoJSONEncoder, indent=2, ensure_ascii=False))
