"""The calendar feed (reached by its secret link alone), the .ics download, and managing subscriptions.

The feed's token is a secret: it is never logged (runserver's request log is off in settings; nothing
here logs), never put in the cache (only part of its hash) and shown to a person once.
"""

import functools
import hashlib
import time
from urllib.parse import urlencode

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, HttpResponseNotFound, HttpResponseNotModified
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from feeds import answers, fetchlog, ical, subscriptions
from feeds.models import FeedSettings
from patients import access
from schedules.models import CalendarSubscription

CALENDAR_TYPE = "text/calendar; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
# Calendar apps keep their own schedule (REFRESH-INTERVAL); this only stops a burst of refetches.
FEED_MAX_AGE = 15 * 60


class SubscriptionForm(forms.ModelForm):
    class Meta:
        model = CalendarSubscription
        fields = ["name", "detail", "language"]
        labels = {
            "name": _("Name of this calendar link"),
            "detail": _("What the calendar shows"),
            "language": _("Language of the calendar"),
        }
        help_texts = {
            "name": _("Who or what it is for, e.g. “Maria's phone”."),
            "language": _("The events' titles and descriptions, in the language the person using this calendar reads."),
        }
        widgets = {"detail": forms.RadioSelect}

    def __init__(self, *args, may_choose_detailed: bool = True, title: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        said = gettext("Discreet: every event says “%(title)s”, no drug names") % {"title": title}
        choices = [(CalendarSubscription.Detail.DISCREET, said)]
        if may_choose_detailed:
            detailed = gettext("Detailed: “Pump refill: start FUDR”, and the phases")
            choices.append((CalendarSubscription.Detail.DETAILED, detailed))
        else:
            self.fields["detail"].help_text = _(
                "Drug names and phases appear only in calendars the patient (or their clinic) sets up."
            )
        self.fields["detail"].choices = choices
        # Each language by its own name; the person making the link reads the active one, so it comes first.
        self.fields["language"].choices = [(code, name) for code, name in settings.LANGUAGES]
        self.initial.setdefault("language", get_language())
        self.fields["language"].required = False  # left out: the language of the person making the link

    def clean_language(self):
        return self.cleaned_data["language"] or get_language()


class FeedSettingsForm(forms.ModelForm):
    class Meta:
        model = FeedSettings
        fields = ["discreet_title", "calendar_name"]
        labels = {
            "discreet_title": _("Title of each visit (discreet calendars)"),
            "calendar_name": _("Name of the calendar"),
        }


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


FEED_METHODS = ("GET", "HEAD")


def _feed_headers(response: HttpResponse, *, filename: str | None = None) -> HttpResponse:
    response["Cache-Control"] = f"private, max-age={FEED_MAX_AGE}"
    response["X-Robots-Tag"] = "noindex, nofollow"
    if response.status_code != 304:  # a 304 may only repeat the 200's length (RFC 9110 8.6): none is simpler
        # Set here, not by CommonMiddleware: the feed is answered ahead of it (feeds.middleware).
        response["Content-Length"] = str(len(response.content))
    if filename:
        response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def _calendar_response(request, snapshot: ical.Snapshot, *, filename: str) -> HttpResponse:
    last_modified = int(snapshot.last_modified.timestamp())
    response = get_conditional_response(request, etag=snapshot.etag, last_modified=last_modified)
    if response is None:
        response = HttpResponse(snapshot.body, content_type=CALENDAR_TYPE)
    response["ETag"] = snapshot.etag
    response["Last-Modified"] = http_date(last_modified)
    return _feed_headers(response, filename=filename)


def _filename(detailed: bool) -> str:
    return "pump-refills.ics" if detailed else "clinic-visits.ics"


def _page_url(request, patient) -> str:
    return request.build_absolute_uri(reverse("portal:patient_home", args=[patient.public_id]))


def _answer_for(request, token: str) -> answers.Answer | None:
    """What this link answers now, from the database (the cached answer was missing or due a check)."""
    link = subscriptions.link_for_token(token)
    if link is None:
        return None
    subscription = link.subscription
    detailed = subscription.is_detailed
    common = {"filename": _filename(detailed), "subscription_id": subscription.pk, "checked_at": time.time()}
    if link.live:
        snapshot = ical.patient_feed(subscription.patient, detailed=detailed,
                                     page_url=_page_url(request, subscription.patient), language=subscription.language)
    elif link.gone(timezone.now()):
        return answers.Answer(410, TEXT_TYPE, b"This calendar link was stopped.\n", **common)
    else:
        with translation.override(subscription.language):
            name = ical.calendar_name(ical.settings_of(subscription.patient), detailed=detailed)
            body = ical.stopped_calendar(name)
        snapshot = ical.Snapshot(f'"{hashlib.sha256(body).hexdigest()[:32]}"', link.stopped_at, body)
    return answers.Answer(200, CALENDAR_TYPE, snapshot.body, snapshot.etag, int(snapshot.last_modified.timestamp()),
                          **common)


@functools.lru_cache(maxsize=1024)
def _http_date(timestamp: int) -> str:
    # A link's Last-Modified changes only with its calendar: formatted once, not on every poll.
    return http_date(timestamp)


def _respond(request, answer: answers.Answer) -> HttpResponse:
    response = None
    if answer.status == 200 and request.META.get("HTTP_IF_NONE_MATCH") == answer.etag:
        # The usual poll: the calendar app sends back the ETag it was given. Said without parsing the header.
        response = HttpResponseNotModified()
    elif answer.status == 200:
        response = get_conditional_response(request, etag=answer.etag, last_modified=answer.last_modified)
    if response is None:
        response = HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)
    if answer.etag:
        response["ETag"] = answer.etag
        response["Last-Modified"] = _http_date(answer.last_modified)
    return _feed_headers(response, filename=answer.filename if answer.status == 200 else None)


def _not_found(request) -> HttpResponse:
    # Plain text in the reader's language, set here: this view runs ahead of the page middleware
    # (feeds.middleware), so neither LocaleMiddleware nor the page templates' context has run.
    with translation.override(translation.get_language_from_request(request)):
        body = gettext("No such calendar.") + "\n"
    return _feed_headers(HttpResponseNotFound(body, content_type=TEXT_TYPE))


# Calendar apps cannot sign in or send a CSRF token, and a feed only reads. Other methods get a 405 here, before
# Django's CSRF check or require_http_methods could log the request path (which holds the secret link).
@csrf_exempt
def feed(request, token: str):
    """The hot path: one cache round trip while the answer is fresh (feeds.answers), no database write."""
    if request.method not in FEED_METHODS:
        return HttpResponseNotAllowed(FEED_METHODS)
    link = subscriptions.hash_token(token)[:32]
    now = time.time()
    poll = answers.poll(link, now=now)
    if poll.count > answers.rate_limit():
        response = HttpResponse(
            "Too many requests for this calendar link. Try again later.\n",
            status=429,
            content_type=TEXT_TYPE,
        )
        response["Retry-After"] = str(poll.retry_after)
        return _feed_headers(response)
    answer = poll.answer
    if answer is None or not answer.fresh(now):
        answer = _answer_for(request, token)
        if answer is None:
            return _not_found(request)
        answers.remember(link, answer)
    if not poll.buffered:
        fetchlog.record_one(subscription_id=answer.subscription_id, at=timezone.now())
    return _respond(request, answer)


@require_safe
@login_required
def download(request, public_id):
    patient = access.get_patient(request, public_id)
    form = DownloadForm(request.GET or None, may_choose_detailed=subscriptions.manages_all(request.user, patient))
    if request.GET and not form.is_valid():
        return HttpResponse(
            gettext("Choose a detail level: discreet or detailed.") + "\n",
            status=400,
            content_type=TEXT_TYPE,
        )
    detailed = form.is_bound and form.cleaned_data["detail"] == CalendarSubscription.Detail.DETAILED
    # A file downloaded once: in the language of the person downloading it.
    snapshot = ical.patient_feed(
        patient, detailed=detailed, page_url=_page_url(request, patient), language=get_language()
    )
    response = HttpResponse(snapshot.body, content_type=CALENDAR_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{_filename(detailed)}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _subscription(request, patient, subscription_id) -> CalendarSubscription:
    return get_object_or_404(
        subscriptions.manageable_subscriptions(request.user, patient), public_id=subscription_id
    )


def _subscribe_page(request, patient, subscription, *, token: str | None = None) -> HttpResponse:
    """How to add a calendar; with the new link itself when this response answers the POST that made it.

    The secret goes out in this one response and is kept nowhere (not in the session, whose table a database
    copy would include): only its hash is stored.
    """
    settings = ical.settings_of(patient)
    link = None
    if token is not None:
        https_link = request.build_absolute_uri(reverse("feeds:feed", kwargs={"token": token}))
        webcal = "webcal://" + https_link.split("://", 1)[1]
        link = {
            "https": https_link,
            "webcal": webcal,
            "google": "https://calendar.google.com/calendar/r?" + urlencode({"cid": webcal}),
            "outlook": "https://outlook.live.com/calendar/0/addfromweb?"
            + urlencode({"url": https_link, "name": ical.calendar_name(settings, detailed=subscription.is_detailed)}),
            "qr": qr_data_uri(https_link),
        }
    context = {"patient": patient, "subscription": subscription, "link": link, "title": ical.discreet_title(settings)}
    response = render(request, "feeds/subscribe.html", context)
    # The page may hold the secret link: no cache may keep it.
    response["Cache-Control"] = "private, no-store"
    return response


@require_http_methods(["GET", "POST"])
@login_required
def subscription_list(request, public_id):
    patient = access.get_patient(request, public_id)
    # Privacy: drug names only where the patient chose them; a caregiver's own links are discreet.
    may_choose_detailed = subscriptions.manages_all(request.user, patient)
    if request.method == "GET":
        fetchlog.flush_quietly()  # "Last updated by a calendar app" from the fetches buffered until now
    title = ical.discreet_title(ical.settings_of(patient))
    form = SubscriptionForm(request.POST or None, may_choose_detailed=may_choose_detailed, title=title)
    if request.method == "POST" and form.is_valid():
        subscription, token = subscriptions.subscription_create(
            patient=patient, name=form.cleaned_data["name"], detail=form.cleaned_data["detail"], by=request.user,
            language=form.cleaned_data["language"],
        )
        return _subscribe_page(request, patient, subscription, token=token)
    context = {
        "patient": patient,
        "subscriptions": list(
            subscriptions.manageable_subscriptions(request.user, patient, all_of_them=may_choose_detailed)
        ),
        "form": form,
        "download_form": DownloadForm(may_choose_detailed=may_choose_detailed),
        "settings_form": _settings_form(patient) if may_choose_detailed else None,
        "title": title,
    }
    return render(request, "feeds/subscriptions.html", context, status=400 if form.is_bound else 200)


def _settings_form(patient, data=None) -> FeedSettingsForm:
    return FeedSettingsForm(data, instance=ical.settings_of(patient) or FeedSettings(patient=patient))


@require_POST
@login_required
def calendar_settings(request, public_id):
    """The patient's (or their clinic's) words for every calendar: a caregiver cannot change them."""
    patient = access.get_patient(request, public_id)
    if not subscriptions.manages_all(request.user, patient):
        raise Http404(_("Only the patient or their clinic chooses these."))
    form = _settings_form(patient, request.POST)
    if form.is_valid():
        subscriptions.feed_settings_save(patient=patient, **form.cleaned_data)
        messages.success(request, _("Calendar wording saved. Calendar apps show it at their next update."))
        return redirect("feeds:subscriptions", public_id=patient.public_id)
    context = {"patient": patient, "form": form}
    return render(request, "feeds/settings.html", context, status=400)


@require_safe
@login_required
def subscribe(request, public_id, subscription_id):
    patient = access.get_patient(request, public_id)
    subscription = _subscription(request, patient, subscription_id)
    return _subscribe_page(request, patient, subscription)


@require_http_methods(["GET", "POST"])
@login_required
def rename(request, public_id, subscription_id):
    patient = access.get_patient(request, public_id)
    subscription = _subscription(request, patient, subscription_id)
    form = RenameForm(request.POST or None, initial={"name": subscription.name})
    if request.method == "POST" and form.is_valid():
        subscriptions.subscription_rename(subscription=subscription, name=form.cleaned_data["name"])
        messages.success(request, _("Calendar renamed."))
        return redirect("feeds:subscriptions", public_id=patient.public_id)
    context = {"patient": patient, "subscription": subscription, "form": form}
    return render(request, "feeds/rename.html", context, status=400 if form.is_bound else 200)


def _active_subscription(request, patient, subscription_id) -> CalendarSubscription:
    subscription = _subscription(request, patient, subscription_id)
    if subscription.revoked_at is not None:
        raise Http404(_("This calendar link was stopped."))
    return subscription


@require_http_methods(["GET", "POST"])
@login_required
def rotate(request, public_id, subscription_id):
    patient = access.get_patient(request, public_id)
    subscription = _active_subscription(request, patient, subscription_id)
    if request.method == "POST":
        subscription, token = subscriptions.subscription_rotate(subscription=subscription)
        return _subscribe_page(request, patient, subscription, token=token)
    return render(request, "feeds/confirm.html", {"patient": patient, "subscription": subscription, "action": "rotate"})


@require_http_methods(["GET", "POST"])
@login_required
def revoke(request, public_id, subscription_id):
    patient = access.get_patient(request, public_id)
    subscription = _active_subscription(request, patient, subscription_id)
    if request.method == "POST":
        subscriptions.subscription_revoke(subscription=subscription)
        said = gettext("The calendar link “%(name)s” no longer works.") % {"name": subscription.name}
        messages.success(request, said)
        return redirect("feeds:subscriptions", public_id=patient.public_id)
    return render(request, "feeds/confirm.html", {"patient": patient, "subscription": subscription, "action": "revoke"})
