from django import forms
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from notices.models import Preference


def _days_before(days: int) -> str:
    return gettext("%(days)d days before, and the morning before") % {"days": days}


# Choices are built once, at import: each label is translated when the form is shown, in the reader's language.
_days_before_lazy = lazy(_days_before, str)


class PreferenceForm(forms.Form):
    reminders = forms.BooleanField(label=_("Reminders before each refill"), required=False)
    days_ahead = forms.TypedChoiceField(
        label=_("First reminder"), coerce=int,
        choices=[
            (1, _("The morning before only")),
            *((n, _days_before_lazy(n)) for n in range(2, 8)),
        ],
    )
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
