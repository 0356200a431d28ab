"""Read a feed with three independent parsers (icalendar, vobject, and ical.js under node) and check they agree.

`read(body)` returns the events as all three see them, in one neutral shape: timed starts and ends as UTC
instants, all-day ones as dates. ical.js is the parser of Thunderbird and many web calendars; it runs from
tests/js (`make test` installs it with `npm ci`).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import icalendar
import vobject

JS = Path(__file__).parent / "js"
NODE = shutil.which("node") or "node"


@dataclass(frozen=True)
class Seen:
    uid: str
    summary: str
    start: str  # "2027-03-14T13:30:00Z" for an instant, "2027-03-14" for a date
    end: str
    description: str
    location: str
    status: str
    url: str
    sequence: int


@dataclass(frozen=True)
class Calendar:
    name: str
    events: list[Seen]


def _moment(value) -> str:
    if isinstance(value, dt.datetime):
        assert value.tzinfo is not None, "a floating time: parsers would disagree on its instant"
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def with_icalendar(body: bytes) -> Calendar:
    calendar = icalendar.Calendar.from_ical(body)
    events = [
        Seen(
            uid=str(e["UID"]), summary=str(e["SUMMARY"]), start=_moment(e.start), end=_moment(e.end),
            description=str(e.get("DESCRIPTION", "")), location=str(e.get("LOCATION", "")),
            status=str(e.get("STATUS", "")), url=str(e.get("URL", "")), sequence=int(e.get("SEQUENCE", 0)),
        )
        for e in calendar.walk("VEVENT")
    ]
    return Calendar(str(calendar.get("X-WR-CALNAME", "")), events)


def with_vobject(body: bytes) -> Calendar:
    calendar = vobject.readOne(body.decode())

    def text(event, name: str) -> str:
        return str(getattr(event, name).value) if hasattr(event, name) else ""

    events = [
        Seen(
            uid=text(e, "uid"), summary=text(e, "summary"), start=_moment(e.dtstart.value),
            end=_moment(e.dtend.value), description=text(e, "description"), location=text(e, "location"),
            status=text(e, "status"), url=text(e, "url"), sequence=int(text(e, "sequence") or 0),
        )
        for e in calendar.contents.get("vevent", [])
    ]
    name = calendar.contents["x-wr-calname"][0].value if "x-wr-calname" in calendar.contents else ""
    return Calendar(name, events)


def with_icaljs(body: bytes) -> Calendar:
    result = subprocess.run(
        [NODE, str(JS / "parse.mjs")], input=body, capture_output=True, check=True, cwd=JS, timeout=60
    )
    data = json.loads(result.stdout)

    def moment(value: str) -> str:
        return value if len(value) == 10 else value.replace(".000Z", "Z")

    events = [
        Seen(
            uid=e["uid"], summary=e["summary"] or "", start=moment(e["start"]), end=moment(e["end"]),
            description=e["description"] or "", location=e["location"] or "", status=e["status"] or "",
            url=e["url"] or "", sequence=e["sequence"] or 0,
        )
        for e in data["events"]
    ]
    return Calendar(data["name"] or "", events)


def conforms(body: bytes) -> None:
    """What RFC 5545 (and RFC 5546, by its absence) asks of every feed we write."""
    assert body.startswith(b"BEGIN:VCALENDAR\r\n") and body.endswith(b"END:VCALENDAR\r\n")
    assert all(len(line) <= 75 for line in body.split(b"\r\n")), "lines are folded at 75 octets"
    calendar = icalendar.Calendar.from_ical(body)
    assert calendar["VERSION"] == "2.0" and calendar.get("PRODID")
    assert "METHOD" not in calendar, "a feed is not an iTIP message"
    assert calendar.walk("VTIMEZONE") == [], "timed visits are UTC instants"
    uids = []
    for event in calendar.walk("VEVENT"):
        for name in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "SEQUENCE", "STATUS"):
            assert name in event, name
        assert event["DTSTAMP"].dt.utcoffset() == dt.timedelta(0)
        assert event.end > event.start
        assert type(event.start) is type(event.end), "both dates or both instants"
        assert event["STATUS"] in ("CONFIRMED", "TENTATIVE")
        uids.append(str(event["UID"]))
    assert len(uids) == len(set(uids)), "a UID names one event"


def read(body: bytes) -> Calendar:
    """The calendar as icalendar reads it, after checking that it conforms and that vobject and ical.js read
    exactly the same."""
    conforms(body)
    first = with_icalendar(body)
    for other in (with_vobject(body), with_icaljs(body)):
        assert other == first
    return first
