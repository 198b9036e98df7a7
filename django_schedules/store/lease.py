"""The lease's SQL: take, renew, release, and the fence a claim checks. ``lease.Lease`` (the
scheduler's view of it) calls these."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When

from django_schedules.dbclock import DbNow
from django_schedules.models import SchedulerLease
from django_schedules.store.transactions import retry, write_transaction

_FREE = Q(owner="") | Q(expires_at__isnull=True) | Q(expires_at__lte=DbNow())


def take_lease(group: str, owner: str, ttl: timedelta, using: str) -> int | None:
    """Take the group's lease when it is free or expired by the database's clock.

    Return the new epoch (grown by one), or None when another holder has it. A lease `owner`
    holds already counts as free: after a pass that failed (its claim may have landed unseen,
    an ambiguous commit) the holder re-takes it under a new epoch at once, and so adopts what
    the failed pass left pending.
    """
    free_for_us = _FREE | Q(owner=owner)

    def attempt() -> int | None:
        with write_transaction(using):
            leases = SchedulerLease.objects.using(using)
            taken = leases.filter(Q(group=group) & free_for_us).update(
                owner=owner,
                epoch=F("epoch") + 1,
                expires_at=DbNow() + ttl,
                acquired_at=DbNow(),
                renewed_at=DbNow(),
            )
            if taken != 1:
                return None
            return leases.filter(group=group, owner=owner).values_list("epoch", flat=True).get()

    # A standby asks every poll interval: a plain read, so it takes no write lock (SQLite)
    # while the lease is held; only a lease that looks free is worth the CAS.
    free = (
        SchedulerLease.objects.using(using)
        .filter(group=group)
        .annotate(free=Case(When(free_for_us, then=Value(True)), default=Value(False)))
        .values_list("free", flat=True)
        .first()
    )
    if free is None:
        try:
            with transaction.atomic(using=using):
                SchedulerLease.objects.using(using).create(group=group)
        except IntegrityError:
            pass  # Another process created it first: normal.
    elif not free:
        return None
    return retry(attempt, using=using)


def renew_lease(group: str, owner: str, epoch: int, ttl: timedelta, using: str) -> bool:
    """Extend the lease we hold. False means we lost it: stop firing at once.

    Renewing an expired lease nobody took is safe: a new holder would have bumped the epoch.
    """
    qs = SchedulerLease.objects.using(using).filter(group=group, owner=owner, epoch=epoch)
    return retry(lambda: qs.update(expires_at=DbNow() + ttl, renewed_at=DbNow()) == 1, using=using)


def release_lease(group: str, owner: str, epoch: int, using: str) -> bool:
    """Give the lease up so a standby takes it at once; False if it was no longer ours."""
    qs = SchedulerLease.objects.using(using).filter(group=group, owner=owner, epoch=epoch)
    return retry(lambda: qs.update(owner="", expires_at=None) == 1, using=using)


def fence(group: str, owner: str, epoch: int, using: str) -> bool:
    """Inside a claim transaction: do we still hold the lease, unexpired, at this epoch?

    The row lock (FOR UPDATE; SQLite's IMMEDIATE transaction serialises anyway) makes a
    standby's take wait for this transaction, so a claim and a take never interleave.
    """
    qs = (
        SchedulerLease.objects.using(using)
        .select_for_update()
        .filter(group=group, owner=owner, epoch=epoch, expires_at__gt=DbNow())
        .values_list("pk", flat=True)
    )
    return bool(list(qs[:1]))
