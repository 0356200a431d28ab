"""Personas built once: staff of clinic A and of clinic B, patient A and B, caregivers, an outsider.

Time is frozen explicitly with time-machine; NOW is a Tuesday afternoon in New York.
"""

import datetime as dt
import re
import time
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from feeds import answers
from patients import search, security
from patients.models import CaregiverAccess, Clinic, Patient, StaffMembership
from schedules import services
from schedules.models import Protocol, TherapyPlan

NOW = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)  # 11:00 in New York, Tuesday 10 March 2026
TODAY = dt.date(2026, 3, 10)
PASSWORD = "correct-horse-battery-staple"


class QuickArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2 as in production, with test-sized costs: production's 100 MB per hash would slow every sign-in."""

    time_cost = 1
    memory_cost = 1024
    parallelism = 1


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["tests.conftest.QuickArgon2PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_cache():
    """Rate-limit counters and feed answers live in the cache and in memory: each test starts with none."""
    cache.clear()
    answers.forget_local()
    yield
    cache.clear()
    answers.forget_local()


@pytest.fixture(autouse=True)
def site_language():
    """A request leaves its language active in the thread that served it: each test starts in the default."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


def page_queries(client, path: str, params=None) -> int:
    """The database queries one GET of a page makes (the page must answer 200)."""
    with CaptureQueriesContext(connection) as context:
        assert client.get(path, params).status_code == 200
    return len(context.captured_queries)


# --- What the user sees: a page read back as a small tree of elements (stdlib html.parser, no new dependency) ---

VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
UNSEEN_TAGS = {"head", "script", "style", "template"}
INLINE_TAGS = {"a", "abbr", "b", "bdi", "cite", "code", "del", "em", "i", "ins", "kbd", "label", "mark", "q", "s",
               "small", "span", "strong", "sub", "sup", "time", "u"}


class Element:
    def __init__(self, tag: str, attrs: dict[str, str]):
        self.tag, self.attrs, self.children = tag, attrs, []

    def text(self) -> str:
        """The words a reader gets: entities decoded, whitespace collapsed, no script, no `hidden` element."""
        return re.sub(r"\s+", " ", "".join(self._words())).strip()

    def _words(self):
        if self.tag in UNSEEN_TAGS or "hidden" in self.attrs:
            return
        apart = "" if self.tag in INLINE_TAGS else " "  # a cell or a paragraph is never glued to the next one
        yield apart
        for child in self.children:
            yield from (child,) if isinstance(child, str) else child._words()
        yield apart

    @property
    def elements(self) -> list["Element"]:
        """The child elements (not their text, not deeper descendants)."""
        return [child for child in self.children if isinstance(child, Element)]

    def find_all(self, tag: str | None = None, **attrs: str) -> list["Element"]:
        """Descendants by tag and attributes; `class_="x"` matches any element whose classes include x."""
        found = []
        for child in self.children:
            if isinstance(child, Element):
                if child._matches(tag, attrs):
                    found.append(child)
                found.extend(child.find_all(tag, **attrs))
        return found

    def find(self, tag: str | None = None, **attrs: str) -> "Element":
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag or '*'} {attrs}> on the page"
        return found[0]

    def _matches(self, tag, attrs) -> bool:
        for name, value in attrs.items():
            if name == "class_":
                if value not in self.attrs.get("class", "").split():
                    return False
            elif self.attrs.get(name) != value:
                return False
        return tag is None or self.tag == tag


class _TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.open = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.open[-1].children.append(element)
        if tag not in VOID_TAGS:
            self.open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.open[-1].children.append(Element(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag):
        for depth in range(len(self.open) - 1, 0, -1):
            if self.open[depth].tag == tag:
                del self.open[depth:]
                return

    def handle_data(self, data):
        self.open[-1].children.append(data)


def page_of(response) -> Element:
    """The rendered page (a response or its HTML) as elements."""
    html = response if isinstance(response, str) else response.content.decode()
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def table_rows(table: Element) -> list[list[str]]:
    """The body rows of a table, each as the words of its cells."""
    body = table.find_all("tbody") or [table]
    return [[cell.text() for cell in row.elements if cell.tag in ("td", "th")] for row in body[0].find_all("tr")]


def field_error(response, field_id: str) -> str:
    """The error shown next to one field, read with it by a screen reader; "" if none."""
    return field_note(response, field_id, "invalid-feedback")


def field_note(response, field_id: str, css_class: str = "form-text") -> str:
    """The words of the note of that class (help text by default) that the field, or for radio buttons their
    fieldset, names in aria-describedby; "" if none."""
    page = page_of(response)
    radios = [fieldset for fieldset in page.find_all("fieldset") if fieldset.find_all(id=f"{field_id}_0")]
    field = radios[0] if radios else page.find(id=field_id)
    for described_by in field.attrs.get("aria-describedby", "").split():
        note = page.find(id=described_by)
        if css_class in note.attrs.get("class", "").split():
            return note.text()
    return ""


def make_user(username: str, **extra):
    return get_user_model().objects.create_user(username, email=f"{username}@example.com", password=PASSWORD, **extra)


def make_clinic(name: str, **extra) -> Clinic:
    clinic = Clinic.objects.create(name=name, phone="+1 555 0100", **extra)
    protocol = Protocol.objects.create(
        clinic=clinic, name="Standard", cycle_steps=Protocol.default_steps(), cycle_count=6
    )
    clinic.default_protocol = protocol
    clinic.save()
    return clinic


def make_patient(clinic: Clinic, name: str, record: str, *, surgery: dt.date, user=None, **plan_extra) -> Patient:
    patient = Patient.objects.create(
        clinic=clinic, name=name, record_number=record, date_of_birth=dt.date(1958, 4, 2), user=user,
        search_text=search.patient_text(name, record),
    )
    services.plan_save(
        plan=TherapyPlan(patient=patient, surgery_date=surgery, protocol=clinic.default_protocol, **plan_extra)
    )
    return patient


@pytest.fixture
def clinic_a(db, frozen):
    return make_clinic("Clinic A", time_zone="America/New_York")


@pytest.fixture
def clinic_b(db, frozen):
    return make_clinic("Clinic B", time_zone="Europe/Berlin")


@pytest.fixture
def staff_a(clinic_a):
    user = make_user("staff_a")
    StaffMembership.objects.create(user=user, clinic=clinic_a)
    return user


@pytest.fixture
def staff_b(clinic_b):
    user = make_user("staff_b")
    StaffMembership.objects.create(user=user, clinic=clinic_b)
    return user


@pytest.fixture
def patient_a(clinic_a):
    return make_patient(
        clinic_a, "Alice Ames", "A-100", surgery=TODAY - dt.timedelta(days=20), user=make_user("patient_a")
    )


@pytest.fixture
def patient_b(clinic_b):
    return make_patient(
        clinic_b, "Bruno Berg", "B-200", surgery=TODAY - dt.timedelta(days=40), user=make_user("patient_b")
    )


@pytest.fixture
def caregiver_a(patient_a):
    user = make_user("caregiver_a")
    CaregiverAccess.objects.create(patient=patient_a, user=user)
    return user


@pytest.fixture
def revoked_caregiver(patient_a):
    user = make_user("revoked_caregiver")
    CaregiverAccess.objects.create(patient=patient_a, user=user, revoked_at=NOW)
    return user


@pytest.fixture
def outsider(db):
    return make_user("outsider")


def verified_totp_device(user) -> TOTPDevice:
    """Clinic staff sign in with a second factor: their authenticator app (TOTP)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


@pytest.fixture
def client_for():
    """A test client signed in as the given user; clinic staff have also passed their second factor."""

    def build(user) -> Client:
        client = Client()
        client.force_login(user)
        session = client.session
        # As the sign-in left it, so a first request has no session to write (query counts stay exact).
        session[security.SIGNED_IN_AT] = session[security.LAST_SEEN_AT] = time.time()
        session[security.USER_AGENT] = ""  # the test client sends none
        session[security.IS_STAFF] = user.is_staff or user.memberships.exists()
        session[security.STAFF_CHECKED_AT] = time.time()
        if session[security.IS_STAFF]:
            session[DEVICE_ID_SESSION_KEY] = verified_totp_device(user).persistent_id
        session.save()
        return client

    return build
