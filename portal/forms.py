"""Forms of the patients' own pages: plain Django validation, a message next to the field for every bad input."""

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

MAX_GRANT_DAYS = 5 * 366  # an expiry further ahead than this is a typing error ("2062")


class CaregiverInviteForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("Caregiver's email address"))
    expires_on = forms.DateField(
        required=False,
        label=gettext_lazy("Access until (optional)"),
        help_text=gettext_lazy("The last day they can see your pages. Leave empty for access until you remove it."),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args, today: dt.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["expires_on"].widget.attrs["min"] = today.isoformat()

    def clean_expires_on(self):
        day = self.cleaned_data["expires_on"]
        if day is not None and day < self.today:
            raise ValidationError(_("Choose today or a later day."))
        if day is not None and day > self.today + dt.timedelta(days=MAX_GRANT_DAYS):
            raise ValidationError(_("Choose a day within the next 5 years, or leave it empty."))
        return day


class EmailChangeForm(forms.Form):
    email = forms.EmailField(
        label=gettext_lazy("New email address"), help_text=gettext_lazy("You sign in with it from now on.")
    )
    password = forms.CharField(
        label=gettext_lazy("Your current password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["email"].widget.attrs["autocomplete"] = "email"

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise ValidationError(_("This is not your current password."))
        return password
