"""A patient's history for clinic staff: every change and every look, read-only."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from patients import access, audit
from schedules.history import patient_changes


@require_GET
@access.staff_required
def patient_history(request, public_id):
    patient = access.get_patient(request, public_id, edit=True)
    context = {
        "patient": patient,
        "changes": patient_changes(patient),
        "events": audit.patient_access_events(patient),
    }
    return render(request, "clinic/history.html", context)
