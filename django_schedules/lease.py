"""The scheduler group's lease: one active dispatcher per group, the others hot standbys.

Taken by a compare-and-swap UPDATE when free or expired by the database's clock, renewed every
third of the TTL with ``owner`` and ``epoch`` in the WHERE, released on clean shutdown. The epoch
(a fencing number) grows with each new holder; every claim re-checks it in its own transaction.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import timedelta

from django_schedules import store
from django_schedules.clock import Clock

logger = logging.getLogger("django_schedules.lease")


def make_owner() -> str:
    """A holder identity unique to this process and this start: host, pid and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Lease:
    """Our view of the group's lease. ``epoch`` is set while we believe we hold it."""

    def __init__(
        self, group: str, *, ttl: float, clock: Clock, using: str, owner: str | None = None
    ) -> None:
        if not ttl > 0:
            raise ValueError(f"lease ttl must be greater than zero, got {ttl!r}")
        self.group = group
        self.ttl = ttl
        self.clock = clock
        self.using = using
        self.owner = owner or make_owner()
        self.epoch: int | None = None
        self._renew_at = 0.0

    @property
    def held(self) -> bool:
        return self.epoch is not None

    @property
    def renew_at(self) -> float:
        """Monotonic time of the next renewal (inf when we do not hold the lease)."""
        return self._renew_at if self.epoch is not None else float("inf")

    @property
    def renewal_due(self) -> bool:
        return self.epoch is not None and self.clock.monotonic() >= self._renew_at

    def acquire(self) -> bool:
        """Try to take the lease; True when we hold it now (already or newly)."""
        if self.epoch is not None:
            return True
        started = self.clock.monotonic()
        epoch = store.take_lease(self.group, self.owner, timedelta(seconds=self.ttl), self.using)
        if epoch is None:
            return False
        self.epoch = epoch
        self._renew_at = started + self.ttl / 3
        logger.info("took the %r lease as %s, epoch %d", self.group, self.owner, epoch)
        return True

    def renew(self) -> bool:
        """Extend the lease; False (and forget it) when it is no longer ours."""
        if self.epoch is None:
            return False
        started = self.clock.monotonic()
        ttl = timedelta(seconds=self.ttl)
        if store.renew_lease(self.group, self.owner, self.epoch, ttl, self.using):
            self._renew_at = started + self.ttl / 3
            return True
        self.lost()
        return False

    def lost(self) -> None:
        if self.epoch is not None:
            logger.warning("lost the %r lease (epoch %d)", self.group, self.epoch)
        self.epoch = None

    def release(self) -> None:
        """Give the lease up so a standby takes it at once."""
        if self.epoch is None:
            return
        epoch, self.epoch = self.epoch, None
        if store.release_lease(self.group, self.owner, epoch, self.using):
            logger.info("released the %r lease (epoch %d)", self.group, epoch)
