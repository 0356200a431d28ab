"""Deployment checks (`manage.py check --deploy`, run by `make serve` before it starts anything)."""

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, register


@register("pumpcare", deploy=True)
def static_files_collected(app_configs, **kwargs):
    """With DEBUG off, every page links its CSS through the manifest collectstatic writes: without it, a 500."""
    backend = settings.STORAGES["staticfiles"]["BACKEND"]
    if settings.DEBUG or "Manifest" not in backend:
        return []
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if manifest.exists():
        return []
    return [
        Error(
            f"Static files are not collected: {manifest} is missing, so every page would answer 500.",
            hint="Run `python manage.py collectstatic --noinput` (`make serve` does) after every deploy.",
            id="pumpcare.E001",
        )
    ]
