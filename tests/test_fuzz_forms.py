"""Every form of the site, fuzzed: no input gives a 500, and rejected input changes nothing.

The forms are found by crawling every page as a member of staff and as a patient (so a new form is
fuzzed without touching this file); hypothesis fills their fields with hostile and absurd values.
"""

import datetime as dt
from collections import Counter
from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.contrib import messages
from django.db import connection
from django.urls import reverse
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from feeds import subscriptions
from schedules import services
from schedules.models import ClinicClosure
from tests.conftest import NOW, TODAY
from tests.test_access_matrix import site_patterns

# Per form: the four inputs that turn a missing check into a 500 or a bad row (below), then random hostile
# values. Every random case of a form with required fields used to fail the same first check, so 25 of them
# bought little beyond the first few: 4 chosen plus 8 random cases keep what the test finds at half the cost.
GENERATED_PER_FORM = 8
# Each applied to every field at once: nothing (the required checks), a NUL byte (PostgreSQL refuses it in text:
# a 500 where a form lets it through), text far over any max_length (a DataError on PostgreSQL), and a negative
# number (the database's check constraints).
CHOSEN = {"nothing": "", "a NUL byte": "\x00", "over-long text": "a" * 5000, "a negative number": "-1"}
# Whatever else a form accepts, these two are never valid anywhere: each must be rejected by every form that writes.
NEVER_VALID = ("a NUL byte", "over-long text")
EXAMPLES_PER_FORM = len(CHOSEN) + GENERATED_PER_FORM
# Forms that take any text and so accept most hostile values, with how many cases they still reject.
# The calendar wording form is two free-text fields (a title, a calendar name): most hostile text is valid there.
MOSTLY_ACCEPTED = {("q",): 0, ("name",): 2, ("discreet_title", "calendar_name", "detail"): 2}
# Forms that only read (the patient search keeps its query in the session): no case may change the database.
READS = {("q",)}
MIN_FORMS = 15  # the crawl finds every form of the site; fewer means a page or a fixture broke
# Forms whose job is to sign in or out: fuzzing them would only exercise the throttle.
SKIP_ACTIONS = {"/accounts/login/", "/accounts/logout/"}


class FormParser(HTMLParser):
    """Collects each POST form's action and field names (hidden values kept: they carry ids)."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "get").lower() == "post":
            self.forms.append({"action": attrs.get("action") or "", "fields": {}, "hidden": {}})
        elif self.forms and tag in ("input", "select", "textarea") and attrs.get("name"):
            name = attrs["name"]
            if name == "csrfmiddlewaretoken":
                return
            if attrs.get("type") == "hidden":
                self.forms[-1]["hidden"][name] = attrs.get("value", "")
            else:
                self.forms[-1]["fields"][name] = attrs.get("type") or tag


def database_fingerprint() -> tuple:
    """Row counts of every table in one query, historical ones included: a save of a tracked model adds one."""
    skip = {"sessions.session", "axes.accessattempt", "axes.accesslog", "patients.accessevent"}
    tables = [m._meta.db_table for m in apps.get_models() if m._meta.label_lower not in skip]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {quote(t)})" for t in tables))  # noqa: S608
        return tuple(cursor.fetchone())


hostile = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "0", "-1", "-30.5", "1e9", "99999999999999999999", "NaN", "2026-02-30", "1899-01-01",
                     "3000-01-01", "31/12/2026", "'; DROP TABLE patients_patient; --", "<script>x</script>",
                     "\x00", "a" * 5000, "fudr", "heparinized_saline", "toxicity", "true", "on", "12:75", "25:00"]),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1)).map(dt.date.isoformat),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
)


def discover_forms(http, kwargs) -> list[dict]:
    forms = {}
    for name, params in site_patterns():
        if any(p not in kwargs for p in params):
            continue
        url = reverse(name, kwargs={p: kwargs[p] for p in params})
        response = http.get(url)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = FormParser()
        parser.feed(response.content.decode())
        for form in parser.forms:
            action = form["action"] or url
            if action not in SKIP_ACTIONS and form["fields"]:
                forms[(action, tuple(sorted(form["fields"])))] = form | {"action": action}
    return list(forms.values())


@pytest.fixture
def crawled(clinic_a, staff_a, patient_a, caregiver_a, client_for, time_machine):
    time_machine.move_to(NOW, tick=False)
    fill, _ = services.fill_record(plan=patient_a.plan, date=TODAY, infusate="fudr", by=staff_a)
    chemo = patient_a.plan.scheduled_fills.filter(kind="chemo", recorded=False).order_by("sequence").first()
    hold, _ = services.hold_add(plan=patient_a.plan, sequence=chemo.sequence, reason="labs", by=staff_a)
    subscription, _ = subscriptions.subscription_create(
        patient=patient_a, name="Phone", detail="discreet", by=patient_a.user
    )
    closure = ClinicClosure.objects.create(clinic=clinic_a, date=TODAY + dt.timedelta(days=60), name="Holiday")
    kwargs = {"public_id": patient_a.public_id, "clinic_id": clinic_a.pk, "fill_id": fill.pk, "hold_id": hold.pk,
              "subscription_id": subscription.public_id, "grant_id": caregiver_a.caregiver_grants.get().pk,
              "closure_id": closure.pk, "protocol_id": clinic_a.default_protocol.pk, "year": 2026, "month": 3}
    found = {}
    for user in (staff_a, patient_a.user, caregiver_a):
        for form in discover_forms(client_for(user), kwargs):
            # A form two personas share (password change, two-factor set-up) is fuzzed once, as the first.
            found.setdefault((form["action"], tuple(form["fields"])), (user, form))
    return list(found.values())


def rejected(response) -> bool:
    """Whether the site refused the input, as the user is told: an error status, the form shown again (200),
    or a redirect carrying a warning or an error (the hold, caregiver and search forms answer so)."""
    if response.status_code != 302:
        return True
    queued = getattr(response.wsgi_request, "_messages", None)
    return any(m.level >= messages.WARNING for m in getattr(queued, "_queued_messages", ()))


def fuzzer(http, form, tally: Counter):
    fields = form["fields"]

    @settings(
        max_examples=GENERATED_PER_FORM,
        deadline=None,
        database=None,
        derandomize=True,  # the same cases every run, so the counts asserted below are stable
        phases=[Phase.explicit, Phase.generate],  # (no shrinking: a failure's message carries its input)
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.fixed_dictionaries({name: hostile for name in fields}))
    def post(data):
        before = database_fingerprint()
        response = http.post(form["action"], {**form["hidden"], **data})
        tally["cases"] += 1
        assert response.status_code < 500, f"{form['action']} {data!r} -> {response.status_code}"
        refused = rejected(response)
        tally["rejected"] += refused
        for name, value in CHOSEN.items():
            if set(data.values()) == {value}:
                tally[name] += refused
        if refused or tuple(form["fields"]) in READS:  # whatever the status: nothing may have changed
            assert database_fingerprint() == before, f"{form['action']} {data!r} changed the database"

    for value in CHOSEN.values():
        post = example({name: value for name in fields})(post)
    return post


def test_every_form_survives_hostile_input(crawled, client_for):
    assert len(crawled) >= MIN_FORMS, [form["action"] for _, form in crawled]
    tallies = {}
    for user, form in crawled:
        tally = tallies[(form["action"], tuple(form["fields"]))] = Counter()
        fuzzer(client_for(user), form, tally)()
    for (action, fields), tally in tallies.items():
        print(action, fields, f"{tally['cases']} cases, {tally['rejected']} rejected")
    for (action, fields), tally in tallies.items():
        assert tally["cases"] == EXAMPLES_PER_FORM, (action, tally)
        # Hostile values are mostly wrong, so most cases must be rejected: a form that rejects none is not being
        # checked at all. Free-text forms (a search, a link's name) accept most of them.
        least = MOSTLY_ACCEPTED.get(fields, EXAMPLES_PER_FORM // 2)
        assert tally["rejected"] >= least, (action, tally)
        if fields not in READS:
            assert all(tally[name] for name in NEVER_VALID), (action, tally)


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=st.text(min_size=1, max_size=300).filter(lambda t: "/" not in t and "\n" not in t))
def test_the_feed_url_answers_404_for_any_unknown_link(client, db, token):
    from urllib.parse import quote

    response = client.get(f"/feeds/{quote(token, safe='')}.ics")
    assert response.status_code == 404
