"""The scenario tests' URLs: the admin, and a plain view that drives the Python API."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from tests.scenarios import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("schedules/<str:job_id>/", views.schedule, name="scenario-schedule"),
]
