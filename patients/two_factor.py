"""Second factor for clinic staff: an authenticator app (TOTP) with one-time backup codes (django-otp)."""

from base64 import b32encode

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods
from django_otp import devices_for_user, match_token
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from patients import access

BACKUP_CODE_COUNT = 10
# The key being paired travels in the set-up form, signed for this user, so showing the page writes nothing.
SETUP_SALT = "pumpcare.two-factor-setup"
SETUP_MAX_AGE = 30 * 60


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from your authenticator app (or a backup code)"),
        max_length=16,
        # Not inputmode=numeric: backup codes have letters ("sv3sonlk"), and a number pad would hide them.
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "none", "autocorrect": "off",
                   "spellcheck": "false", "autofocus": True}
        ),
    )

    def clean_code(self) -> str:
        """A code as people copy it from paper: "SV3S ONLK" or "123 456" (spaces, dashes and capitals ignored;
        backup codes are lower case, app codes digits)."""
        return "".join(self.cleaned_data["code"].split()).replace("-", "").lower()


def safe_next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return "/"


def create_backup_codes(user) -> list[str]:
    """Replace the user's backup codes with new ones, shown once."""
    device, _created = StaticDevice.objects.get_or_create(user=user, name="Backup codes", defaults={"confirmed": True})
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def totp_secret(device: TOTPDevice) -> str:
    return b32encode(device.bin_key).decode()


@login_required
@require_http_methods(["GET", "POST"])
def verify(request):
    if not any(devices_for_user(request.user)):
        return redirect(f"{reverse('two_factor_setup')}?{urlencode({'next': safe_next(request)})}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(request.user, form.cleaned_data["code"].replace(" ", ""))
        if device is not None:
            second_factor_passed(request, device)
            return redirect(safe_next(request))
        form.add_error(
            "code",
            _(
                "That code was not accepted. Codes change every 30 seconds, and after a wrong one there is a short "
                "pause: wait a few seconds, then enter the newest code from your app."
            ),
        )
    return render(request, "registration/two_factor_verify.html", {"form": form, "next": safe_next(request)})


def second_factor_passed(request, device) -> None:
    # A new session key once the second factor is passed: a key seen before it (a fixated or sniffed
    # half-signed-in session) is worth nothing after.
    request.session.cycle_key()
    otp_login(request, device)


def _setup_key(request) -> str:
    """The key being paired: the one signed into the form for this user, or a new one."""
    try:
        signed = signing.loads(request.POST.get("setup", ""), salt=SETUP_SALT, max_age=SETUP_MAX_AGE)
    except signing.BadSignature:
        return default_key()
    if not isinstance(signed, dict) or signed.get("user") != request.user.pk:
        return default_key()
    return str(signed["key"])


@login_required
@require_http_methods(["GET", "POST"])
def setup(request):
    """First sign-in of a member of staff: pair an authenticator app, then show the backup codes once.

    Only clinic staff and admin-site users have a second factor; nothing is stored until a code is right.
    """
    if not (request.user.is_staff or access.is_clinic_staff(request.user)):
        raise Http404(_("Not found."))
    if any(devices_for_user(request.user)):
        return redirect("two_factor_verify")
    key = _setup_key(request) if request.method == "POST" else default_key()
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Wrong codes are counted on one unconfirmed device, so django-otp slows guessing here too.
        device = TOTPDevice.objects.filter(user=request.user, confirmed=False).first() or TOTPDevice(
            user=request.user, name="Authenticator app", confirmed=False
        )
        if device.key != key:
            device.key, device.last_t = key, -1
        if device.verify_token(form.cleaned_data["code"].replace(" ", "")):
            with transaction.atomic():
                device.confirmed = True
                device.save()
                codes = create_backup_codes(request.user)
            second_factor_passed(request, device)
            messages.success(request, _("Two-step sign-in is on."))
            return render(request, "registration/two_factor_codes.html", {"codes": codes, "next": safe_next(request)})
        form.add_error("code", _("That code is not right. Check your phone's clock and try the newest code."))
    device = TOTPDevice(user=request.user, name="Authenticator app", key=key)
    qr = segno.make(device.config_url, error="m")
    context = {
        "form": form,
        "qr_svg_data_uri": qr.svg_data_uri(scale=5, dark="#000", light="#fff"),
        "secret": totp_secret(device),
        "setup": signing.dumps({"user": request.user.pk, "key": key}, salt=SETUP_SALT),
        "next": safe_next(request),
    }
    return render(request, "registration/two_factor_setup.html", context)
