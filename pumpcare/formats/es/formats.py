# Our date formats in Spanish, on top of Django's (settings.FORMAT_MODULE_PATH). Django's Spanish names of
# weekdays and months are lower case, as Spanish writes them; templates capitalise a date that opens a sentence.
WEEKDAY_DAY_MONTH_FORMAT = r"l j \d\e F"  # martes 8 de diciembre
WEEKDAY_DAY_MONTH_YEAR_FORMAT = r"l j \d\e F \d\e Y"  # martes 8 de diciembre de 2026
SHORT_WEEKDAY_DAY_MONTH_FORMAT = "D j b"  # mar 8 dic (b: the month in lower case)
SHORT_WEEKDAY_DAY_MONTH_YEAR_FORMAT = "D j b Y"
DAY_MONTH_FORMAT = r"j \d\e F"  # 8 de diciembre
YEAR_MONTH_FORMAT = r"F \d\e Y"  # diciembre de 2026
MONTH_ABBR_FORMAT = "b"  # dic
MONTH_ABBR_YEAR_FORMAT = "b Y"  # ene 2027
DAY_MONTH_ABBR_FORMAT = "j b"  # 8 dic
DAY_MONTH_ABBR_YEAR_FORMAT = "j b Y"  # 8 dic 2026
DAY_MONTH_YEAR_FORMAT = r"j \d\e F \d\e Y"  # 8 de diciembre de 2026
DAY_MONTH_ABBR_TIME_FORMAT = "j b H:i"  # 8 dic 14:30
SHORT_WEEKDAY_DATETIME_FORMAT = "D j b Y, H:i"  # mar 8 dic 2026, 14:30
