"""Template filters over schedule rows, so templates ask the same questions as the views."""

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from schedules import progress

register = template.Library()


@register.filter
def overdue_on(fill, today) -> bool:
    """{% if fill|overdue_on:today %}: S10, in the clinic's today."""
    return progress.is_overdue(fill, today)


@register.filter
def ago(moment) -> str:
    """{{ when|ago }}: "just now" under a minute (timesince would say "0 minutes"), else "5 minutes ago"."""
    if timezone.now() - moment < dt.timedelta(minutes=1):
        return _("just now")
    return _("%(time)s ago") % {"time": timesince(moment)}
