"""Is the scheduler running, who leads, is it keeping up: the answer the admin's status panel
and ``manage.py schedulerstatus`` share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django_schedules import store
from django_schedules.conf import conf
from django_schedules.models import SchedulerProcess


@dataclass
class Health:
    """A group's status with the verdict: ``problems`` is empty when all is well."""

    status: store.GroupStatus
    ttl: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def leader_alive(self) -> bool:
        leader = self.status.leader
        return leader is not None and self.age(leader.heartbeat_at) <= self.ttl

    @property
    def standbys(self) -> list[SchedulerProcess]:
        leader = self.status.leader
        return [p for p in self.status.processes if leader is None or p.pk != leader.pk]

    def age(self, moment: datetime | None) -> float:
        """Seconds from `moment` to the database's now (inf for never)."""
        if moment is None:
            return float("inf")
        return max(0.0, (self.status.now - moment).total_seconds())

    def as_dict(self) -> dict[str, Any]:
        def process(p: SchedulerProcess) -> dict[str, Any]:
            return {
                "owner": p.owner,
                "host": p.host,
                "pid": p.pid,
                "version": p.version,
                "role": p.role,
                "started_at": p.started_at.isoformat(),
                "heartbeat_at": p.heartbeat_at.isoformat(),
                "heartbeat_age": round(self.age(p.heartbeat_at), 3),
                "last_tick_at": p.last_tick_at.isoformat() if p.last_tick_at else None,
                "fired_last_minute": p.fired_last_minute,
            }

        status = self.status
        return {
            "group": status.group,
            "ok": self.ok,
            "problems": self.problems,
            "now": status.now.isoformat(),
            "leader": process(status.leader) if status.leader else None,
            "leader_alive": self.leader_alive,
            "standbys": [process(p) for p in self.standbys],
            "lease_owner": status.lease_owner or None,
            "lease_expires_at": (
                status.lease_expires_at.isoformat() if status.lease_expires_at else None
            ),
            "lag": round(status.lag, 3),
            "overdue": status.overdue,
            "oldest_due": status.oldest_due.isoformat() if status.oldest_due else None,
        }


def check_health(
    group: str = "default",
    *,
    max_lag: float | None = None,
    ttl: float | None = None,
    using: str | None = None,
    max_lag_name: str = "--max-lag",
) -> Health:
    """Judge `group`: a live leader, and (with `max_lag`) a lag no larger than that
    (`max_lag_name` is where the reader set it: the option, or the setting).

    ``overdue`` counts enabled schedules due longer ago than one lease TTL: more than a
    scheduler's normal delay, so a staff member sees why a job did not run.
    """
    ttl = float(ttl if ttl is not None else conf.SCHEDULES_LEASE_TTL)
    status = store.scheduler_status(group, overdue_after=timedelta(seconds=ttl), using=using)
    health = Health(status=status, ttl=ttl)
    if not status.processes:
        health.problems.append(f"no scheduler process of group {group!r} has reported")
    elif not health.leader_alive:
        seen = health.age(status.last_seen)
        health.problems.append(
            f"no leader of group {group!r} is alive (last heartbeat of any process "
            f"{seen:.0f} s ago; the lease TTL is {ttl:g} s)"
        )
    if max_lag is not None and status.lag > max_lag:
        health.problems.append(
            f"the oldest due schedule or run not yet started is {status.lag:.1f} s late, "
            f"more than {max_lag_name} {max_lag:g}"
        )
    return health


def ago(seconds: float) -> str:
    """'3 s ago', '2 min ago', 'never'."""
    if seconds == float("inf"):
        return "never"
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"
