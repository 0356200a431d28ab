# Our date formats in English, on top of Django's (settings.FORMAT_MODULE_PATH); names used with
# django.utils.formats.date_format and the |date filter.
WEEKDAY_DAY_MONTH_FORMAT = "l j F"  # Tuesday 8 December: how the clinic says a date on the phone
WEEKDAY_DAY_MONTH_YEAR_FORMAT = "l j F Y"  # Tuesday 8 December 2026
SHORT_WEEKDAY_DAY_MONTH_FORMAT = "D j M"  # Tue 8 Dec: staff tables and messages
SHORT_WEEKDAY_DAY_MONTH_YEAR_FORMAT = "D j M Y"
DAY_MONTH_FORMAT = "j F"  # 8 December
YEAR_MONTH_FORMAT = "F Y"  # December 2026
MONTH_ABBR_FORMAT = "M"  # Dec
MONTH_ABBR_YEAR_FORMAT = "M Y"  # Jan 2027
