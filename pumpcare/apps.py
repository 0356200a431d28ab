from django.apps import AppConfig


class PumpcareConfig(AppConfig):
    """The site itself: its management commands (worker, prune) and its deployment checks."""

    name = "pumpcare"
    verbose_name = "PumpCare"

    def ready(self):
        from pumpcare import checks  # noqa: F401 (registers the checks)
