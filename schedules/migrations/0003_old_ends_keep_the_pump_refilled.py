"""S8 split "ended" in two; existing ended plans are sorted by their reason.

Before this change any end cancelled every later refill, maintenance included: a bug, since the pump
stays in after chemotherapy and a pump left unfilled can clot its catheter. Mapping:

- "completed", "toxicity", "progression", "other"  ->  chemotherapy ended on the same date, same reason
  and note; the plan is active again and maintenance refills continue from the next fill. None of these
  says the pump came out, and a careful nurse would rather see a refill to cancel than miss one.
- "pump_removed"  ->  therapy over, unchanged: nothing is planned after the date.

The moved plans' stored projection is marked stale (projected_on = NULL): run
`python manage.py refresh_schedules` after migrating so their maintenance refills appear.
"""

from django.db import migrations

CHEMO_ENDS = ("completed", "toxicity", "progression", "other")


def split_ends(apps, schema_editor):
    TherapyPlan = apps.get_model("schedules", "TherapyPlan")
    for plan in TherapyPlan.objects.filter(status="ended", end_reason__in=CHEMO_ENDS):
        plan.chemo_end_date, plan.chemo_end_reason, plan.chemo_end_note = plan.end_date, plan.end_reason, plan.end_note
        plan.status, plan.end_date, plan.end_reason, plan.end_note = "active", None, "", ""
        plan.projected_on = None
        plan.save()


def join_ends(apps, schema_editor):
    TherapyPlan = apps.get_model("schedules", "TherapyPlan")
    for plan in TherapyPlan.objects.filter(status="active", chemo_end_date__isnull=False):
        plan.status, plan.end_date, plan.end_reason, plan.end_note = (
            "ended", plan.chemo_end_date, plan.chemo_end_reason, plan.chemo_end_note
        )
        plan.chemo_end_date, plan.chemo_end_reason, plan.chemo_end_note = None, "", ""
        plan.projected_on = None
        plan.save()


class Migration(migrations.Migration):
    dependencies = [("schedules", "0002_therapy_two_ends")]

    operations = [migrations.RunPython(split_ends, join_ends)]
