from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from notices.models import Preference


def _days_choices():
    """Called each time the form is shown, so the labels are in the reader's language."""
    return [
        (1, _("The morning before only")),
        *((n, ngettext("%(count)d day before, and the morning before",
                       "%(count)d days before, and the morning before", n) % {"count": n}) for n in range(2, 8)),
    ]


class PreferenceForm(forms.Form):
    reminders = forms.BooleanField(label=_("Reminders before each refill"), required=False)
    days_ahead = forms.TypedChoiceField(label=_("First reminder"), coerce=int, choices=_days_choices)
    changes = forms.BooleanField(label=_("When a date moves, or a refill is held or cancelled"), required=False)
    overdue = forms.BooleanField(label=_("When a refill is overdue"), required=False)
    wording = forms.ChoiceField(label=_("Wording"), choices=Preference.Wording.choices, widget=forms.RadioSelect)
    caregivers_may_see_details = forms.BooleanField(
        label=_("My caregivers may choose the detailed wording"), required=False
    )

    def __init__(self, *args, is_patient: bool, details_allowed: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not is_patient:
            del self.fields["caregivers_may_see_details"]
            if not details_allowed:
                # Caregivers' emails stay discreet unless the patient allows details.
                self.fields["wording"].choices = [Preference.Wording.choices[0]]
                self.fields["wording"].help_text = _("The patient has not allowed detailed emails for caregivers.")

    @classmethod
    def initial_from(cls, preference: Preference) -> dict:
        return {
            "reminders": preference.reminders and preference.unsubscribed_at is None,
            "days_ahead": preference.days_ahead,
            "changes": preference.changes and preference.unsubscribed_at is None,
            "overdue": preference.overdue and preference.unsubscribed_at is None,
            "wording": preference.wording,
            "caregivers_may_see_details": preference.caregivers_may_see_details,
        }
