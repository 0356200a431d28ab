"""Second factor for clinic staff: an authenticator app (TOTP) with one-time backup codes (django-otp)."""

from base64 import b32encode

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods
from django_otp import devices_for_user, match_token
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

BACKUP_CODE_COUNT = 10


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from your authenticator app (or a backup code)"),
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


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
            otp_login(request, device)
            return redirect(safe_next(request))
        form.add_error(
            "code",
            _(
                "That code was not accepted. Codes change every 30 seconds, and after a wrong one there is a short "
                "pause: wait a few seconds, then enter the newest code from your app."
            ),
        )
    return render(request, "registration/two_factor_verify.html", {"form": form, "next": safe_next(request)})


@login_required
@require_http_methods(["GET", "POST"])
def setup(request):
    """First sign-in of a member of staff: pair an authenticator app, then show the backup codes once."""
    if any(devices_for_user(request.user)):
        return redirect("two_factor_verify")
    device = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=request.user, name="Authenticator app", confirmed=False)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"].replace(" ", "")):
            with transaction.atomic():
                device.confirmed = True
                device.save()
                codes = create_backup_codes(request.user)
            otp_login(request, device)
            messages.success(request, _("Two-step sign-in is on."))
            return render(request, "registration/two_factor_codes.html", {"codes": codes, "next": safe_next(request)})
        form.add_error("code", _("That code is not right. Check your phone's clock and try the newest code."))
    qr = segno.make(device.config_url, error="m")
    context = {
        "form": form,
        "qr_svg_data_uri": qr.svg_data_uri(scale=5, dark="#000", light="#fff"),
        "secret": totp_secret(device),
        "next": safe_next(request),
    }
    return render(request, "registration/two_factor_setup.html", context)
