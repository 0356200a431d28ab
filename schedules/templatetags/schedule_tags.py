"""Template filters over schedule rows, so templates ask the same questions as the views."""

from django import template

from schedules import progress

register = template.Library()


@register.filter
def overdue_on(fill, today) -> bool:
    """{% if fill|overdue_on:today %}: S10, in the clinic's today."""
    return progress.is_overdue(fill, today)
