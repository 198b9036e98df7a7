from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.generic import RedirectView


def health(request: HttpRequest) -> HttpResponse:
    """A page the demo's ping job fetches."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("health/", health, name="health"),
    path("admin/", admin.site.urls),
    # The scheduler's health for probes: /schedules/health/ (docs/operations.md).
    path("schedules/", include("django_schedules.urls")),
]
