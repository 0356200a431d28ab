"""Calendar feeds answered ahead of the page middleware.

A calendar app polls its secret link with no cookie, no session, no CSRF token and no signed-in person: the
session, language, CSRF, authentication, two-factor, messages, CSP, history and sign-in throttle middleware
have nothing to do for it, yet cost several times the feed view itself (profiled: about 85% of a 304's time).
This middleware sits after SecurityMiddleware (its headers still apply) and WhiteNoise, and answers the feed's
URL at once, as WhiteNoise answers static files. It recognises the URL with the pattern feeds.urls declares,
so the two cannot drift; any other path, a feed address included, goes on through the stack unchanged.
"""

from feeds import urls

_FEED = next(pattern for pattern in urls.urlpatterns if pattern.name == "feed")
_PREFIX = "/" + str(_FEED.pattern).split("<", 1)[0]  # "/feeds/": a string test before any regular expression


class FeedMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith(_PREFIX):
            match = _FEED.resolve(request.path_info[1:])  # pumpcare.urls includes feeds.urls at the root
            if match:
                # Host validation, as CommonMiddleware would do for a page: a bad Host header answers 400.
                request.get_host()
                return match.func(request, *match.args, **match.kwargs)
        return self.get_response(request)
