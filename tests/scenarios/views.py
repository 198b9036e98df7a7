"""A view of the kind a project writes to let its users manage their own schedules."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods

from django_schedules import add_job, modify_job, remove_job, reschedule_job
from django_schedules.exceptions import SchedulesError


@require_http_methods(["PUT", "PATCH", "DELETE"])
def schedule(request: HttpRequest, job_id: str) -> HttpResponse:
    """PUT creates, PATCH changes, DELETE removes; JSON in, JSON out."""
    try:
        if request.method == "DELETE":
            remove_job(job_id)
            return HttpResponse(status=204)
        data = json.loads(request.body)
        if request.method == "PUT":
            saved = add_job(
                data["func"],
                data["trigger"],
                id=job_id,
                kwargs=data["kwargs"],
                max_instances=data.get("max_instances", 1),
                **data["timing"],
            )
        else:
            reschedule_job(job_id, trigger=data["trigger"], **data["timing"])
            saved = modify_job(job_id, kwargs=data["kwargs"])
    except SchedulesError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    next_run = saved.next_run_at.isoformat() if saved.next_run_at else None
    return JsonResponse({"job_id": saved.job_id, "next_run_at": next_run})
