"""Helpers shared by the clinic staff tests (tests/test_staff_*.py)."""

import datetime as dt

import pytest

from schedules.models import FillKind, ScheduledFill
from tests.conftest import TODAY, make_patient, make_user


def planned(patient) -> list[ScheduledFill]:
    return list(
        ScheduledFill.objects.filter(plan__patient=patient, active=True, recorded=False)
        .exclude(kind=FillKind.IMPLANT)
        .order_by("sequence")
    )


def make_patients(clinic, count: int, *, prefix: str = "P") -> list:
    return [
        # Surgery 10 to 19 days ago: every first chemo fill is overdue, due today or due this week.
        make_patient(
            clinic, f"Patient {prefix}{i:03}", f"{prefix}-{i:03}", surgery=TODAY - dt.timedelta(days=10 + i % 10)
        )
        for i in range(count)
    ]


@pytest.fixture
def caregiver_user(caregiver_a):
    return caregiver_a


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def assert_not_found_for_others(client_for, url: str, *, users, method: str = "get", data=None) -> None:
    """Everyone but the patient's own clinic staff gets 404 (other people's things cannot be told apart)."""
    for user in users:
        response = getattr(client_for(user), method)(url, data or {})
        assert response.status_code == 404, (user, response.status_code)


__all__ = ["assert_not_found_for_others", "make_patients", "make_user", "messages_of", "planned"]
