"""The feed's hot path: answered from memory, counted in memory, no database read or write.

Two levels. Redis (shared by every process) holds each link's last answer (status, ETag, Last-Modified, body),
the link's request count in the current rate window, and the fetches per link per day that the access log has
not received yet (`feeds.fetchlog.flush` moves them, run by the worker). Each process also keeps the answers
and counts it saw in memory: it serves an answer from memory for FEED_LOCAL_SECONDS (1) and pushes its counts
to Redis at most that often, in one pipeline that also fetches the answer it needs. A calendar poll therefore
usually costs no network round trip at all: under load a Redis round trip costs a context switch, which is
most of what a hello-world view costs.

An answer is served for FEED_ANSWER_SECONDS (60) after it was checked against the database; after that the next
poll checks again (one aggregate query; the body is rebuilt only when an input changed). Changes made through
the feeds' own services (stop, new link, wording) drop the answers at once (other processes: within
FEED_LOCAL_SECONDS); changes to the schedule reach a feed within FEED_ANSWER_SECONDS, far inside the 15
minutes a calendar app may keep a copy (Cache-Control: max-age). The rate limit can overshoot by what the other
processes counted in their last FEED_LOCAL_SECONDS.

Links are named by the first half of their token's SHA-256, never by the token. Redis down: every call here
answers "nothing cached" and the caller works from the database (and writes the fetch there), so feeds keep
working, only slower. Without Redis (development, most tests) Django's cache API does the same, unbuffered.
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# Calendar apps poll every few hours; a link fetched more often than this is misbehaving or leaked.
RATE_LIMIT = 60  # settings.FEED_RATE_LIMIT, if set, replaces it (the benchmark lifts it)
RATE_WINDOW_SECONDS = 10 * 60
ANSWER_TTL = 24 * 60 * 60
FETCHES = "feed-fetches"  # hash: "<link>:<UTC day>" -> fetches not yet in the access log
FETCHED_AT = "feed-fetched-at"  # hash: "<link>:<UTC day>" -> Unix time of the last of them
LOCAL_ANSWERS_MAX = 500  # answers one process keeps in memory (about 30 kB each)


@dataclass(frozen=True)
class Answer:
    """What a feed URL answers, with whose link it is (for the access log when there is no buffer)."""

    status: int
    content_type: str
    body: bytes
    etag: str = ""
    last_modified: int = 0
    filename: str = ""
    subscription_id: int = 0
    checked_at: float = 0.0

    def fresh(self, now: float) -> bool:
        return now - self.checked_at < settings.FEED_ANSWER_SECONDS

    def dump(self) -> bytes:
        """One JSON line of the headers, then the body as is (no pickle: the cache holds data, not code)."""
        head = [self.status, self.content_type, self.etag, self.last_modified, self.filename, self.subscription_id,
                self.checked_at]
        return json.dumps(head).encode() + b"\n" + self.body

    @classmethod
    def load(cls, raw: bytes) -> Answer:
        head, body = raw.split(b"\n", 1)
        status, content_type, etag, last_modified, filename, subscription_id, checked_at = json.loads(head)
        return cls(status, content_type, body, etag, last_modified, filename, subscription_id, checked_at)


@dataclass(frozen=True)
class Poll:
    answer: Answer | None
    count: int  # requests for this link in the current rate window, this one included
    buffered: bool  # this fetch is counted for the access log in Redis; else the caller writes it
    retry_after: int  # seconds until the rate window ends


@dataclass
class _Process:
    """This process's memory: answers (with when they were read from Redis) and counts not pushed yet."""

    answers: dict[str, tuple[float, Answer]] = field(default_factory=dict)
    fetches: Counter = field(default_factory=Counter)  # (link, day) -> fetches
    fetched_at: dict[tuple[str, str], float] = field(default_factory=dict)
    requests: Counter = field(default_factory=Counter)  # (link, window) -> requests not pushed yet
    totals: dict[tuple[str, int], int] = field(default_factory=dict)  # (link, window) -> Redis's count, last push
    pushed_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


_process = _Process()


def forget_local() -> None:
    """Drop this process's answers and counts (tests start clean)."""
    global _process
    _process = _Process()


def rate_limit() -> int:
    return getattr(settings, "FEED_RATE_LIMIT", RATE_LIMIT)


def _redis(backend):
    return backend._cache.get_client(write=True) if isinstance(backend, RedisCache) else None


def _is_redis(backend) -> bool:
    # Cheap: get_client() builds a new client object (with ~170 response callbacks) on every call.
    return isinstance(backend, RedisCache)


def _day(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).date().isoformat()


def _window(now: float) -> tuple[int, int]:
    window = int(now) // RATE_WINDOW_SECONDS
    return window, (window + 1) * RATE_WINDOW_SECONDS - int(now)


def poll(link: str, *, now: float) -> Poll:
    """The link's answer (if cached) and its request count; counts the fetch for the access log."""
    backend = caches["default"]
    window, retry_after = _window(now)
    try:
        if _is_redis(backend):
            return _poll_redis(backend, link, now=now, window=window, retry_after=retry_after)
        # Another cache (the in-process one of development and tests): the same through Django's API.
        rate_name = f"feed-rate:{link}:{window}"
        backend.add(rate_name, 0, timeout=RATE_WINDOW_SECONDS + 60)
        try:
            count = backend.incr(rate_name)
        except ValueError:  # expired between add and incr
            count = 1
        raw = backend.get(f"feed-answer:{link}")
        return Poll(Answer.load(raw) if raw else None, count, False, retry_after)
    except (RedisError, OSError):
        logger.warning("Cache unavailable: a calendar feed was answered from the database")
        return Poll(None, 0, False, retry_after)


def _poll_redis(backend, link: str, *, now: float, window: int, retry_after: int) -> Poll:
    local_seconds = settings.FEED_LOCAL_SECONDS
    process = _process
    day_key, window_key = (link, _day(now)), (link, window)
    with process.lock:
        process.fetches[day_key] += 1
        process.fetched_at[day_key] = now
        process.requests[window_key] += 1
        kept = process.answers.get(link)
        answer = kept[1] if kept is not None and now - kept[0] < local_seconds else None
        if answer is not None and now - process.pushed_at < local_seconds:
            count = process.totals.get(window_key, 0) + process.requests[window_key]
            return Poll(answer, count, True, retry_after)
        try:
            raw = _push(backend, process, link if answer is None else None, now=now, window=window)
        except (RedisError, OSError):
            # Not counted in Redis: the caller writes this fetch to the database instead.
            process.fetches[day_key] -= 1
            process.requests[window_key] -= 1
            raise
        if answer is None and raw:
            answer = Answer.load(raw)
            _keep(process, link, answer, now)
        count = process.totals.get(window_key, 0) + process.requests[window_key]
    return Poll(answer, count, True, retry_after)


def _push(backend, process: _Process, link: str | None, *, now: float, window: int) -> bytes | None:
    """Send this process's counts to Redis (and read the answer of `link`), in one round trip."""
    pipe = _redis(backend).pipeline(transaction=False)
    if link is not None:
        pipe.get(backend.make_key(f"feed-answer:{link}"))
    fetches, fetched_at = backend.make_key(FETCHES), backend.make_key(FETCHED_AT)
    days = [(key, count) for key, count in process.fetches.items() if count]
    for (name, day), count in days:
        pipe.hincrby(fetches, f"{name}:{day}", count)
        pipe.hset(fetched_at, f"{name}:{day}", int(process.fetched_at[name, day]))
    windows = [key for key, count in process.requests.items() if count]
    for name, number in windows:
        rate_key = backend.make_key(f"feed-rate:{name}:{number}")
        pipe.incrby(rate_key, process.requests[name, number])
        pipe.expire(rate_key, RATE_WINDOW_SECONDS + 60)
    results = pipe.execute()
    raw = results.pop(0) if link is not None else None
    totals = results[2 * len(days):][::2]  # each window's INCRBY answer: its count across all processes
    process.totals = {key: total for key, total in process.totals.items() if key[1] >= window}
    process.totals.update(zip(windows, totals, strict=True))
    process.fetches.clear()
    process.fetched_at.clear()
    process.requests.clear()
    process.pushed_at = now
    return raw


def push_counts() -> None:
    """Send this process's counts not yet in Redis. Run at exit: a server process that is recycled or stopped
    (gunicorn's max-requests, a deploy) would otherwise take up to FEED_LOCAL_SECONDS of fetches with it."""
    backend = caches["default"]
    if not _is_redis(backend):
        return
    try:
        with _process.lock:
            if _process.fetches or _process.requests:
                _push(backend, _process, None, now=time.time(), window=_window(time.time())[0])
    except (RedisError, OSError):
        logger.warning("Cache unavailable: this process's calendar feed fetch counts were lost")


atexit.register(push_counts)


def _keep(process: _Process, link: str, answer: Answer, now: float) -> None:
    if len(process.answers) >= LOCAL_ANSWERS_MAX:
        process.answers.clear()
    process.answers[link] = (now, answer)


def remember(link: str, answer: Answer) -> None:
    backend = caches["default"]
    try:
        client = _redis(backend)
        if client is not None:
            client.set(backend.make_key(f"feed-answer:{link}"), answer.dump(), ex=ANSWER_TTL)
            with _process.lock:
                _keep(_process, link, answer, time.time())
        else:
            backend.set(f"feed-answer:{link}", answer.dump(), timeout=ANSWER_TTL)
    except (RedisError, OSError):
        logger.warning("Cache unavailable: a calendar feed answer was not kept")


def forget(links: list[str]) -> None:
    """Drop the answers of these links (after a change the feeds' own services made)."""
    if not links:
        return
    with _process.lock:
        for link in links:
            _process.answers.pop(link, None)
    backend = caches["default"]
    names = [f"feed-answer:{link}" for link in links]
    try:
        client = _redis(backend)
        if client is not None:
            client.delete(*(backend.make_key(name) for name in names))
        else:
            backend.delete_many(names)
    except (RedisError, OSError):
        logger.warning("Cache unavailable: calendar feed answers may be stale for %s s", settings.FEED_ANSWER_SECONDS)


def take_fetches() -> list[tuple[str, str, int, float]]:
    """The buffered fetches (link, UTC day, count, last Unix time), emptied atomically; [] without Redis.

    This process's own counts are pushed first, so what it served is in the answer.
    """
    backend = caches["default"]
    client = _redis(backend)
    if client is None:
        return []
    with _process.lock:
        _push(backend, _process, None, now=time.time(), window=_window(time.time())[0])
    counts_key, times_key = backend.make_key(FETCHES), backend.make_key(FETCHED_AT)
    pipe = client.pipeline(transaction=True)
    pipe.hgetall(counts_key)
    pipe.hgetall(times_key)
    pipe.delete(counts_key, times_key)
    counts, times, _ = pipe.execute()
    taken = []
    for name, count in counts.items():
        link, day = name.decode().rsplit(":", 1)
        taken.append((link, day, int(count), float(times.get(name, time.time()))))
    return taken


def put_back(fetches: list[tuple[str, str, int, float]]) -> None:
    """Return fetches that could not be written, so the next flush tries again."""
    backend = caches["default"]
    client = _redis(backend)
    if client is None or not fetches:
        return
    pipe = client.pipeline(transaction=False)
    for link, day, count, last in fetches:
        pipe.hincrby(backend.make_key(FETCHES), f"{link}:{day}", count)
        pipe.hset(backend.make_key(FETCHED_AT), f"{link}:{day}", int(last))
    pipe.execute()
