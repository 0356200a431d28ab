"""What a notice says, in plain words, for one reader: discreet (no drug names) unless they chose details.

Subjects are always discreet and never name the patient: they show on lock screens and in shared inboxes.
"""

import datetime as dt
from dataclasses import dataclass

from notices.models import Notice
from schedules.models import ScheduledFill


def day(value: dt.date | str) -> str:
    """ "Tuesday 8 December" """
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    return f"{value:%A} {value.day} {value:%B}"


@dataclass(frozen=True)
class Wording:
    subject: str
    headline: str
    sentences: tuple[str, ...]


def _whose(is_patient: bool, first_name: str) -> str:
    return "Your" if is_patient else f"{first_name}'s"


def _visit(detailed: bool) -> str:
    return "refill" if detailed else "clinic visit"


def _what_goes_in(fill: ScheduledFill | None) -> str:
    if fill is None:
        return ""
    if fill.is_chemo:
        return f"The pump is filled with {fill.get_infusate_display()} (chemotherapy){_cycle(fill)}."
    held = " (the chemotherapy is held)" if fill.held else ""
    return f"The pump is filled with {fill.get_infusate_display().lower()}{held}."


def _cycle(fill: ScheduledFill) -> str:
    return f", cycle {fill.cycle}" if fill.cycle else ""


def reason_text(line: dict, *, detailed: bool) -> str:
    reason, when = line.get("reason"), line.get("reason_date")
    if reason == "closed":
        return "the clinic is closed that day" if when == line["old_date"] else f"the clinic is closed on {day(when)}"
    if reason == "recorded":
        return f"the {'refill' if detailed else 'visit'} before it was on {day(when)}"
    if reason == "follows":
        return "it follows the change above"
    if reason == "moved_care":
        return "care has moved to another clinic"
    if reason == "ended":
        return "the treatment has ended"
    if reason == "plan":
        return "the treatment plan changed"
    return "the clinic changed the schedule"


def change_sentence(line: dict, *, detailed: bool, whose: str) -> str:
    visit = _visit(detailed)
    old = day(line["old_date"])
    if line["what"] == "cancelled":
        return f"{whose} {visit} on {old} is cancelled: {reason_text(line, detailed=detailed)}."
    if line["what"] == "moved":
        return f"{whose} {visit} moved from {old} to {day(line['new_date'])}: {reason_text(line, detailed=detailed)}."
    if not detailed:
        return f"{whose} clinic visit on {old} stays, but the clinic changed what is planned for it."
    if line["what"] == "held":
        return f"The chemotherapy planned on {old} is held: the visit stays, the pump gets heparinized saline."
    return f"The hold on {old} is lifted: the chemotherapy goes ahead as planned."


def wording_for(notice: Notice, *, is_patient: bool, detailed: bool, fill: ScheduledFill | None) -> Wording:
    first_name = notice.patient.name.split()[0] if notice.patient.name else "the patient"
    whose = _whose(is_patient, first_name)
    visit = _visit(detailed)
    if notice.kind == Notice.Kind.REMINDER:
        when = f"tomorrow, {day(notice.fill_date)}" if notice.days_before == 1 else f"on {day(notice.fill_date)}"
        sentences = [f"{whose} {visit} is on {day(notice.fill_date)}."]
        if detailed and fill is not None:
            sentences.append(_what_goes_in(fill))
        return Wording(f"Reminder: clinic visit {when}", f"Reminder: {visit} {when}", tuple(sentences))
    if notice.kind == Notice.Kind.OVERDUE:
        subject = "Overdue: please call the clinic"
        sentence = (f"{whose} {visit} planned on {day(notice.fill_date)} has not been recorded. "
                    "Please call the clinic today to arrange it.")
        return Wording(subject, f"{whose} {visit} is overdue", (sentence,))
    lines = notice.change.lines if notice.change_id else []
    sentences = tuple(change_sentence(line, detailed=detailed, whose=whose) for line in lines)
    if len(lines) == 1 and lines[0]["what"] == "moved":
        subject = f"Change: clinic visit moved to {day(lines[0]['new_date'])}"
    elif len(lines) == 1 and lines[0]["what"] == "cancelled":
        subject = f"Change: clinic visit on {day(lines[0]['old_date'])} cancelled"
    else:
        subject = "Change to upcoming clinic visits"
    return Wording(subject, "A change to the schedule", sentences)
