"""The product's URLs plus /bench-hello/, served through the same middleware as every page."""

from django.http import HttpResponse
from django.urls import path

from pumpcare.urls import urlpatterns as product_urlpatterns


def hello(request):
    return HttpResponse(b"Hello, world\n", content_type="text/plain; charset=utf-8")


urlpatterns = [path("bench-hello/", hello), *product_urlpatterns]
