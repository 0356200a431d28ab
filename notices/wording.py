"""What a notice says, in plain words, for one reader: discreet (no drug names) unless they chose details.

Subjects are always discreet and never name the patient: they show on lock screens and in shared inboxes.
Written in the active language: the sender renders each notice inside the recipient's language
(translation.override). Every sentence is translated whole, so each language orders its own words.
"""

import datetime as dt
from dataclasses import dataclass

from django.utils.formats import date_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from notices.models import Notice
from schedules.models import ScheduledFill


def day(value: dt.date | str) -> str:
    """ "Tuesday 8 December", "martes 8 de diciembre" """
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    return date_format(value, "WEEKDAY_DAY_MONTH_FORMAT")


@dataclass(frozen=True)
class Wording:
    subject: str
    headline: str
    sentences: tuple[str, ...]


def _visit(*, is_patient: bool, detailed: bool, first_name: str) -> str:
    """Whose visit, as words that sit inside a sentence: "your refill", "Ana's clinic visit"."""
    if is_patient:
        return _("your refill") if detailed else _("your clinic visit")
    if detailed:
        return _("%(name)s's refill") % {"name": first_name}
    return _("%(name)s's clinic visit") % {"name": first_name}


def _what_goes_in(fill: ScheduledFill | None) -> str:
    if fill is None:
        return ""
    name = fill.get_infusate_display()
    if fill.is_chemo:
        if fill.cycle:
            return _("The pump is filled with %(name)s (chemotherapy), cycle %(cycle)d.") % {
                "name": name, "cycle": fill.cycle
            }
        return _("The pump is filled with %(name)s (chemotherapy).") % {"name": name}
    if fill.held:
        return _("The pump is filled with %(name)s (the chemotherapy is held).") % {"name": name.lower()}
    return _("The pump is filled with %(name)s.") % {"name": name.lower()}


def reason_text(line: dict, *, detailed: bool) -> str:
    reason, when = line.get("reason"), line.get("reason_date")
    if reason == "closed":
        if when == line["old_date"]:
            return _("the clinic is closed that day")
        return _("the clinic is closed on %(day)s") % {"day": day(when)}
    if reason == "recorded":
        if detailed:
            return _("the refill before it was on %(day)s") % {"day": day(when)}
        return _("the visit before it was on %(day)s") % {"day": day(when)}
    if reason == "follows":
        return _("it follows the change above")
    if reason == "moved_care":
        return _("care has moved to another clinic")
    if reason == "ended":
        return _("the treatment has ended")
    if reason == "plan":
        return _("the treatment plan changed")
    return _("the clinic changed the schedule")


def change_sentence(line: dict, *, detailed: bool, visit: str, clinic_visit: str) -> str:
    """One line of a change notice; ``visit`` names the reader's visit ("your refill"), ``clinic_visit``
    the same in discreet words ("your clinic visit")."""
    old = day(line["old_date"])
    words = {"visit": visit, "old": old, "reason": reason_text(line, detailed=detailed)}
    if line["what"] == "cancelled":
        return capfirst(_("%(visit)s on %(old)s is cancelled: %(reason)s.") % words)
    if line["what"] == "moved":
        words["new"] = day(line["new_date"])
        return capfirst(_("%(visit)s moved from %(old)s to %(new)s: %(reason)s.") % words)
    if not detailed:
        return capfirst(
            _("%(visit)s on %(old)s stays, but the clinic changed what is planned for it.")
            % {"visit": clinic_visit, "old": old}
        )
    if line["what"] == "held":
        return _(
            "The chemotherapy planned on %(day)s is held: the visit stays, the pump gets heparinized saline."
        ) % {"day": old}
    return _("The hold on %(day)s is lifted: the chemotherapy goes ahead as planned.") % {"day": old}


def wording_for(notice: Notice, *, is_patient: bool, detailed: bool, fill: ScheduledFill | None) -> Wording:
    first_name = notice.patient.name.split()[0] if notice.patient.name else _("the patient")
    visit = _visit(is_patient=is_patient, detailed=detailed, first_name=first_name)
    clinic_visit = _visit(is_patient=is_patient, detailed=False, first_name=first_name)
    if notice.kind == Notice.Kind.REMINDER:
        on = day(notice.fill_date)
        tomorrow = notice.days_before == 1
        if tomorrow:
            subject = _("Reminder: clinic visit tomorrow, %(day)s") % {"day": on}
            headline = (_("Reminder: refill tomorrow, %(day)s") % {"day": on}) if detailed else subject
        else:
            subject = _("Reminder: clinic visit on %(day)s") % {"day": on}
            headline = (_("Reminder: refill on %(day)s") % {"day": on}) if detailed else subject
        sentences = [capfirst(_("%(visit)s is on %(day)s.") % {"visit": visit, "day": on})]
        if detailed and fill is not None:
            sentences.append(_what_goes_in(fill))
        return Wording(subject, headline, tuple(sentences))
    if notice.kind == Notice.Kind.OVERDUE:
        subject = _("Overdue: please call the clinic")
        sentence = capfirst(
            _("%(visit)s planned on %(day)s has not been recorded. Please call the clinic today to arrange it.")
            % {"visit": visit, "day": day(notice.fill_date)}
        )
        return Wording(subject, capfirst(_("%(visit)s is overdue") % {"visit": visit}), (sentence,))
    lines = notice.change.lines if notice.change_id else []
    sentences = tuple(
        change_sentence(line, detailed=detailed, visit=visit, clinic_visit=clinic_visit) for line in lines
    )
    if len(lines) == 1 and lines[0]["what"] == "moved":
        subject = _("Change: clinic visit moved to %(day)s") % {"day": day(lines[0]["new_date"])}
    elif len(lines) == 1 and lines[0]["what"] == "cancelled":
        subject = _("Change: clinic visit on %(day)s cancelled") % {"day": day(lines[0]["old_date"])}
    else:
        subject = _("Change to upcoming clinic visits")
    return Wording(subject, _("A change to the schedule"), sentences)
