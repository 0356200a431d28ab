"""Who follows a patient, for notices: the patient and each caregiver with an active grant, with their choices."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from notices.models import PATIENT_KEY, Preference, caregiver_key
from patients.models import CaregiverAccess, Patient


@dataclass(frozen=True)
class Follower:
    patient: Patient
    key: str
    caregiver: object | None  # the caregiver's user; None for the patient
    email: str  # empty: nobody to email (staff must call)
    preference: Preference  # unsaved defaults when the follower never chose
    detailed: bool  # the wording they get: caregivers see details only when the patient allows it

    @property
    def is_patient(self) -> bool:
        return self.key == PATIENT_KEY

    def wants(self, kind: str) -> bool:
        return bool(self.email) and self.preference.wants(kind)


def patient_email(patient: Patient) -> str:
    """The patient's contact email, else their sign-in's address."""
    return patient.email or (patient.user.email if patient.user_id and patient.user else "")


def followers_of(patients: Iterable[Patient]) -> dict[int, list[Follower]]:
    """Each patient's followers, patient first, in three queries whatever the number of patients."""
    patients = list(patients)
    ids = [p.pk for p in patients]
    prefs = {(p.patient_id, p.recipient_key): p for p in Preference.objects.filter(patient_id__in=ids)}
    grants = defaultdict(list)
    for grant in CaregiverAccess.objects.active().filter(patient_id__in=ids).select_related("user").order_by("pk"):
        if grant.user.is_active:
            grants[grant.patient_id].append(grant.user)
    result: dict[int, list[Follower]] = {}
    for patient in patients:
        own = prefs.get((patient.pk, PATIENT_KEY)) or Preference(patient=patient, recipient_key=PATIENT_KEY)
        followers = [
            Follower(patient, PATIENT_KEY, None, patient_email(patient), own, own.wording == "detailed")
        ]
        for user in grants[patient.pk]:
            key = caregiver_key(user.pk)
            pref = prefs.get((patient.pk, key)) or Preference(patient=patient, recipient_key=key, caregiver=user)
            detailed = pref.wording == "detailed" and own.caregivers_may_see_details
            followers.append(Follower(patient, key, user, user.email, pref, detailed))
        result[patient.pk] = followers
    return result


def follower(patient: Patient, key: str) -> Follower | None:
    """One follower of a patient by key, or None when they no longer follow (grant revoked)."""
    return next((f for f in followers_of([patient])[patient.pk] if f.key == key), None)
