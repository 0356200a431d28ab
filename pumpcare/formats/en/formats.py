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
DAY_MONTH_ABBR_FORMAT = "j M"  # 8 Dec
DAY_MONTH_ABBR_YEAR_FORMAT = "j M Y"  # 8 Dec 2026
DAY_MONTH_YEAR_FORMAT = "j F Y"  # 8 December 2026
DAY_MONTH_ABBR_TIME_FORMAT = "j M H:i"  # 8 Dec 14:30
SHORT_WEEKDAY_DATETIME_FORMAT = "D j M Y, H:i"  # Tue 8 Dec 2026, 14:30
