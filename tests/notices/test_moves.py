"""A month of one clinic, the clock walked through it: a late refill, a hold, a closure and the end of a therapy
each tell the right people the right thing once, and no reminder goes out for a date that no longer holds."""

import datetime as dt

from django.urls import reverse

from schedules import jobs, services
from schedules.models import ScheduledFill
from tests.conftest import make_patient, make_user
from tests.notices.conftest import DRUG_WORDS, settle, walk
from tests.notices.smtp_server import text_part

UTC = dt.UTC


def at(month: int, day: int, hour: int) -> dt.datetime:
    """A time in New York (daylight time from 8 March 2026: UTC-4) as UTC."""
    return dt.datetime(2026, month, day, hour + 4, 0, tzinfo=UTC)


def mails(smtp, address):
    return [(m["Date"], m["Subject"], text_part(m)) for m in smtp.inbox.to(address)]


def test_a_month_of_moves(smtp, carla, clinic_a, staff_a, time_machine, client_for):
    eve = make_patient(clinic_a, "Eve Evans", "E-500", surgery=dt.date(2026, 3, 18), user=make_user("eve"))
    settle(time_machine)
    # Carla's Monday 16 March refill is not recorded: the next morning she and Dan are told it is overdue.
    walk(time_machine, at(3, 17, 10), hours=3)
    overdue = [m for m in mails(smtp, "carla@example.com") if "Overdue" in m[1]]
    assert len(overdue) == 1 and "planned on Monday 16 March has not been recorded" in overdue[0][2]
    assert len([m for m in mails(smtp, "dan@example.com") if "Overdue" in m[1]]) == 1

    # A late refill on Wednesday 18 March moves the next visit from Monday 30 March to Wednesday 1 April.
    time_machine.move_to(at(3, 18, 11), tick=False)
    services.fill_record(plan=carla.plan, date=dt.date(2026, 3, 18), infusate="fudr", by=staff_a)
    walk(time_machine, at(3, 18, 17), hours=1)
    [late] = [m for m in mails(smtp, "carla@example.com") if m[1].startswith("Change")]
    assert ("Your clinic visit moved from Monday 30 March to Wednesday 1 April: the visit before it was on "
            "Wednesday 18 March.") in late[2]
    [dans] = [m for m in mails(smtp, "dan@example.com") if m[1].startswith("Change")]
    assert "Carla's clinic visit moved from Monday 30 March to Wednesday 1 April" in dans[2]
    assert not smtp.inbox.to("eve@example.com")  # Eve's schedule did not change

    # A hold on the chemo of Wednesday 15 April: the visit stays, discreetly worded.
    time_machine.move_to(at(3, 20, 10), tick=False)
    chemo = ScheduledFill.objects.get(plan=carla.plan, date=dt.date(2026, 4, 15))
    services.hold_add(plan=carla.plan, sequence=chemo.sequence, reason="ALP rising", by=staff_a)
    walk(time_machine, at(3, 20, 16), hours=1)
    held = [m for m in mails(smtp, "carla@example.com") if m[1].startswith("Change")][1:]
    assert [h[2].count("stays, but the clinic changed what is planned for it") for h in held] == [1]
    assert "Wednesday 15 April" in held[0][2]
    assert not any(word in held[0][2].lower() for word in DRUG_WORDS)

    # A closure on Wednesday 1 April moves Carla's rest refill to the day before and Eve's first chemo to the day
    # after (S7).
    time_machine.move_to(at(3, 25, 10), tick=False)
    services.closures_add(clinic=clinic_a, days={dt.date(2026, 4, 1): "Inspection"})
    jobs.recompute_stale_plans(limit=1000)  # the worker, seconds after the closure (issue 13)
    staff = client_for(staff_a)
    affected = reverse("notices:affected", args=[clinic_a.pk])
    just_changed = staff.get(affected).content.decode().split("<h2 class=\"h4\">Told</h2>")[0]
    assert "Just changed" in just_changed  # at once, while the notices wait for the schedule to settle
    assert "Eve Evans" in just_changed and "Wed 1 Apr 2026 → Thu 2 Apr 2026" in just_changed
    walk(time_machine, at(3, 25, 16), hours=1)
    closure = "moved from Wednesday 1 April to Tuesday 31 March: the clinic is closed that day."
    assert closure in mails(smtp, "carla@example.com")[-1][2]
    assert closure in mails(smtp, "dan@example.com")[-1][2]
    assert ("Your clinic visit moved from Wednesday 1 April to Thursday 2 April: the clinic is closed that day."
            in mails(smtp, "eve@example.com")[-1][2])
    assert all("Carla" not in m[2] for m in mails(smtp, "eve@example.com"))
    # Staff see whom the closure moved, and that each was emailed.
    page = client_for(staff_a).get(affected).content.decode()  # a new sign-in: staff sessions idle out
    assert "Just changed" not in page
    eves_row = page[page.index(eve.name):].split("</tr>")[0]
    assert "Wed 1 Apr 2026 → Thu 2 Apr 2026" in eves_row and "eve@example.com" in eves_row
    assert "Emailed 1" in eves_row

    # Reminders for the new date only; recorded on the day.
    walk(time_machine, at(3, 31, 10), hours=3)
    reminders = [m[1] for m in mails(smtp, "carla@example.com") if m[1].startswith("Reminder")]
    assert reminders[-2:] == ["Reminder: clinic visit on Tuesday 31 March",
                              "Reminder: clinic visit tomorrow, Tuesday 31 March"]
    assert not any("30 March" in r or "1 April" in r for r in reminders)
    services.fill_record(plan=carla.plan, date=dt.date(2026, 3, 31), infusate="heparinized_saline", by=staff_a)

    # The therapy is over on 5 April (the pump removed): the held visit (14 April since the closure) and the next
    # are cancelled, and their reminders never go out.
    time_machine.move_to(at(4, 5, 10), tick=False)
    services.therapy_end(plan=carla.plan, end_date=dt.date(2026, 4, 5), reason="pump_removed")
    walk(time_machine, at(4, 20, 10), hours=3)
    end = mails(smtp, "carla@example.com")[-1]
    assert end[1] == "Change to upcoming clinic visits"
    assert "Your clinic visit on Tuesday 14 April is cancelled: the treatment has ended." in end[2]
    assert "Your clinic visit on Tuesday 28 April is cancelled: the treatment has ended." in end[2]
    assert not [m for m in mails(smtp, "carla@example.com") if "April" in m[1] and "Reminder" in m[1]]

    # Everyone got each notice exactly once.
    ids = smtp.inbox.message_ids()
    assert len(ids) == len(set(ids))
    print("\n".join(f"{m['To']}: {m['Subject']}" for m in smtp.inbox.messages))
