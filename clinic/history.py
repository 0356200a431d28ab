"""A patient's history for clinic staff: every change and every look, read-only, in words, a page at a time."""

from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from patients import access, audit
from patients.models import AccessEvent
from schedules.history import patient_changes

PER_PAGE = 25

# The pages an access event names by their URL name, in words a nurse reads ("Viewed the hold form").
PAGE_WORDS = {
    "staff:patient": "the patient page",
    "staff:patient_edit": "the edit patient form",
    "staff:fill_record": "the record fill form",
    "staff:fill_correct": "the fill correction form",
    "staff:hold_add": "the hold form",
    "staff:hold_remove": "the remove hold form",
    "staff:therapy_end": "the end therapy form",
    "staff:therapy_reopen": "the reopen therapy form",
    "staff:patient_login_create": "the patient sign-in form",
    "staff:patient_login_revoke": "the remove sign-in form",
    "staff:caregiver_grant": "the caregiver access form",
    "staff:caregiver_revoke": "the revoke caregiver form",
    "patient_history": "this history",
    "home": "the next refill page",
    "portal:patient_home": "the next refill page",
    "portal:therapy": "the whole therapy page",
    "portal:calendar_now": "the calendar",
    "portal:calendar_month": "the calendar",
    "portal:print": "the printable schedule",
    "feeds:subscriptions": "the calendar links",
    "feeds:subscribe": "a calendar link",
    "feeds:rename": "the rename calendar link form",
    "feeds:rotate": "the new calendar link form",
    "feeds:revoke": "the stop calendar link form",
    "feeds:download": "the calendar file download",
    "export_patient": "the full record",
}


def event_words(event: AccessEvent) -> str:
    if event.action == AccessEvent.Action.VIEW:
        if event.detail.startswith("admin:"):
            return "Viewed the record in the administration site"
        return f"Viewed {PAGE_WORDS.get(event.detail, 'a page')}"
    if event.action == AccessEvent.Action.FEED:
        # The detail is "name (public id)": the name is what the patient called the link.
        name = event.detail.rsplit(" (", 1)[0]
        words = f"A calendar app fetched the calendar link “{name}”" if name else "A calendar app fetched a link"
        # Fetches are one row per link per day; the time shown is the last of them.
        return f"{words}, {event.count} times that day (the last shown)" if event.count > 1 else words
    return event.get_action_display()


@require_GET
@access.staff_required
def patient_history(request, public_id):
    patient = access.get_patient(request, public_id, edit=True)
    changes = Paginator(patient_changes(patient), PER_PAGE).get_page(request.GET.get("changes"))
    events = Paginator(audit.access_events_of(patient), PER_PAGE).get_page(request.GET.get("views"))
    context = {
        "patient": patient,
        "clinic": patient.clinic,
        "changes": changes,
        "events": [
            (event, audit.person_name(event.user) if event.user else "a calendar app", event_words(event))
            for event in events
        ],
        "events_page": events,
    }
    return render(request, "clinic/history.html", context)
