"""What a notice says, in plain words, for one reader, in their language: discreet (no drug names) unless
they chose the detailed wording. Called inside ``translation.override`` of the reader's language.

Subjects are always discreet and never name the patient: they show on lock screens and in shared inboxes.
A caregiver's email names the patient by first name in the body, so one caregiver of two knows whose it is.
"""

import datetime as dt
from dataclasses import dataclass

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from notices.models import Notice
from schedules.models import Infusate, ScheduledFill


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


def _infusate(fill: ScheduledFill) -> str:
    names = {
        Infusate.FUDR: "FUDR",
        Infusate.FUDR_DEX: _("FUDR with dexamethasone"),
        Infusate.HEPARINIZED_SALINE: _("heparinized saline"),
        Infusate.SALINE: _("saline"),
        Infusate.GLYCERIN: _("glycerin"),
    }
    return names.get(fill.infusate, fill.infusate)


def _what_goes_in(fill: ScheduledFill) -> str:
    if fill.is_chemo and fill.cycle:
        return _("The pump is filled with %(infusate)s (chemotherapy), cycle %(cycle)s.") % {
            "infusate": _infusate(fill), "cycle": fill.cycle}
    if fill.is_chemo:
        return _("The pump is filled with %(infusate)s (chemotherapy).") % {"infusate": _infusate(fill)}
    if fill.held:
        return _("The pump is filled with %(infusate)s (the chemotherapy is held).") % {"infusate": _infusate(fill)}
    return _("The pump is filled with %(infusate)s.") % {"infusate": _infusate(fill)}


def reason_text(line: dict) -> str:
    reason, when = line.get("reason"), line.get("reason_date")
    if reason == "closed":
        if when == line["old_date"]:
            return _("the clinic is closed that day")
        return _("the clinic is closed on %(day)s") % {"day": day(when)}
    if reason == "recorded":
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


def change_sentence(line: dict, *, detailed: bool, name: str | None) -> str:
    """One changed fill. ``name``: the patient's first name for a caregiver, None for the patient."""
    values = {"name": name, "old": day(line["old_date"]), "reason": reason_text(line)}
    if line["what"] == "cancelled":
        text = (_("%(name)s's clinic visit on %(old)s is cancelled: %(reason)s.") if name
                else _("Your clinic visit on %(old)s is cancelled: %(reason)s."))
    elif line["what"] == "moved":
        values["new"] = day(line["new_date"])
        text = (_("%(name)s's clinic visit moved from %(old)s to %(new)s: %(reason)s.") if name
                else _("Your clinic visit moved from %(old)s to %(new)s: %(reason)s."))
    elif not detailed:
        text = (_("%(name)s's clinic visit on %(old)s stays, but the clinic changed what is planned for it.") if name
                else _("Your clinic visit on %(old)s stays, but the clinic changed what is planned for it."))
    elif line["what"] == "held":
        text = _("The chemotherapy planned on %(old)s is held: the visit stays, the pump gets heparinized saline.")
    else:
        text = _("The hold on %(old)s is lifted: the chemotherapy goes ahead as planned.")
    return text % values


def wording_for(notice: Notice, *, is_patient: bool, detailed: bool, fill: ScheduledFill | None) -> Wording:
    name = None if is_patient else (notice.patient.name.split() or ["?"])[0]
    when = {"day": day(notice.fill_date), "name": name}
    if notice.kind == Notice.Kind.REMINDER:
        if notice.days_before == 1:
            subject = _("Reminder: clinic visit tomorrow, %(day)s") % when
        else:
            subject = _("Reminder: clinic visit on %(day)s") % when
        sentences = [(_("%(name)s's clinic visit is on %(day)s.") if name else _("Your clinic visit is on %(day)s."))
                     % when]
        if detailed and fill is not None:
            sentences.append(_what_goes_in(fill))
        return Wording(subject, subject, tuple(sentences))
    if notice.kind == Notice.Kind.OVERDUE:
        headline = (_("%(name)s's refill is overdue") if name else _("Your refill is overdue")) % when
        sentence = (
            _("%(name)s's clinic visit planned on %(day)s has not been recorded. Please call the clinic today.")
            if name else _("Your clinic visit planned on %(day)s has not been recorded. Please call the clinic today.")
        ) % when
        return Wording(_("Overdue: please call the clinic"), headline, (sentence,))
    lines = notice.change.lines if notice.change_id else []
    sentences = tuple(change_sentence(line, detailed=detailed, name=name) for line in lines)
    if len(lines) == 1 and lines[0]["what"] == "moved":
        subject = _("Change: clinic visit moved to %(day)s") % {"day": day(lines[0]["new_date"])}
    elif len(lines) == 1 and lines[0]["what"] == "cancelled":
        subject = _("Change: clinic visit on %(day)s cancelled") % {"day": day(lines[0]["old_date"])}
    else:
        subject = _("Change to upcoming clinic visits")
    return Wording(subject, _("A change to the schedule"), sentences)
