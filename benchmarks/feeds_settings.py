"""The benchmark's site: the product's settings, plus a hello-world view as the baseline (benchmarks/feeds.py).

The hello view lives only here and in benchmarks/feeds_urls.py, never in the product's URLs.
"""

from pumpcare.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.feeds_urls"
# The load tool fetches one link thousands of times: the per-link limit would answer 429 (the counter still runs).
FEED_RATE_LIMIT = 10**9
