"""The calendar feed (reached by its secret link alone), the .ics download, and managing subscriptions.

The feed's token is a secret: it is never logged (runserver's request log is off in settings; nothing
here logs), never put in the cache (only part of its hash) and shown to a person once.
"""

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_safe

from feeds import ical, subscriptions
from patients import access, audit
from schedules.models import CalendarSubscription

CALENDAR_TYPE = "text/calendar; charset=utf-8"
# Calendar apps keep their own schedule (REFRESH-INTERVAL); this only stops a burst of refetches.
FEED_MAX_AGE = 15 * 60
NEW_LINK_SESSION_KEY = "feeds:new-link"


class SubscriptionForm(forms.ModelForm):
    class Meta:
        model = CalendarSubscription
        fields = ["name", "detail"]
        labels = {"name": _("Name of this calendar link"), "detail": _("What the calendar shows")}
        help_texts = {"name": _("Who or what it is for, e.g. “Maria's phone”.")}
        widgets = {"detail": forms.RadioSelect}

    def __init__(self, *args, may_choose_detailed: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        said = _("Discreet: every event says “%(title)s”, no drug names") % {"title": "Clinic visit"}
        choices = [(CalendarSubscription.Detail.DISCREET, said)]
        if may_choose_detailed:
            detailed = _("Detailed: “Pump refill: start FUDR”, and the phases")
            choices.append((CalendarSubscription.Detail.DETAILED, detailed))
        else:
            self.fields["detail"].help_text = _(
                "Drug names and phases appear only in calendars the patient (or their clinic) sets up."
            )
        self.fields["detail"].choices = choices


class RenameForm(forms.Form):
    name = forms.CharField(label=_("New name"), max_length=80)


class DownloadForm(forms.Form):
    detail = forms.ChoiceField(
        label=_("What the calendar shows"), choices=CalendarSubscription.Detail.choices, widget=forms.RadioSelect
    )

    def __init__(self, *args, may_choose_detailed: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not may_choose_detailed:
            self.fields["detail"].choices = [c for c in CalendarSubscription.Detail.choices if c[0] == "discreet"]


def qr_data_uri(link: str) -> str:
    """A PNG data: URI (the CSP allows data: images, and a PNG carries no inline style)."""
    return segno.make(link, error="m").png_data_uri(scale=6, border=4, dark="#000", light="#fff")


def _calendar_response(body: bytes, *, status: int = 200) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type=CALENDAR_TYPE)
    _feed_headers(response)
    return response


def _feed_headers(response: HttpResponse) -> None:
    response["Cache-Control"] = f"private, max-age={FEED_MAX_AGE}"
    response["X-Robots-Tag"] = "noindex"


@require_safe
def feed(request, token: str):
    subscription = subscriptions.subscription_for_token(token)
    if subscription is None:
        raise Http404("No such calendar.")
    retry_after = subscriptions.rate_limited(subscription)
    if retry_after is not None:
        response = HttpResponse(
            "Too many requests for this calendar link. Try again later.\n",
            status=429,
            content_type="text/plain; charset=utf-8",
        )
        response["Retry-After"] = str(retry_after)
        return response
    subscriptions.subscription_fetched(subscription)
    audit.record_feed_fetch(patient=subscription.patient, subscription=subscription)
    if not subscriptions.subscription_is_live(subscription):
        return _calendar_response(ical.empty_calendar(detailed=subscription.is_detailed), status=410)
    patient = subscription.patient
    today = patient.clinic.today()
    state = ical.feed_state(patient, detailed=subscription.is_detailed, today=today)
    last_modified = int(state.last_modified.timestamp())
    response = get_conditional_response(request, etag=state.etag, last_modified=last_modified)
    if response is None:
        response = _calendar_response(ical.patient_calendar(patient, detailed=subscription.is_detailed, today=today))
    else:
        _feed_headers(response)
    response["ETag"] = state.etag
    response["Last-Modified"] = http_date(last_modified)
    return response


@require_safe
@login_required
def download(request, public_id):
    patient = access.get_patient(request, public_id)
    form = DownloadForm(request.GET or None, may_choose_detailed=subscriptions.manages_all(request.user, patient))
    if request.GET and not form.is_valid():
        return HttpResponse(
            "Choose a detail level: discreet or detailed.\n", status=400, content_type="text/plain; charset=utf-8"
        )
    detailed = form.is_bound and form.cleaned_data["detail"] == CalendarSubscription.Detail.DETAILED
    response = HttpResponse(ical.patient_calendar(patient, detailed=detailed), content_type=CALENDAR_TYPE)
    name = "pump-refills.ics" if detailed else "clinic-visits.ics"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _subscription(request, patient, subscription_id) -> CalendarSubscription:
    return get_object_or_404(
        subscriptions.manageable_subscriptions(request.user, patient), public_id=subscription_id
    )


def _remember_link(request, subscription: CalendarSubscription, token: str) -> None:
    """Keep the new link for its one display (the subscribe page pops it)."""
    request.session[NEW_LINK_SESSION_KEY] = {"subscription": str(subscription.public_id), "token": token}


@require_http_methods(["GET", "POST"])
@login_required
def subscription_list(request, public_id):
    patient = access.get_patient(request, public_id)
    # Privacy: drug names only where the patient chose them; a caregiver's own links are discreet.
    may_choose_detailed = subscriptions.manages_all(request.user, patient)
    form = SubscriptionForm(request.POST or None, may_choose_detailed=may_choose_detailed)
    if request.method == "POST" and form.is_valid():
        subscription, token = subscriptions.subscription_create(
            patient=patient, name=form.cleaned_data["name"], detail=form.cleaned_data["detail"], by=request.user
        )
        _remember_link(request, subscription, token)
        return redirect("feeds:subscribe", public_id=patient.public_id, subscription_id=subscription.public_id)
    context = {
        "patient": patient,
        "subscriptions": list(
            subscriptions.manageable_subscriptions(request.user, patient, all_of_them=may_choose_detailed)
        ),
        "form": form,
        "download_form": DownloadForm(may_choose_detailed=may_choose_detailed),
    }
    return render(request, "feeds/subscriptions.html", context, status=400 if form.is_bound else 200)


@require_safe
@login_required
def subscribe(request, public_id, subscription_id):
    patient = access.get_patient(request, public_id)
    subscription = _subscription(request, patient, subscription_id)
    new_link = request.session.get(NEW_LINK_SESSION_KEY)
    link = None
    if new_link and new_link["subscription"] == str(subscription.public_id) and subscription.revoked_at is None:
        del request.session[NEW_LINK_SESSION_KEY]
        https_link = request.build_absolute_uri(reverse("feeds:feed", kwargs={"token": new_link["token"]}))
        link = {
            "https": https_link,
            "webcal": "webcal://" + https_link.split("://", 1)[1],
            "qr": qr_data_uri(https_link),
        }
    response = render(request, "feeds/subscribe.html", {"patient": patient, "subscription": subscription, "link": link})
    # The page may hold the secret link: no cache may keep it.
    response["Cache-Control"] = "private, no-store"
    return response


@require_http_methods(["GET", "POST"])
@login_required
def rename(request, public_id, subscription_id):
    patient = access.get_patient(request, public_id)
    subscription = _subscription(request, patient, subscription_id)
    form = RenameForm(request.POST or None, initial={"name": subscription.name})
    if request.method == "POST" and form.is_valid():
        subscriptions.subscription_rename(subscription=subscription, name=form.cleaned_data["name"])
        messages.success(request, "Calendar renamed.")
        return redirect("feeds:subscriptions", public_id=patient.public_id)
    context = {"patient": patient, "subscription": subscription, "form": form}
    return render(request, "feeds/rename.html", context, status=400 if form.is_bound else 200)


def _active_subscription(request, patient, subscription_id) -> CalendarSubscription:
    subscription = _subscription(request, patient, subscription_id)
    if subscription.revoked_at is not None:
        raise Http404("This calendar link was stopped.")
    return subscription


@require_http_methods(["GET", "POST"])
@login_required
def rotate(request, public_id, subscription_id):
    patient = access.get_patient(request, public_id)
    subscription = _active_subscription(request, patient, subscription_id)
    if request.method == "POST":
        subscription, token = subscriptions.subscription_rotate(subscription=subscription)
        _remember_link(request, subscription, token)
        return redirect("feeds:subscribe", public_id=patient.public_id, subscription_id=subscription.public_id)
    return render(request, "feeds/confirm.html", {"patient": patient, "subscription": subscription, "action": "rotate"})


@require_http_methods(["GET", "POST"])
@login_required
def revoke(request, public_id, subscription_id):
    patient = access.get_patient(request, public_id)
    subscription = _active_subscription(request, patient, subscription_id)
    if request.method == "POST":
        subscriptions.subscription_revoke(subscription=subscription)
        messages.success(request, f"The calendar link “{subscription.name}” no longer works.")
        return redirect("feeds:subscriptions", public_id=patient.public_id)
    return render(request, "feeds/confirm.html", {"patient": patient, "subscription": subscription, "action": "revoke"})
