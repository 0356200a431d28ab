"""Site-level views: health probes and the error pages' handlers."""

import sys

from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpResponse
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def healthz(request):
    """The process is alive. Touches no database, so an orchestrator does not restart us for its outage."""
    return HttpResponse("ok\n", content_type="text/plain")


@never_cache
@require_GET
def readyz(request):
    """The database answers: ready for traffic."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return HttpResponse("database unavailable\n", content_type="text/plain", status=503)
    return HttpResponse("ready\n", content_type="text/plain")


def server_error(request):
    """500, or a plain 503 when the database is down: nothing that needs the database, nothing that leaks."""
    _, exc, _ = sys.exc_info()
    # The connection failed (server down, network): not a constraint or a bug in a query.
    if isinstance(exc, OperationalError | InterfaceError):
        body = loader.get_template("503.html").render()
        response = HttpResponse(body, status=503)
        response["Retry-After"] = "30"
        return response
    return HttpResponse(loader.get_template("500.html").render(), status=500)
