"""patients.access: who may see and change which patient."""

import pytest
from django.http import Http404
from django.test import RequestFactory
from django.utils import timezone

from patients import access

# One answer for a patient that does not exist and one that is not yours: the two cannot be told apart.
NO_PATIENT = r"^No such patient\.$"
NO_CLINIC = r"^No such clinic\.$"


def req(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def test_staff_see_and_change_only_their_clinics_patients(staff_a, patient_a, patient_b):
    assert list(access.visible_patients(staff_a)) == [patient_a]
    assert list(access.editable_patients(staff_a)) == [patient_a]
    assert access.get_patient(req(staff_a), patient_a.public_id, edit=True) == patient_a
    with pytest.raises(Http404, match=NO_PATIENT):
        access.get_patient(req(staff_a), patient_b.public_id)


def test_patient_sees_only_themself_and_changes_nothing(patient_a, patient_b):
    user = patient_a.user
    assert list(access.visible_patients(user)) == [patient_a]
    assert list(access.editable_patients(user)) == []
    with pytest.raises(Http404, match=NO_PATIENT):
        access.get_patient(req(user), patient_a.public_id, edit=True)
    with pytest.raises(Http404, match=NO_PATIENT):
        access.get_patient(req(user), patient_b.public_id)


def test_caregiver_follows_granted_patient_until_revoked(caregiver_a, patient_a):
    assert list(access.followed_patients(caregiver_a)) == [patient_a]
    assert access.get_patient(req(caregiver_a), patient_a.public_id) == patient_a
    grant = caregiver_a.caregiver_grants.get()
    grant.revoked_at = timezone.now()
    grant.save()
    assert list(access.visible_patients(caregiver_a)) == []
    with pytest.raises(Http404, match=NO_PATIENT):
        access.get_patient(req(caregiver_a), patient_a.public_id)


def test_revoked_caregiver_and_outsider_see_nobody(revoked_caregiver, outsider, patient_a):
    for user in (revoked_caregiver, outsider):
        assert list(access.visible_patients(user)) == []
        with pytest.raises(Http404, match=NO_PATIENT):
            access.get_patient(req(user), patient_a.public_id)


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "", "1", None])
def test_malformed_patient_ids_are_404_not_500(staff_a, bad_id):
    with pytest.raises(Http404, match=NO_PATIENT):
        access.get_patient(req(staff_a), bad_id)


def test_staff_reach_only_their_own_clinic(staff_a, clinic_a, clinic_b):
    assert access.get_clinic(req(staff_a), clinic_a.pk) == clinic_a
    with pytest.raises(Http404, match=NO_CLINIC):
        access.get_clinic(req(staff_a), clinic_b.pk)
    with pytest.raises(Http404, match=NO_CLINIC):
        access.get_clinic(req(staff_a), "x")


def test_followed_patients_are_only_ones_own_record_and_live_grants(
    clinic_a, patient_a, patient_b, caregiver_a, revoked_caregiver, outsider
):
    from tests.conftest import TODAY, make_patient, make_user

    # A patient without a sign-in, and one whose other caregiver's grant is live: neither is followed by others.
    make_patient(clinic_a, "Nora No-Login", "A-300", surgery=TODAY)
    granted_elsewhere = make_patient(clinic_a, "Gus Granted", "A-301", surgery=TODAY)
    granted_elsewhere.caregiver_grants.create(user=make_user("someone_else"))
    assert list(access.followed_patients(patient_a.user)) == [patient_a]
    assert list(access.followed_patients(caregiver_a)) == [patient_a]
    assert list(access.followed_patients(revoked_caregiver)) == []
    assert list(access.followed_patients(outsider)) == []


def test_clinic_people_are_the_staff_patients_and_caregivers_of_ones_own_clinics(
    staff_a, staff_b, patient_a, patient_b, caregiver_a, outsider
):
    names = {user.get_username() for user in access.clinic_people(staff_a)}
    assert names == {"staff_a", "patient_a", "caregiver_a"}
    assert {user.get_username() for user in access.clinic_people(outsider)} == set()


def test_a_deactivated_account_reaches_no_patient(staff_a, patient_a, caregiver_a):
    # Notices and commands hand access a user object, not a signed-in request: is_active is checked here too.
    for user in (staff_a, patient_a.user, caregiver_a):
        user.is_active = False
        user.save()
        assert list(access.visible_patients(user)) == []
        assert list(access.editable_patients(user)) == []
        assert list(access.followed_patients(user)) == []
