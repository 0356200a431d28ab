"""Every URL of the site, for every persona, with the ids of objects that persona must not reach.

Each answer must be a 404 (or 405 for a method the view does not take, or a redirect to sign-in for the
anonymous): never the data, never a change. A URL pattern with a parameter this test does not know how
to fill fails the test, so a new page cannot slip past the matrix.
"""

import datetime as dt
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from feeds import subscriptions
from patients.models import CaregiverAccess
from schedules import services
from schedules.models import ClinicClosure
from tests.conftest import NOW, TODAY, make_patient, make_user

# URL names that are public by design, or reached only by a secret in the URL (feeds, reset links).
PUBLIC = {
    "login", "logout", "password_reset", "password_reset_done", "password_reset_confirm", "password_reset_complete",
    "healthz", "readyz",
    "set_language",  # the language switch on the sign-in page: a cookie, no data
    "portal:living",  # general advice, no patient data: easy to share with family
    "feeds:feed",  # a calendar app has only the secret link (tests/test_feeds.py: unknown 404, revoked 410)
    "notices:unsubscribe",  # a signed link from an email, no sign-in (RFC 8058; tests/notices: bad or forged 404)
    "manifest", "service_worker",  # the app's name, icons and offline code: the same for everyone, no data
}
ADMIN_NAMESPACE = "admin"


@dataclass
class Target:
    """The objects of one patient (and their clinic) that a persona must not reach."""

    patient: object
    fill: object
    hold: object
    subscription: object
    grant: object
    clinic: object
    closure: object
    protocol: object


# Parameters that name a container (the patient or clinic whose page it is) rather than an object in it.
CONTAINERS = {"public_id", "clinic_id"}


def walk(patterns, prefix="", namespace=None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield name, entry, prefix + str(entry.pattern)


def site_patterns():
    """(URL name, parameter names) of every named page of the site except the Django admin."""
    seen = {}
    for name, entry, route in walk(get_resolver().url_patterns):
        if not name or name.startswith(f"{ADMIN_NAMESPACE}:") or route.startswith("admin/"):
            continue
        params = tuple(sorted(entry.pattern.converters)) if hasattr(entry.pattern, "converters") else ()
        seen[name] = params
    return sorted(seen.items())


def fill_kwargs(params, target: Target, container: Target | None = None) -> dict:
    """URL parameters naming the target's objects, inside the container's patient and clinic (default: the target's)."""
    container = container or target
    values = {
        "public_id": container.patient.public_id,
        "clinic_id": container.clinic.pk,
        "fill_id": target.fill.pk,
        "hold_id": target.hold.pk,
        "subscription_id": target.subscription.public_id,
        "grant_id": target.grant.pk,
        "closure_id": target.closure.pk,
        "protocol_id": target.protocol.pk,
        "year": 2026,
        "month": 3,
        "section": "overdue",  # a dashboard section: a name, like year and month, not an object
    }
    unknown = set(params) - set(values)
    assert not unknown, f"the access matrix does not know how to fill {unknown}: add them above"
    return {p: values[p] for p in params}


@pytest.fixture
def world(clinic_a, clinic_b, staff_a, staff_b, patient_a, patient_b, caregiver_a, revoked_caregiver, outsider):
    patient_c = make_patient(clinic_a, "Carla Cruz", "A-300", surgery=TODAY - dt.timedelta(days=30),
                             user=make_user("patient_c"))
    caregiver_b = make_user("caregiver_b")
    CaregiverAccess.objects.create(patient=patient_b, user=caregiver_b)
    closures = {
        clinic: ClinicClosure.objects.create(clinic=clinic, date=TODAY + dt.timedelta(days=60), name="Holiday")
        for clinic in (clinic_a, clinic_b)
    }
    targets = {}
    for patient, staff in ((patient_a, staff_a), (patient_b, staff_b), (patient_c, staff_a)):
        fill, _ = services.fill_record(plan=patient.plan, date=TODAY, infusate="fudr", by=staff)
        chemo = patient.plan.scheduled_fills.filter(kind="chemo", recorded=False).order_by("sequence").first()
        hold, _ = services.hold_add(plan=patient.plan, sequence=chemo.sequence, reason="labs", by=staff)
        subscription, _ = subscriptions.subscription_create(
            patient=patient, name="Phone", detail="discreet", by=patient.user
        )
        grant = CaregiverAccess.objects.filter(patient=patient).first() or CaregiverAccess.objects.create(
            patient=patient, user=make_user(f"helper_{patient.record_number}")
        )
        clinic = patient.clinic
        targets[patient.record_number] = Target(
            patient, fill, hold, subscription, grant, clinic, closures[clinic], clinic.default_protocol
        )
    a, b, c = targets["A-100"], targets["B-200"], targets["A-300"]
    # persona -> (user or None, its own patient and clinic or None, [objects it must not reach])
    return {
        "anonymous": (None, None, [a, b]),
        "patient A": (patient_a.user, a, [b, c]),
        "patient B": (patient_b.user, b, [a]),
        "caregiver of A": (caregiver_a, a, [b, c]),
        "staff of clinic A": (staff_a, a, [b]),
        "staff of clinic B": (staff_b, b, [a, c]),
        "revoked caregiver": (revoked_caregiver, None, [a]),
        "outsider": (outsider, None, [a, b]),
    }


def refused(response, anonymous: bool) -> bool:
    if response.status_code in (404, 405):
        return True
    if anonymous and response.status_code == 302:
        return response.url.startswith(reverse("login"))
    return False


def test_no_persona_reaches_what_is_not_theirs(world, client_for, client, time_machine):
    time_machine.move_to(NOW, tick=False)
    checked = 0
    failures = []
    patterns = [(name, params) for name, params in site_patterns() if name not in PUBLIC]
    for persona, (user, own, targets) in world.items():
        http = client_for(user) if user else client
        for name, params in patterns:
            if not params:
                continue  # pages without an object are checked per persona below and in their own test files
            # Someone else's objects, under their own patient and clinic, and (the classic hole) under the
            # persona's own patient and clinic, where the URL names an object inside it.
            urls = [(t, None) for t in targets]
            if own is not None and set(params) - CONTAINERS - {"year", "month", "section"}:
                urls += [(t, own) for t in targets]
            for target, container in urls:
                url = reverse(name, kwargs=fill_kwargs(params, target, container))
                for method in ("get", "post"):
                    response = getattr(http, method)(url)
                    checked += 1
                    if not refused(response, anonymous=user is None):
                        failures.append(f"{persona} {method.upper()} {url} ({name}) -> {response.status_code}")
    print(f"access matrix: {len(patterns)} URL patterns x {len(world)} personas, {checked} requests")
    assert not failures, "\n".join(failures)
    assert checked > 0


def test_anonymous_visitors_are_sent_to_sign_in_from_every_private_page(client, db):
    pages = [name for name, params in site_patterns() if not params and name not in PUBLIC]
    for name in pages:
        for method in ("get", "post"):
            response = getattr(client, method)(reverse(name))
            assert refused(response, anonymous=True), f"{method.upper()} {name} -> {response.status_code}"
    assert pages


def test_staff_pages_are_404_for_patients_and_caregivers(patient_a, caregiver_a, client_for):
    pages = [name for name, params in site_patterns() if not params and name.startswith("staff:")]
    for user in (patient_a.user, caregiver_a):
        http = client_for(user)
        for name in pages:
            assert http.get(reverse(name)).status_code == 404, name
    assert pages


def test_every_signed_in_page_is_kept_out_of_caches(world, client_for, time_machine):
    """Health data must not stay in a shared computer's browser cache or a proxy: private, no-store."""
    time_machine.move_to(NOW, tick=False)
    pages = 0
    failures = []
    for persona, (user, own, _) in world.items():
        if user is None or own is None:
            continue
        http = client_for(user)
        for name, params in site_patterns():
            if name in PUBLIC:
                continue
            response = http.get(reverse(name, kwargs=fill_kwargs(params, own)))
            if response.status_code != 200:
                continue
            pages += 1
            cache_control = {part.strip() for part in response.get("Cache-Control", "").split(",")}
            if not {"private", "no-store"} <= cache_control:
                failures.append(f"{persona} GET {name}: Cache-Control {response.get('Cache-Control')!r}")
    admin_page = client_for(make_user("root", is_staff=True, is_superuser=True)).get(reverse("admin:index"))
    assert "no-store" in admin_page["Cache-Control"]
    assert not failures, "\n".join(failures)
    assert pages > 20
