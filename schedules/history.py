"""Every change to one patient's record, across the therapy's models, for the history page and the export."""

from django.utils.translation import gettext as _

from patients.audit import Change, changes_of, name_references
from patients.models import CaregiverAccess, Patient
from schedules.models import CalendarSubscription, Hold, RecordedFill, TherapyPlan

# A fill or hold belongs to a plan: the nurse knows the plan by its protocol ("Standard FUDR"), not its number.
DESCRIBE = {TherapyPlan: (("protocol",), lambda plan: plan.protocol.name)}


def patient_changes(patient: Patient) -> list[Change]:
    """Every change to the patient's record, newest first (a constant number of queries)."""
    plan_ids = list(TherapyPlan.history.filter(patient_id=patient.pk).values_list("id", flat=True).distinct())
    changes = [
        *changes_of(Patient.history.filter(id=patient.pk), _("Patient details")),
        *changes_of(TherapyPlan.history.filter(patient_id=patient.pk), _("Therapy plan")),
        *changes_of(RecordedFill.history.filter(plan_id__in=plan_ids), _("Recorded fill")),
        *changes_of(Hold.history.filter(plan_id__in=plan_ids), _("Hold")),
        *changes_of(CaregiverAccess.history.filter(patient_id=patient.pk), _("Caregiver access")),
        *changes_of(CalendarSubscription.history.filter(patient_id=patient.pk), _("Calendar link")),
    ]
    return name_references(sorted(changes, key=lambda c: c.at, reverse=True), DESCRIBE)
