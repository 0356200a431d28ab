"""A pytest plugin loaded before Django configures itself (pyproject addopts): the test environment.

The settings refuse to start without a SECRET_KEY when DEBUG is off, and redirect to HTTPS by
default; the suite runs as production does, but over plain HTTP with a throwaway key.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-" + "x" * 40)
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SECURE_COOKIES", "0")
os.environ.setdefault("PUMPCARE_PLAIN_STATIC", "1")
# Playwright's sync API runs an event loop in the test thread; Django's ORM calls from there are fine.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
