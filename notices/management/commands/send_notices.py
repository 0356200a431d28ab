"""Plan and send notices: the notices units of the worker on their own (the site's `worker` runs them too)."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from notices import delivery, planner


class Command(BaseCommand):
    help = "Plan reminders, change and overdue notices, and send those due (--loop: keep running)."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true")
        parser.add_argument("--interval", type=float, default=15)
        parser.add_argument("--limit", type=int, default=100)

    def handle(self, *args, loop=False, interval=15, limit=100, **options):
        # The site's worker loop (SIGTERM, idle sleep, one failing unit not stopping the rest), notices' units only.
        units = [planner.plan_notices, delivery.send_due]
        call_command("worker", loop=loop, interval=interval, limit=limit, units=units, stdout=self.stdout)
