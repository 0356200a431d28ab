"""Site-level views: health probes, the error pages' handlers, and what makes the site installable."""

import json
import sys

from django.contrib.auth.views import LogoutView
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpResponse
from django.template import loader
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST


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


@require_GET
def manifest(request):
    """The web app manifest: name, colours and icons, so the site can be added to a phone's home screen."""
    body = {
        "name": "PumpCare",
        "short_name": "PumpCare",
        "description": "Your pump refills: when the next one is, and what goes in.",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b3d6e",
        "icons": [
            {"src": static(f"img/icon-{size}.png"), "sizes": f"{size}x{size}", "type": "image/png",
             "purpose": "any maskable"}
            for size in (192, 512)
        ],
    }
    return HttpResponse(json.dumps(body, indent=2), content_type="application/manifest+json")


@require_GET
def service_worker(request):
    """The service worker, at the root so its scope is the whole site (a static file's scope is /static/)."""
    response = HttpResponse(loader.render_to_string("pwa/sw.js"), content_type="text/javascript")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"  # a new version is picked up at the next visit
    return response


@require_POST
def sign_out(request):
    """Django's sign-out, plus: the browser drops this site's caches and stored data (the service worker's copy
    of the next-refill page included), so the next person on a shared phone sees nothing of the last one."""
    response = LogoutView.as_view()(request)
    response["Clear-Site-Data"] = '"cache", "storage"'
    return response
