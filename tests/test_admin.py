"""The Django admin: every model is registered and its pages load; staff see only their own clinic there."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.conftest import make_user


@pytest.fixture
def superuser(db):
    return make_user("root", is_staff=True, is_superuser=True)


def test_every_model_page_loads_for_an_administrator(superuser, patient_a, patient_b, caregiver_a, client_for):
    client = client_for(superuser)
    for model in admin.site._registry:
        meta = model._meta
        changelist = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        assert changelist.status_code == 200, meta.label
        obj = model.objects.first()
        if obj is not None:
            change = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk]))
            assert change.status_code == 200, meta.label


def test_admin_users_need_the_second_factor_too(superuser, client):
    client.force_login(superuser)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response.url.startswith(reverse("two_factor_verify"))


def test_clinic_staff_in_the_admin_see_only_their_clinic(clinic_a, staff_a, patient_a, patient_b, client_for):
    from django.contrib.auth.models import Permission

    staff_a.is_staff = True
    staff_a.save()
    staff_a.user_permissions.add(Permission.objects.get(codename="view_patient"))
    page = client_for(staff_a).get(reverse("admin:patients_patient_changelist"))
    assert page.status_code == 200
    assert patient_a.name in page.content.decode() and patient_b.name not in page.content.decode()
