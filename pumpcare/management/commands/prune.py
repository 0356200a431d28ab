"""Delete what the retention rules let go (the README's "Retention"): daily, e.g. from cron.

`manage.py prune --dry-run` prints how many rows each rule would delete, and deletes nothing.
"""

from django.core.management.base import BaseCommand
from django.utils import timezone

from notices.retention import prune_notices
from patients.retention import prune_access_events
from schedules.retention import prune_inactive_fills

# Retention rules, each `rule(*, now, dry_run) -> int` (rows deleted, or that would be); its docstring is the
# rule. Apps add theirs here.
RULES = [
    prune_access_events,
    prune_inactive_fills,
    prune_notices,
]


class Command(BaseCommand):
    help = "Delete access-log events, cancelled projection rows and notices older than their retention."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Only count what would be deleted.")

    def handle(self, *args, dry_run=False, **options):
        now = timezone.now()
        for rule in RULES:
            count = rule(now=now, dry_run=dry_run)
            verb = "would delete" if dry_run else "deleted"
            self.stdout.write(f"{rule.__name__}: {verb} {count} rows")
