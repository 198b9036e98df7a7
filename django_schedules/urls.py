"""The app's URLs, for a project's urls.py::

    path("schedules/", include("django_schedules.urls")),

``health/`` answers load balancers and Kubernetes probes (docs/operations.md#health);
``metrics/`` is the Prometheus exposition, for staff or a bearer token (docs/metrics.md).
"""

from __future__ import annotations

from django.urls import path

from django_schedules import views

app_name = "django_schedules"

urlpatterns = [
    path("health/", views.health, name="health"),
    path("metrics/", views.metrics, name="metrics"),
]
