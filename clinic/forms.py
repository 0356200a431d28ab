"""Forms of the clinic staff pages: plain Django validation, a message next to the field for every bad input."""

import datetime as dt
import re

from crispy_forms.helper import FormHelper
from dateutil.relativedelta import relativedelta
from django import forms
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import CheckConstraint
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from patients.models import WEEKDAY_NAMES, Clinic, Patient
from schedules import engine
from schedules.models import (
    CHEMO_END_CHOICES,
    THERAPY_OVER_CHOICES,
    Infusate,
    Protocol,
    RecordedFill,
    ScheduledFill,
    TherapyPlan,
)
from schedules.progress import short_date

ALREADY_RECORDED = "already_recorded"
SURGERY_PAST_YEARS = 10  # a patient whose pump went in long ago may still come for maintenance fills
SURGERY_AHEAD_DAYS = 365  # a planned surgery, months ahead
CHEMO_CHOICES = [(i.value, i.label) for i in Infusate if engine.Infusate(i.value).is_chemo]
REST_CHOICES = [(i.value, i.label) for i in Infusate if not engine.Infusate(i.value).is_chemo]


class VolumeField(forms.DecimalField):
    """A decimal number read as a nurse types it: "29.5" or "29,5" (a decimal comma is a decimal point).

    Every decimal field of the staff forms (volumes, reservoir, flow) is one of these, in a text box with
    inputmode=decimal: a type=number box silently drops the comma in some browsers ("30,5" became 305)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
        self.error_messages["invalid"] = _("Enter a number, like 29.5 (a comma works too: 29,5).")

    def to_python(self, value):
        if isinstance(value, str):
            value = value.strip().replace(",", ".")
        return super().to_python(value)


DATE_HINT = _("Pick the day in the calendar, or type it as year-month-day: 2026-12-31.")
AMBIGUOUS_DATE = re.compile(r"\s*\d{1,2}\s*[/.]\s*\d{1,2}\s*[/.]\s*\d{2,5}\s*")
ISO_DATE = re.compile(r"\s*(\d+)-(\d{1,2})-(\d{1,2})\s*")


class DateInput(forms.DateInput):
    """A date picker (type=date): the browser sends year-month-day whatever it shows. Its bounds keep the year
    to four digits in the picker, and tell the browser what is in range."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__({"min": "1900-01-01", "max": "2100-12-31", **(attrs or {})}, format="%Y-%m-%d")


class DayField(forms.DateField):
    """A date typed or picked by a person: year-month-day only, and a clear message for anything else.

    "31/12/2026" is refused, not guessed (12/31 or 31/12?); a year that is not four digits ("22026-03-11", what
    a date box gives when the year is typed on) is named back to the person."""

    widget = DateInput
    input_formats = ["%Y-%m-%d"]
    default_error_messages = {"invalid": _("Enter a real date as year-month-day, like 2026-12-31.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.help_text = self.help_text or DATE_HINT

    def to_python(self, value):
        if isinstance(value, str) and value.strip():
            if AMBIGUOUS_DATE.fullmatch(value):
                raise ValidationError(
                    _("“%(value)s” could be read two ways: pick the day in the calendar, or type it as "
                      "year-month-day, like 2026-12-31."),
                    code="invalid", params={"value": value.strip()},
                )
            iso = ISO_DATE.fullmatch(value)
            if iso and len(iso.group(1)) != 4:
                raise ValidationError(
                    _("The year %(year)s is not possible: check the date."),
                    code="invalid", params={"year": iso.group(1)},
                )
        return super().to_python(value)


def say_length_limits(form: forms.BaseForm) -> None:
    """A text box with a maximum length says it: the browser stops typing at the limit without a word."""
    for field in form.fields.values():
        limit = getattr(field, "max_length", None)
        if isinstance(field, forms.CharField) and limit and isinstance(field.widget, forms.TextInput):
            note = _("Up to %(limit)s characters.") % {"limit": limit}
            field.help_text = f"{field.help_text} {note}".strip() if field.help_text else note


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%H:%M")


def _helper(*, form_tag: bool = False) -> FormHelper:
    helper = FormHelper()
    helper.form_tag = form_tag
    helper.disable_csrf = True
    return helper


class PatientForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = [
            "name", "record_number", "date_of_birth", "email", "pump_model", "pump_reservoir_ml",
            "pump_flow_ml_per_day",
        ]
        field_classes = {
            "date_of_birth": DayField, "pump_reservoir_ml": VolumeField, "pump_flow_ml_per_day": VolumeField
        }

    def __init__(self, *args, clinic: Clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        self.instance.clinic = clinic
        say_length_limits(self)
        self.helper = _helper()

    def clean_record_number(self):
        number = self.cleaned_data["record_number"].strip()
        taken = Patient.objects.filter(clinic=self.clinic, record_number__iexact=number).exclude(pk=self.instance.pk)
        if taken.exists():
            raise ValidationError(_("Another patient of this clinic has this record number."), code="duplicate")
        return number

    def clean_date_of_birth(self):
        born = self.cleaned_data["date_of_birth"]
        if not dt.date(1900, 1, 1) <= born <= self.clinic.today():
            raise ValidationError(_("Enter a date of birth between 1900 and today."))
        return born


class PlanForm(forms.ModelForm):
    class Meta:
        model = TherapyPlan
        fields = ["surgery_date", "protocol", "first_chemo_after_days", "cycle_count", "open_ended"]
        field_classes = {"surgery_date": DayField}
        labels = {
            "first_chemo_after_days": _("First chemo, days after surgery"),
            "cycle_count": _("Number of cycles"),
            "open_ended": _("Open-ended (repeat cycles until staff end the therapy)"),
        }
        help_texts = {
            "first_chemo_after_days": _("Empty: as the protocol says."),
            "cycle_count": _("Empty: as the protocol says."),
        }

    def __init__(self, *args, clinic: Clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        self.fields["protocol"].queryset = clinic.protocols.order_by("name")
        self.fields["protocol"].empty_label = None
        if not self.instance.pk and clinic.default_protocol_id:
            self.initial.setdefault("protocol", clinic.default_protocol_id)
        self.helper = _helper()

    def clean_surgery_date(self):
        surgery = self.cleaned_data["surgery_date"]
        today = self.clinic.today()
        earliest = today - relativedelta(years=SURGERY_PAST_YEARS)  # 29 February has no twin ten years back
        if not earliest <= surgery <= today + dt.timedelta(days=SURGERY_AHEAD_DAYS):
            raise ValidationError(_("Enter a surgery date within the last %(years)s years or the next 12 months."),
                params={"years": SURGERY_PAST_YEARS},
            )
        if self.instance.pk:
            first = RecordedFill.objects.filter(plan=self.instance).order_by("date").first()
            if first is not None and surgery > first.date:
                raise ValidationError(
                    _("A fill is recorded on %(date)s: surgery cannot be after it."),
                    params={"date": short_date(first.date)},
                )
            if self.instance.end_date is not None and surgery > self.instance.end_date:
                raise ValidationError(_("The therapy ended on %(date)s, before this date."),
                                      params={"date": short_date(self.instance.end_date)})
        return surgery

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("open_ended") and cleaned.get("cycle_count"):
            self.add_error("cycle_count", _("An open-ended plan has no number of cycles: leave this empty."))
        return cleaned


def check_patient_and_plan(patient_form: PatientForm, plan_form: PlanForm) -> bool:
    """Rules across the two forms; both must already be valid."""
    born = patient_form.cleaned_data.get("date_of_birth")
    surgery = plan_form.cleaned_data.get("surgery_date")
    if born and surgery and surgery <= born:
        plan_form.add_error("surgery_date", _("Surgery must be after the date of birth."))
        return False
    return True


class FillForm(forms.ModelForm):
    """Record a fill (or correct one: with an instance)."""

    sequence = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)

    class Meta:
        model = RecordedFill
        fields = ["date", "infusate", "appointment_time", "volume_in_ml", "volume_returned_ml", "note"]
        field_classes = {"date": DayField, "volume_in_ml": VolumeField, "volume_returned_ml": VolumeField}
        widgets = {"appointment_time": TimeInput(), "note": forms.TextInput()}
        labels = {"appointment_time": _("Appointment time (optional)"), "note": _("Note (optional)")}

    def __init__(self, *args, plan: TherapyPlan, today: dt.date, expected: ScheduledFill | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.plan = plan
        self.today = today
        self.expected = expected
        if not self.instance.pk:
            self.initial.setdefault("date", today)
            if expected is not None:
                self.initial.setdefault("infusate", expected.infusate)
                self.initial.setdefault("sequence", expected.sequence)
        else:
            del self.fields["sequence"]
        if expected is not None and expected.is_chemo:
            self.fields["infusate"].help_text = _(
                "Chemotherapy is due: anything other than FUDR records this cycle as held."
            )
        for name in ("volume_in_ml", "volume_returned_ml"):
            self.fields[name].help_text = _("In mL, e.g. 29.5")
        self.helper = _helper()

    def clean_date(self):
        day = self.cleaned_data["date"]
        plan = self.plan
        if day < plan.surgery_date:
            raise ValidationError(
                _("This date is before surgery (%(date)s)."), params={"date": short_date(plan.surgery_date)}
            )
        if day > self.today:
            raise ValidationError(_("A fill can only be recorded once it has happened (today at the latest)."))
        if plan.end_date is not None and day > plan.end_date:
            raise ValidationError(
                _("The therapy ended on %(date)s: reopen it to record later fills."),
                params={"date": short_date(plan.end_date)},
            )
        same_day = RecordedFill.objects.filter(plan=plan, date=day).exclude(pk=self.instance.pk)
        if same_day.exists():
            raise ValidationError(_("A fill is already recorded for this patient on this date."), code=ALREADY_RECORDED)
        return day

    def _check_volume(self, name: str):
        volume = self.cleaned_data.get(name)  # parsed by VolumeField
        reservoir = self.plan.patient.pump_reservoir_ml
        if volume is not None and volume > reservoir:
            raise ValidationError(
                _("More than the pump holds (%(reservoir)s mL): check the volume."), params={"reservoir": reservoir}
            )
        return volume

    def clean_volume_in_ml(self):
        return self._check_volume("volume_in_ml")

    def clean_volume_returned_ml(self):
        return self._check_volume("volume_returned_ml")

    def clean(self):
        cleaned = super().clean()
        sequence = cleaned.get("sequence")
        # The expected fill the view read is that fill, planned and not recorded: nothing to ask. Otherwise (it
        # was recorded since the form was shown, or is no planned refill) the database says.
        planned = self.expected is not None and self.expected.sequence == sequence
        if sequence is not None and not planned and ScheduledFill.objects.filter(
            plan=self.plan, sequence=sequence, recorded=True
        ).exists():
            raise ValidationError(_("This refill was already recorded."), code=ALREADY_RECORDED)
        return cleaned

    def was_already_recorded(self) -> bool:
        return self.has_error(NON_FIELD_ERRORS, ALREADY_RECORDED)

    def _post_clean(self):
        # The model's check constraints (a known infusate, volumes not negative) repeat these fields' own
        # validators, which ran first; checking each again costs a database query (Q.check). The database
        # still enforces them. The model's clean() and its other constraints are validated as before.
        instance = self.instance
        instance.get_constraints = lambda: [
            (model, [c for c in constraints if not isinstance(c, CheckConstraint)])
            for model, constraints in type(instance).get_constraints(instance)
        ]
        try:
            super()._post_clean()
        finally:
            del instance.get_constraints


class HoldForm(forms.Form):
    sequence = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    reason = forms.CharField(max_length=300, label=_("Reason for the hold"))


class EndTherapyForm(forms.Form):
    """S8: staff choose which end first; the reasons listed under each say what it covers."""

    CHEMO, OVER = "chemo", "over"
    KINDS = [
        (CHEMO, _("End chemotherapy (pump stays in: maintenance refills continue)")),
        (OVER, _("Therapy over (pump removed, moved care, death): nothing is planned after the date")),
    ]

    kind = forms.ChoiceField(choices=KINDS, widget=forms.RadioSelect, label=_("Which end"))
    end_date = DayField(label=_("Date"))
    reason = forms.ChoiceField(
        choices=[
            ("", _("Choose a reason")),
            (_("End chemotherapy"), CHEMO_END_CHOICES),
            (_("Therapy over"), THERAPY_OVER_CHOICES),
        ],
        label=_("Reason"),
    )
    note = forms.CharField(max_length=300, required=False, label=_("Note (optional)"))

    def __init__(self, *args, plan: TherapyPlan, today: dt.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.plan = plan
        self.today = today
        last = RecordedFill.objects.filter(plan=plan).order_by("-date").values_list("date", flat=True).first()
        self.last_recorded = last
        if plan.chemo_ended:
            # Chemotherapy has ended already: what is left is the end of the therapy.
            self.fields["kind"].choices = [c for c in self.KINDS if c[0] == self.OVER]
            self.fields["reason"].choices = [("", _("Choose a reason")), *THERAPY_OVER_CHOICES]
            self.initial.setdefault("kind", self.OVER)
        # Never propose a date the form would refuse: not before surgery, a recorded fill or the chemo end.
        earliest = max(d for d in (plan.surgery_date, last, plan.chemo_end_date) if d is not None)
        self.initial.setdefault("end_date", max(today, earliest))
        self.fields["end_date"].widget.attrs["min"] = plan.surgery_date.isoformat()
        self.helper = _helper()

    def clean_end_date(self):
        end = self.cleaned_data["end_date"]
        if end < self.plan.surgery_date:
            raise ValidationError(
                _("The end date is before surgery (%(date)s)."), params={"date": short_date(self.plan.surgery_date)}
            )
        if end > self.today + dt.timedelta(days=SURGERY_AHEAD_DAYS):
            raise ValidationError(_("Enter an end date within the next 12 months."))
        return end

    def clean(self):
        data = super().clean()
        kind, reason, end = data.get("kind"), data.get("reason"), data.get("end_date")
        if kind and reason and (reason in TherapyPlan.CHEMO_ENDS) != (kind == self.CHEMO):
            self.add_error("reason", _("This reason belongs to the other end: choose the end first, then its reason."))
        if kind == self.OVER and end is not None:
            if self.last_recorded is not None and end < self.last_recorded:
                said = _("A fill is recorded on %(date)s, after this date.") % {"date": short_date(self.last_recorded)}
                self.add_error("end_date", said)
            if self.plan.chemo_end_date is not None and end < self.plan.chemo_end_date:
                ended = short_date(self.plan.chemo_end_date)
                said = _("Chemotherapy ended on %(date)s: pick that day or later.") % {"date": ended}
                self.add_error("end_date", said)
        if kind == self.CHEMO and end is not None:
            chemo = RecordedFill.objects.filter(plan=self.plan, date__gte=end, infusate__in=dict(CHEMO_CHOICES))
            first = chemo.order_by("date").values_list("date", flat=True).first()
            if first is not None:
                said = _("FUDR is recorded on %(date)s: chemotherapy ends after it.") % {"date": short_date(first)}
                self.add_error("end_date", said)
        return data


class ClinicSettingsForm(forms.ModelForm):
    open_days = forms.TypedMultipleChoiceField(
        choices=list(enumerate(WEEKDAY_NAMES)),
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        required=False,  # clean_open_days says what is missing
        label=_("Open weekdays (fills are planned on these days only)"),
    )

    class Meta:
        model = Clinic
        fields = ["address", "after_hours_phone", "flow_tolerance_percent", "default_protocol"]
        labels = {"address": _("Clinic address"), "flow_tolerance_percent": _("Flow tolerance (%)")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["default_protocol"].queryset = self.instance.protocols.order_by("name")
        self.initial.setdefault("open_days", sorted(self.instance.open_weekday_numbers))
        self.helper = _helper()

    def clean_open_days(self):
        days = self.cleaned_data["open_days"]
        if not days:
            raise ValidationError(_("Choose at least one open weekday."))
        return days

    def save(self, commit=True):
        self.instance.open_weekdays = "".join(str(d) for d in sorted(self.cleaned_data["open_days"]))
        return super().save(commit=commit)


CLOSURE_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\s+(.*))?$")


class ClosuresForm(forms.Form):
    lines = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        label=_("Closure dates, one per line (YYYY-MM-DD, then an optional name)"),
        help_text=_("For example: 2026-12-24 Christmas Eve"),
        max_length=20_000,
    )

    def __init__(self, *args, today: dt.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.helper = _helper()

    def clean_lines(self):
        days: dict[dt.date, str] = {}
        errors = []
        earliest = self.today - dt.timedelta(days=366)
        latest = self.today + dt.timedelta(days=5 * 366)
        for number, raw in enumerate(self.cleaned_data["lines"].splitlines(), start=1):
            line = raw.strip()
            if not line:
                continue
            match = CLOSURE_LINE.match(line)
            try:
                day = dt.date.fromisoformat(match.group(1)) if match else None
            except ValueError:
                day = None
            if day is None:
                errors.append(_("Line %(number)d: not a date (YYYY-MM-DD).") % {"number": number})
            elif not earliest <= day <= latest:
                errors.append(
                    _("Line %(number)d: choose a date between last year and five years ahead.") % {"number": number}
                )
            else:
                days[day] = (match.group(2) or "").strip()
        if errors:
            raise ValidationError(errors)
        if not days:
            raise ValidationError(_("Enter at least one date."))
        return days


class HolidaysForm(forms.Form):
    year = forms.IntegerField(label=_("Add the US federal holidays of year"))

    def __init__(self, *args, today: dt.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].widget.attrs.update({"min": today.year - 1, "max": today.year + 5})
        self.initial.setdefault("year", today.year + 1 if today.month >= 10 else today.year)
        self.today = today

    def clean_year(self):
        year = self.cleaned_data["year"]
        if not self.today.year - 1 <= year <= self.today.year + 5:
            raise ValidationError(_("Choose a year between last year and five years ahead."))
        return year

    def holidays(self) -> dict[dt.date, str]:
        import holidays

        return dict(holidays.US(years=self.cleaned_data["year"]).items())


class ProtocolForm(forms.ModelForm):
    """A protocol template: the cycle as a chemo step and one or two rest steps."""

    chemo_infusate = forms.ChoiceField(choices=CHEMO_CHOICES, label=_("Chemo step: infusate"))
    chemo_days = forms.IntegerField(min_value=1, max_value=90, label=_("Chemo step: days until the next fill"))
    rest_infusate = forms.ChoiceField(choices=REST_CHOICES, label=_("Rest step: infusate"))
    rest_days = forms.IntegerField(min_value=1, max_value=90, label=_("Rest step: days until the next fill"))
    rest2_infusate = forms.ChoiceField(
        choices=[("", pgettext_lazy("infusate", "None")), *REST_CHOICES],
        required=False,
        label=_("Second rest step (optional): infusate")
    )
    rest2_days = forms.IntegerField(
        min_value=1, max_value=90, required=False, label=_("Second rest step: days until the next fill")
    )

    class Meta:
        model = Protocol
        fields = ["name", "first_chemo_after_days", "cycle_count", "maintenance_infusate", "maintenance_days"]
        labels = {
            "first_chemo_after_days": _("First chemo, days after surgery"),
            "cycle_count": _("Number of cycles"),
            "maintenance_days": _("Maintenance: days between fills"),
        }

    def __init__(self, *args, clinic: Clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        self.instance.clinic = clinic
        self.fields["maintenance_infusate"].choices = REST_CHOICES
        steps = self.instance.cycle_steps or Protocol.default_steps()
        self.initial.setdefault("chemo_infusate", steps[0]["infusate"])
        self.initial.setdefault("chemo_days", steps[0]["days"])
        self.initial.setdefault("rest_infusate", steps[1]["infusate"])
        self.initial.setdefault("rest_days", steps[1]["days"])
        if len(steps) > 2:
            self.initial.setdefault("rest2_infusate", steps[2]["infusate"])
            self.initial.setdefault("rest2_days", steps[2]["days"])
        self.helper = _helper()

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if Protocol.objects.filter(clinic=self.clinic, name__iexact=name).exclude(pk=self.instance.pk).exists():
            raise ValidationError(_("The clinic already has a protocol with this name."))
        return name

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("rest2_infusate")) != bool(cleaned.get("rest2_days")):
            self.add_error("rest2_days", _("Give the second rest step both an infusate and its days, or neither."))
        return cleaned

    def _post_clean(self):
        data = self.cleaned_data
        if all(data.get(k) for k in ("chemo_infusate", "chemo_days", "rest_infusate", "rest_days")):
            steps = [
                {"infusate": data["chemo_infusate"], "days": data["chemo_days"]},
                {"infusate": data["rest_infusate"], "days": data["rest_days"]},
            ]
            if data.get("rest2_infusate") and data.get("rest2_days"):
                steps.append({"infusate": data["rest2_infusate"], "days": data["rest2_days"]})
            self.instance.cycle_steps = steps
        super()._post_clean()


class AccountEmailForm(forms.Form):
    email = forms.EmailField(label=_("Email address"))
    # The invitation email (and the pages, until the person chooses) in this language.
    language = forms.ChoiceField(choices=settings.LANGUAGES, required=False, label=_("Language"))

    def clean_language(self):
        return self.cleaned_data["language"] or settings.LANGUAGE_CODE
