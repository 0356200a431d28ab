"""Calendar subscriptions and their iCalendar feeds."""

from django.urls import path

from feeds import views

app_name = "feeds"

subscription = "p/<uuid:public_id>/calendar-subscriptions/<uuid:subscription_id>/"

urlpatterns = [
    # The token is the only credential of a feed: calendar apps cannot sign in.
    path("feeds/<str:token>.ics", views.feed, name="feed"),
    path("p/<uuid:public_id>/calendar.ics", views.download, name="download"),
    path("p/<uuid:public_id>/calendar-subscriptions/", views.subscription_list, name="subscriptions"),
    path("p/<uuid:public_id>/calendar-subscriptions/wording/", views.calendar_settings, name="settings"),
    path(subscription, views.subscribe, name="subscribe"),
    path(subscription + "rename/", views.rename, name="rename"),
    path(subscription + "new-link/", views.rotate, name="rotate"),
    path(subscription + "stop/", views.revoke, name="revoke"),
]
