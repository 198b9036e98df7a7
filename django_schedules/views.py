"""The app's views outside the admin: the health verdict for probes, the Prometheus metrics."""

from __future__ import annotations

import hmac
import logging

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from django_schedules import metrics as metrics_exposition
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


def _metrics_allowed(request: HttpRequest) -> HttpResponse | None:
    """None when the request may read the metrics, else the refusal: an active staff
    session, ``Authorization: Bearer <SCHEDULES_METRICS_TOKEN>``, or anyone with
    ``SCHEDULES_METRICS_PUBLIC = True``."""
    if conf.SCHEDULES_METRICS_PUBLIC is True:
        return None
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        return None
    token = conf.SCHEDULES_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    bearer = bool(header) and scheme.lower() == "bearer"
    # Constant time: how much of a guess matched is not told by the reply's timing.
    if (
        bearer
        and isinstance(token, str)
        and token
        and hmac.compare_digest(given.strip().encode(), token.encode())
    ):
        return None
    if bearer:
        refusal = HttpResponse("invalid token\n", status=401, content_type="text/plain")
        refusal["WWW-Authenticate"] = 'Bearer realm="django-schedules", error="invalid_token"'
        return refusal
    return HttpResponse(
        "the metrics are for staff, or a request bearing SCHEDULES_METRICS_TOKEN\n",
        status=403,
        content_type="text/plain",
    )


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """The Prometheus text exposition (docs/metrics.md): 501 without the extra
    ``django-schedules[prometheus]``, 503 when the database cannot be read."""
    refusal = _metrics_allowed(request)
    if refusal is not None:
        return refusal
    if not metrics_exposition.available():
        body = f"metrics need prometheus-client: pip install '{metrics_exposition.EXTRA}'\n"
        return HttpResponse(body, status=501, content_type="text/plain")
    try:
        text, content_type = metrics_exposition.exposition()
    except DatabaseError as exc:
        logger.warning("metrics: the database could not be read: %s", exc)
        return HttpResponse(
            "the database could not be read\n", status=503, content_type="text/plain"
        )
    return HttpResponse(text, content_type=content_type)
