"""One patient's full record as JSON: their right of access. The export itself is audited, with who ran it.

The access log grows without bound, so the JSON is written as it is read (a database cursor), never built
whole in memory: nothing is left out.
"""

import json
from collections.abc import Iterator

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.forms.models import model_to_dict

from patients.models import AccessEvent, Patient
from schedules.history import patient_changes
from schedules.models import CalendarSubscription, ScheduledFill


def patient_record(patient: Patient) -> dict:
    """Everything but the access log: bounded by one therapy's length."""
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
        # The links that work now: named, never their secret.
        "calendar_links": list(
            CalendarSubscription.objects.filter(patient=patient, revoked_at__isnull=True).values(
                "name", "detail", "created_at", "last_fetched_at"
            )
        ),
        "changes": [
            {"at": c.at, "by": c.who, "what": f"{c.what} {c.kind}", "fields": [list(f) for f in c.fields]}
            for c in patient_changes(patient)
        ],
    }


def access_log(patient: Patient) -> Iterator[dict]:
    events = AccessEvent.objects.filter(patient=patient).order_by("at", "pk").values_list(
        "at", "user__username", "action", "detail"
    )
    for at, username, action, detail in events.iterator(chunk_size=2000):
        yield {"at": at, "by": username, "action": action, "detail": detail}


def record_chunks(patient: Patient) -> Iterator[str]:
    """The record as JSON text, piece by piece."""

    def dumps(value) -> str:
        return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)

    yield "{\n"
    for key, value in patient_record(patient).items():
        yield f"{dumps(key)}: {dumps(value)},\n"
    yield f"{dumps('access_log')}: ["
    for n, event in enumerate(access_log(patient)):
        yield ("," if n else "") + "\n" + dumps(event)
    yield "\n]}\n"


class Command(BaseCommand):
    help = "Print one patient's full record (details, plan, fills, holds, schedule, calendar links, access, history)."

    def add_arguments(self, parser):
        parser.add_argument("public_id", help="The patient's public id (shown on the staff patient page).")
        parser.add_argument(
            "--operator", default="", help="Who runs the export (a username, or a name): kept in the access log."
        )

    def handle(self, *args, public_id, operator, **options):
        operator = operator.strip()
        if not operator:
            raise CommandError("Say who runs this export with --operator (your username or name): it is logged.")
        try:
            patient = Patient.objects.select_related("clinic", "user").get(public_id=public_id)
        except (Patient.DoesNotExist, ValidationError):
            raise CommandError("No patient with that public id.") from None
        AccessEvent.objects.create(
            patient=patient,
            user=get_user_model().objects.filter(username=operator).first(),
            action=AccessEvent.Action.EXPORT,
            detail=f"export_patient by {operator}"[:100],
        )
        for chunk in record_chunks(patient):
            self.stdout.write(chunk, ending="")
