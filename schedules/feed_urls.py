"""Calendar subscriptions and their iCalendar feeds."""

from django.urls import path

from schedules import feed_views

app_name = "feeds"

subscription = "p/<uuid:public_id>/calendar-subscriptions/<uuid:subscription_id>/"

urlpatterns = [
    # The token is the only credential of a feed: calendar apps cannot sign in.
    path("feeds/<str:token>.ics", feed_views.feed, name="feed"),
    path("p/<uuid:public_id>/calendar.ics", feed_views.download, name="download"),
    path("p/<uuid:public_id>/calendar-subscriptions/", feed_views.subscription_list, name="subscriptions"),
    path(subscription, feed_views.subscribe, name="subscribe"),
    path(subscription + "rename/", feed_views.rename, name="rename"),
    path(subscription + "new-link/", feed_views.rotate, name="rotate"),
    path(subscription + "stop/", feed_views.revoke, name="revoke"),
]
