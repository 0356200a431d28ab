"""WSGI entry point: gunicorn pumpcare.wsgi (or any WSGI server)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pumpcare.settings")
application = get_wsgi_application()
