"""Helpers shared by the clinic staff tests (tests/test_staff_*.py)."""

import datetime as dt

from schedules.models import FillKind, ScheduledFill
from tests.conftest import TODAY, make_patient, page_of


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


def messages_of(response) -> list[str]:
    """The flash messages shown at the top of the page (none on a redirect that was not followed)."""
    return [alert.text() for box in page_of(response).find_all(class_="messages") for alert in box.find_all("div")]
