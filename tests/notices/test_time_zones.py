"""Reminders go out at 09:00 in each clinic's own zone, across its daylight-saving change."""

import datetime as dt

from notices.models import Notice
from tests.conftest import make_clinic, make_patient, make_user
from tests.notices.conftest import walk_to_each_due_time

UTC = dt.UTC


def sent_reminders(patient) -> list[tuple[dt.date, dt.datetime]]:
    return list(
        Notice.objects.filter(patient=patient, kind="reminder", status="sent")
        .order_by("sent_at").values_list("fill_date", "sent_at")
    )


def test_reminders_at_nine_in_los_angeles_and_auckland_across_daylight_saving(db, smtp, time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 1, 0, 0, tzinfo=UTC), tick=False)
    every_day = "0123456"
    la = make_clinic("Los Angeles", time_zone="America/Los_Angeles", open_weekdays=every_day)
    auckland = make_clinic("Auckland", time_zone="Pacific/Auckland", open_weekdays=every_day)
    # First chemo on Saturday 7 March (LA, standard time), the rest refill on 21 March (daylight time since the 8th).
    ana = make_patient(la, "Ana Alvarez", "LA-1", surgery=dt.date(2026, 2, 21), user=make_user("ana"))
    # First chemo on Friday 3 April (NZ daylight time), the rest refill on 17 April (standard time since the 5th).
    tui = make_patient(auckland, "Tui Tane", "NZ-1", surgery=dt.date(2026, 3, 20), user=make_user("tui"))
    walk_to_each_due_time(time_machine, dt.datetime(2026, 4, 17, 0, 0, tzinfo=UTC))

    assert sent_reminders(ana)[:4] == [
        (dt.date(2026, 3, 7), dt.datetime(2026, 3, 5, 17, 0, tzinfo=UTC)),  # 09:00 PST (UTC-8)
        (dt.date(2026, 3, 7), dt.datetime(2026, 3, 6, 17, 0, tzinfo=UTC)),
        (dt.date(2026, 3, 21), dt.datetime(2026, 3, 19, 16, 0, tzinfo=UTC)),  # 09:00 PDT (UTC-7)
        (dt.date(2026, 3, 21), dt.datetime(2026, 3, 20, 16, 0, tzinfo=UTC)),
    ]
    assert sent_reminders(tui)[:4] == [
        (dt.date(2026, 4, 3), dt.datetime(2026, 3, 31, 20, 0, tzinfo=UTC)),  # 09:00 NZDT (UTC+13)
        (dt.date(2026, 4, 3), dt.datetime(2026, 4, 1, 20, 0, tzinfo=UTC)),
        (dt.date(2026, 4, 17), dt.datetime(2026, 4, 14, 21, 0, tzinfo=UTC)),  # 09:00 NZST (UTC+12)
        (dt.date(2026, 4, 17), dt.datetime(2026, 4, 15, 21, 0, tzinfo=UTC)),
    ]
    assert len(smtp.inbox.to("ana@example.com")) == len(sent_reminders(ana)) + Notice.objects.filter(
        patient=ana, status="sent").exclude(kind="reminder").count()
