# PumpCare: `make run` serves the demo site, `make test` runs the whole suite. Both set everything up.
PORT ?= 8000
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint chromium gettext messages venv js serve release mutation

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

# The worker (notices planner and sender) runs next to the site and stops with it; emails print in this console.
run: venv
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py demo
	@echo "PumpCare demo: http://127.0.0.1:$(PORT)/ (emails print below)"
	DEBUG=1 NOTICES_QUIET_MINUTES=1 NOTICES_SEND_NOW=1 SITE_URL=http://127.0.0.1:$(PORT) $(PY) manage.py worker --loop --interval 10 & WORKER=$$!; \
	trap 'kill $$WORKER 2>/dev/null' EXIT INT TERM; \
	DEBUG=1 $(PY) manage.py runserver 127.0.0.1:$(PORT)

# Production, on one machine (see the README's "Production"): the release steps, then the background workers
# and gunicorn together; Ctrl-C or SIGTERM stops them all, each worker after its unit of work under way.
# Set SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL (and REDIS_URL) first. The Procfile runs the same steps.
BIND ?= 127.0.0.1:8000
WEB_CONCURRENCY ?= 3
# Background workers: two share a clinic-wide recompute (and keep the notices going if one stops).
WORKERS ?= 2

release: venv
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py check --deploy --fail-level WARNING
	$(PY) manage.py migrate --noinput

serve: release
	for i in $$(seq $(WORKERS)); do $(PY) manage.py worker --loop & workers="$$workers $$!"; done; \
	trap 'kill -TERM $$workers 2>/dev/null; wait $$workers' EXIT; \
	$(VENV)/bin/gunicorn pumpcare.wsgi --bind $(BIND) --workers $(WEB_CONCURRENCY) --timeout 30 --graceful-timeout 20

# Browser tests drive Debian's Chromium (Playwright's own browser download cannot work here).
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

# The feed tests read every calendar with ical.js too (tests/feed_parsers.py): node from Debian, the package from npm.
js:
	@command -v npm >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null)
	@test -d tests/js/node_modules/ical.js || (cd tests/js && npm ci --no-audit --no-fund --silent)

# The translation tests run makemessages (xgettext) to check the Spanish catalogue is up to date.
gettext:
	@command -v xgettext >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext >/dev/null)

# After changing any user-facing text: update locale/es/LC_MESSAGES/django.po, translate the new
# entries, then `make messages` again to compile the .mo (committed, so a fresh clone needs no gettext).
messages: venv gettext
	DEBUG=1 $(PY) manage.py makemessages --locale es --no-obsolete --no-location --ignore .venv --ignore test-artifacts --ignore staticfiles --ignore tests
	DEBUG=1 $(PY) manage.py compilemessages --locale es --ignore .venv

test: venv chromium gettext js
	$(PY) -m pytest

lint: venv
	$(VENV)/bin/ruff check .

# Mutation testing of the schedule engine, access, feeds and services (long: kept out of CI; see README).
mutation: venv
	$(PY) tools/mutation.py
