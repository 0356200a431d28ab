"""patients.access: who may see and change which patient."""

import pytest
from django.http import Http404
from django.test import RequestFactory
from django.utils import timezone

from patients import access


def req(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def test_staff_see_and_change_only_their_clinics_patients(staff_a, patient_a, patient_b):
    assert list(access.visible_patients(staff_a)) == [patient_a]
    assert list(access.editable_patients(staff_a)) == [patient_a]
    assert access.get_patient(req(staff_a), patient_a.public_id, edit=True) == patient_a
    with pytest.raises(Http404):
        access.get_patient(req(staff_a), patient_b.public_id)


def test_patient_sees_only_themself_and_changes_nothing(patient_a, patient_b):
    user = patient_a.user
    assert list(access.visible_patients(user)) == [patient_a]
    assert list(access.editable_patients(user)) == []
    with pytest.raises(Http404):
        access.get_patient(req(user), patient_a.public_id, edit=True)
    with pytest.raises(Http404):
        access.get_patient(req(user), patient_b.public_id)


def test_caregiver_follows_granted_patient_until_revoked(caregiver_a, patient_a):
    assert list(access.followed_patients(caregiver_a)) == [patient_a]
    assert access.get_patient(req(caregiver_a), patient_a.public_id) == patient_a
    grant = caregiver_a.caregiver_grants.get()
    grant.revoked_at = timezone.now()
    grant.save()
    assert list(access.visible_patients(caregiver_a)) == []
    with pytest.raises(Http404):
        access.get_patient(req(caregiver_a), patient_a.public_id)


def test_revoked_caregiver_and_outsider_see_nobody(revoked_caregiver, outsider, patient_a):
    for user in (revoked_caregiver, outsider):
        assert list(access.visible_patients(user)) == []
        with pytest.raises(Http404):
            access.get_patient(req(user), patient_a.public_id)


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "", "1", None])
def test_malformed_patient_ids_are_404_not_500(staff_a, bad_id):
    with pytest.raises(Http404):
        access.get_patient(req(staff_a), bad_id)


def test_staff_reach_only_their_own_clinic(staff_a, clinic_a, clinic_b):
    assert access.get_clinic(req(staff_a), clinic_a.pk) == clinic_a
    with pytest.raises(Http404):
        access.get_clinic(req(staff_a), clinic_b.pk)
    with pytest.raises(Http404):
        access.get_clinic(req(staff_a), "x")
