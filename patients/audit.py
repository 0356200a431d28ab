"""The audit trail: who looked at a patient's record, and every change to it, read back for staff.

Changes are kept by django-simple-history on each model; views and feed fetches are AccessEvents.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import F, Model, QuerySet, Value
from django.db.models.functions import Greatest
from django.utils import dateformat, timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from patients.models import AccessEvent, Patient

# Fields that are bookkeeping, not the record: left out of "what changed".
UNTRACKED = {"id", "history_id", "history_date", "history_change_reason", "history_type", "history_user",
             "history_user_id", "created_at", "recorded_at", "granted_at",
             # A hash of a secret link: its change shows as "changed", never its value.
             "token_hash"}


def record_view(request, patient: Patient) -> None:
    """A member of staff or a caregiver opened one of this patient's pages (a patient's own views are not logged)."""
    if patient.user_id == request.user.pk:
        return
    match = getattr(request, "resolver_match", None)
    AccessEvent.objects.create(
        patient=patient, user=request.user, action=AccessEvent.Action.VIEW, detail=match.view_name if match else ""
    )


def record_export(*, patient: Patient, user, detail: str) -> None:
    """Someone downloaded or printed out the patient's whole record: who, named (the patient included)."""
    AccessEvent.objects.create(patient=patient, user=user, action=AccessEvent.Action.EXPORT, detail=detail)


def feed_detail(subscription) -> str:
    """How the log names a calendar link: its name and public id, never its secret link."""
    return f"{subscription.name[:60]} ({subscription.public_id})"


def record_feed_fetches(*, patient_id: int, detail: str, count: int = 1, at: dt.datetime | None = None) -> None:
    """Calendar apps fetched one link `count` times, the last at `at`: one row per link per (UTC) day, counted."""
    at = at or timezone.now()
    day = at.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    updated = AccessEvent.objects.filter(
        patient_id=patient_id, action=AccessEvent.Action.FEED, detail=detail, at__gte=day, at__lt=day + dt.timedelta(1)
    ).update(count=F("count") + count, at=Greatest("at", Value(at)))
    if not updated:
        AccessEvent.objects.create(
            patient_id=patient_id, action=AccessEvent.Action.FEED, detail=detail, count=count, at=at
        )


@dataclass(frozen=True)
class Change:
    at: dt.datetime
    who: str
    what: str  # "Recorded fill", "Therapy plan", ...
    kind: str  # created / changed / deleted
    fields: tuple[tuple[str, str, str], ...]  # (field label, before, after)

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS[self.kind])


@dataclass(frozen=True)
class Ref:
    """A foreign key's value in a change, named in words once every change is read (see name_references)."""

    model: type[Model]
    pk: Any


# How a related object is named on the history page: the model, the relations to fetch with it, and its words.
Describe = dict[type[Model], tuple[tuple[str, ...], Callable[[Any], str]]]


def person_name(user) -> str:
    return user.get_full_name() or user.get_username()


def _display(record, field) -> str | Ref:
    value = getattr(record, field.attname)
    if value is None or value == "":
        return "—"
    if field.many_to_one:
        return Ref(field.related_model, value)
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return dateformat.format(timezone.localtime(value), "D j M Y, H:i")
    if isinstance(value, dt.date):
        return dateformat.format(value, "D j M Y")  # the one date style people read everywhere
    return str(value)


KIND_LABELS = {
    "created": pgettext_lazy("record", "created"),
    "changed": pgettext_lazy("record", "changed"),
    "deleted": pgettext_lazy("record", "deleted"),
}


def changes_of(history_qs, label: str) -> list[Change]:
    """Each historical record against the one before it for the same object: one query per model.

    Foreign keys come back as Refs: pass the changes through name_references before showing them."""
    records = list(history_qs.select_related("history_user").order_by("id", "history_date", "history_id"))
    if not records:
        return []
    fields = [f for f in type(records[0])._meta.concrete_fields if f.name not in UNTRACKED]
    changes = []
    previous_by_object = {}
    for record in records:
        before = previous_by_object.get(record.id)
        if record.history_type == "+" or before is None:
            kind, diff = "created", [(f.verbose_name, "—", _display(record, f)) for f in fields]
        elif record.history_type == "-":
            kind, diff = "deleted", [(f.verbose_name, _display(before, f), "—") for f in fields]
        else:
            kind = "changed"
            diff = [
                (f.verbose_name, _display(before, f), _display(record, f))
                for f in fields
                if getattr(before, f.attname) != getattr(record, f.attname)
            ]
        previous_by_object[record.id] = record
        who = person_name(record.history_user) if record.history_user else str(_("system"))
        changes.append(Change(record.history_date, who, label, kind, tuple(diff)))
    return changes


def name_references(changes: list[Change], describe: Describe | None = None) -> list[Change]:
    """Replace every Ref ("Plan: 1", "Created by: 1") by words: one query per related model, not per change.

    People are named by their full name; other objects by `describe`, else by their own str()."""
    describe = {get_user_model(): ((), person_name), **(describe or {})}
    wanted = defaultdict(set)
    for change in changes:
        for _label, before, after in change.fields:
            for value in (before, after):
                if isinstance(value, Ref):
                    wanted[value.model].add(value.pk)
    names = {}
    for model, pks in wanted.items():
        related, words = describe.get(model, ((), str))
        for obj in model._base_manager.select_related(*related).filter(pk__in=pks):
            names[model, obj.pk] = words(obj)

    def word(value):
        if not isinstance(value, Ref):
            return value
        return names.get((value.model, value.pk)) or _("%(thing)s (no longer there)") % {
            "thing": value.model._meta.verbose_name
        }

    return [
        replace(change, fields=tuple((label, word(before), word(after)) for label, before, after in change.fields))
        for change in changes
    ]


def patient_access_events(patient: Patient, limit: int = 200):
    return list(access_events_of(patient)[:limit])


def access_events_of(patient: Patient) -> QuerySet[AccessEvent]:
    """Every look at the patient's record, newest first: the history page shows it a page at a time."""
    return AccessEvent.objects.filter(patient=patient).select_related("user").order_by("-at", "-id")
