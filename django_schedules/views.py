"""The app's views outside the admin: the health verdict for probes."""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from django_schedules.conf import conf
from django_schedules.status import check_health

logger = logging.getLogger("django_schedules.views")

# A group name as ``runscheduler --group`` takes it: what a probe may ask about.
_GROUP_MAX_CHARS = 100


@never_cache
@require_safe
def health(request: HttpRequest) -> JsonResponse:
    """The verdict of ``manage.py schedulerstatus --max-lag SCHEDULES_HEALTH_MAX_LAG`` for the
    group ``?group=`` (default ``default``): 200 when a leader is alive and keeping up, else
    503. Public, so it says only the verdict: no schedule, host or process is named."""
    group = request.GET.get("group", "default")
    if not group or len(group) > _GROUP_MAX_CHARS:
        return JsonResponse(
            {"ok": False, "problems": [f"group must be 1 to {_GROUP_MAX_CHARS} characters"]},
            status=400,
        )
    try:
        verdict = check_health(
            group,
            max_lag=conf.SCHEDULES_HEALTH_MAX_LAG,
            max_lag_name="SCHEDULES_HEALTH_MAX_LAG",
        )
    except DatabaseError as exc:
        logger.warning("health: the database could not be read: %s", exc)
        body = {"ok": False, "group": group, "problems": ["the database could not be read"]}
        return JsonResponse(body, status=503)
    body = {
        "ok": verdict.ok,
        "group": group,
        "leader_alive": verdict.leader_alive,
        "lag": round(verdict.status.lag, 3),
        "problems": verdict.problems,
    }
    return JsonResponse(body, status=200 if verdict.ok else 503)
