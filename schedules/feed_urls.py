"""Calendar subscriptions and their iCalendar feeds."""

app_name = "feeds"

urlpatterns = []
