"""Counters in the shared cache (Redis in production) for limits that span processes: sign-in, password reset.

Keys hold a hash of what they count (an account name, an email address, a client address), never the value.
"""

import hashlib
import time

from django.core.cache import cache


def key_for(kind: str, value: str) -> str:
    return f"{kind}:{hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]}"


def hit(key: str, *, limit: int, window_seconds: int) -> int | None:
    """Count one event in the current fixed window; once past `limit`, the seconds until the window ends."""
    now = int(time.time())
    window = now // window_seconds
    bucket = f"{key}:{window}"
    cache.add(bucket, 0, timeout=window_seconds + 60)
    try:
        count = cache.incr(bucket)
    except ValueError:  # the bucket expired between add and incr
        cache.set(bucket, 1, timeout=window_seconds + 60)
        count = 1
    return (window + 1) * window_seconds - now if count > limit else None


def count(key: str, *, window_seconds: int) -> int:
    return cache.get(f"{key}:{int(time.time()) // window_seconds}", 0)


def take_turn(key: str, *, interval_seconds: int) -> int | None:
    """One event per interval under this key: None if this one may go ahead, else the seconds to wait."""
    now = time.time()
    if cache.add(f"{key}:turn", now, timeout=interval_seconds):
        return None
    taken_at = cache.get(f"{key}:turn", now)
    return max(1, int(taken_at + interval_seconds - now + 0.999))
