from django import forms

from notices.models import Preference


class PreferenceForm(forms.Form):
    reminders = forms.BooleanField(label="Reminders before each refill", required=False)
    days_ahead = forms.TypedChoiceField(
        label="First reminder", coerce=int,
        choices=[
            (1, "The morning before only"), *((n, f"{n} days before, and the morning before") for n in range(2, 8)),
        ],
    )
    changes = forms.BooleanField(label="When a date moves, or a refill is held or cancelled", required=False)
    overdue = forms.BooleanField(label="When a refill is overdue", required=False)
    wording = forms.ChoiceField(label="Wording", choices=Preference.Wording.choices, widget=forms.RadioSelect)
    caregivers_may_see_details = forms.BooleanField(
        label="My caregivers may choose the detailed wording", required=False
    )

    def __init__(self, *args, is_patient: bool, details_allowed: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not is_patient:
            del self.fields["caregivers_may_see_details"]
            if not details_allowed:
                # Caregivers' emails stay discreet unless the patient allows details.
                self.fields["wording"].choices = [Preference.Wording.choices[0]]
                self.fields["wording"].help_text = "The patient has not allowed detailed emails for caregivers."

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
