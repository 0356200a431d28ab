"""Patient and caregiver pages of one patient's therapy."""

app_name = "schedules"

urlpatterns = []
