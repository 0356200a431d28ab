"""Roll every plan's projection forward to today's horizon (S9); run daily, or with --loop.

Recomputing is idempotent and locks nothing for long: each chunk of plans not yet projected
today is recomputed in its own transaction, so several runs at once only repeat work.
"""

import time

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Q

from patients.models import Clinic
from schedules import services
from schedules.models import TherapyPlan


class Command(BaseCommand):
    help = "Recompute the stored schedule of every plan not yet recomputed today (clinic-local)."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep running, checking every --interval seconds.")
        parser.add_argument("--interval", type=int, default=3600)

    def handle(self, *args, loop=False, interval=3600, **options):
        while True:
            count = self.refresh_once()
            self.stdout.write(f"Refreshed {count} plans.")
            if not loop:
                return
            time.sleep(interval)

    def refresh_once(self) -> int:
        count = 0
        for clinic in Clinic.objects.all():
            stale = TherapyPlan.objects.filter(patient__clinic=clinic).filter(
                Q(projected_on__isnull=True) | Q(projected_on__lt=clinic.today())
            )
            ids = list(stale.values_list("pk", flat=True))
            for start in range(0, len(ids), services.RECOMPUTE_CHUNK):
                with transaction.atomic():
                    plans = TherapyPlan.objects.filter(pk__in=ids[start : start + services.RECOMPUTE_CHUNK])
                    count += services.recompute_plans(list(plans.only("pk"))).plans
        return count
