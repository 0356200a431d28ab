"""What the clinic's pages show of notices, without the clinic app importing this one (layers: siblings)."""

import datetime as dt

from django import template
from django.utils.formats import date_format

from notices import selectors

register = template.Library()


@register.filter
def notice_day(value) -> str:
    """An ISO date from a change's lines as "Tue 8 Dec 2026" ("mar 8 dic 2026")."""
    if not value:
        return ""
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return date_format(day, "SHORT_WEEKDAY_DAY_MONTH_YEAR_FORMAT")


@register.inclusion_tag("notices/_dashboard.html")
def notices_dashboard(clinic, today):
    told, told_count, failed = selectors.dashboard_notices(clinic=clinic, today=today)
    return {"clinic": clinic, "told": told, "told_count": told_count, "failed": failed}


@register.inclusion_tag("notices/_history.html")
def notices_history(patient):
    return {"notices": selectors.sent_notices(patient)}
