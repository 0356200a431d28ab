"""A patient's history for clinic staff: every change and every look, read-only, in words, a page at a time."""

from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from patients import access, audit
from patients.models import AccessEvent
from schedules.history import patient_changes

PER_PAGE = 25

# The pages an access event names by their URL name, in words a nurse reads ("Viewed the hold form").
PAGE_WORDS = {
    "staff:patient": _("the patient page"),
    "staff:patient_edit": _("the edit patient form"),
    "staff:fill_record": _("the record fill form"),
    "staff:fill_correct": _("the fill correction form"),
    "staff:hold_add": _("the hold form"),
    "staff:hold_remove": _("the remove hold form"),
    "staff:therapy_end": _("the end therapy form"),
    "staff:therapy_reopen": _("the reopen therapy form"),
    "staff:patient_login_create": _("the patient sign-in form"),
    "staff:patient_login_revoke": _("the remove sign-in form"),
    "staff:caregiver_grant": _("the caregiver access form"),
    "staff:caregiver_revoke": _("the revoke caregiver form"),
    "patient_history": _("this history"),
    "home": _("the next refill page"),
    "portal:patient_home": _("the next refill page"),
    "portal:therapy": _("the whole therapy page"),
    "portal:calendar_now": _("the calendar"),
    "portal:calendar_month": _("the calendar"),
    "portal:print": _("the printable schedule"),
    "feeds:subscriptions": _("the calendar links"),
    "feeds:subscribe": _("a calendar link"),
    "feeds:rename": _("the rename calendar link form"),
    "feeds:rotate": _("the new calendar link form"),
    "feeds:revoke": _("the stop calendar link form"),
    "feeds:download": _("the calendar file download"),
    "export_patient": _("the full record"),
}


def event_words(event: AccessEvent) -> str:
    if event.action == AccessEvent.Action.VIEW:
        if event.detail.startswith("admin:"):
            return gettext("Viewed the record in the administration site")
        return gettext("Viewed %(page)s") % {"page": PAGE_WORDS.get(event.detail, _("a page"))}
    if event.action == AccessEvent.Action.FEED:
        # The detail is "name (public id)": the name is what the patient called the link.
        name = event.detail.rsplit(" (", 1)[0]
        if name:
            words = gettext("A calendar app fetched the calendar link “%(name)s”") % {"name": name}
        else:
            words = gettext("A calendar app fetched a link")
        # Fetches are one row per link per day; the time shown is the last of them.
        if event.count > 1:
            said = gettext("%(words)s, %(count)d times that day (the last shown)")
            return said % {"words": words, "count": event.count}
        return words
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
            (event, audit.person_name(event.user) if event.user else gettext("a calendar app"), event_words(event))
            for event in events
        ],
        "events_page": events,
    }
    return render(request, "clinic/history.html", context)
