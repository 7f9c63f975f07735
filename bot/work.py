"""Acked work survives a crash: every promise an ack made ends in exactly one answer, from whichever process is alive.

When acked work claims its delivery, the claim records the Slack request itself (encrypted) under this process's
lease, in the same INSERT. While the work runs, the process renews its leases; when the work ends it is marked done.
If the process dies (a crash, an OOM kill, a hard deploy), the lease runs out and any process — the survivor of
several on PostgreSQL, or the same one restarted on SQLite — takes the work over and handles the request again
(handlers/slack/recovery.py): a read runs again, an agent turn closes its dangling answer and runs again, and a write
that may have reached the CRM is never sent twice (the user is told to check). After three attempts the user is told
it failed, so one poisonous request cannot take down every process in turn.

A table of our own rather than a job library: procrastinate (the maintained PostgreSQL one) needs PostgreSQL and its
own driver and transactions, while SQLite is the embedded default, and the record must be part of the delivery claim's
one write. docs/architecture.md says more.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.store.deliveries import Delivery, DeliveryRepository, Lease, UnfinishedWork, digest_of

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
TAKE_OVER_BATCH = 20

# The Slack request being handled: set where it arrives, read by the claim that records it.
current_delivery: ContextVar[Delivery | None] = ContextVar("current_delivery", default=None)
# The recorded work that this task (and the tasks it starts) is doing; set by BackgroundWork for each piece of work.
_running: ContextVar[_Claimed | None] = ContextVar("running_work", default=None)
# Set while a taken-over request is handled again: its claim is already ours.
_recovering: ContextVar[str | None] = ContextVar("recovering_work", default=None)


@dataclass(slots=True)
class _Claimed:
    work: AckedWork | None = None
    digest: str | None = None


Recover = Callable[[UnfinishedWork], Awaitable[None]]


class AckedWork:
    def __init__(
        self,
        deliveries: DeliveryRepository,
        *,
        lease_seconds: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._deliveries = deliveries
        self.lease_seconds = lease_seconds
        self._clock = clock
        self.owner = uuid.uuid4().hex  # this process

    def lease(self) -> Lease:
        return Lease(self.owner, self._clock() + timedelta(seconds=self.lease_seconds))

    # ---- the work's side ----------------------------------------------------------------------------------------

    def begin(self) -> _Claimed:
        """Called at the start of each piece of background work: what it claims is tracked from here."""
        claimed = _Claimed(self)
        _running.set(claimed)
        return claimed

    async def claim(self, key: str) -> bool:
        """The delivery's claim (see DeliveryRepository.claim), recording the request when it is known."""
        claimed = _running.get()
        if (taken := _recovering.get()) is not None:
            # Handled again after a takeover: whatever key the request makes now (its response_url may have been
            # left out), its claim is the taken-over one, this process's already.
            if claimed is not None:
                claimed.digest = taken
            return True
        digest = digest_of(key)
        delivery = current_delivery.get()
        record = delivery is not None and claimed is not None
        won = await self._deliveries.claim(key, (delivery, self.lease()) if record and delivery else None)
        if won and record and claimed is not None:
            claimed.digest = digest
        return won

    async def note(self, digest: str, facts: dict[str, Any]) -> None:
        await self._deliveries.note(digest, facts)

    async def end(self, claimed: _Claimed) -> None:
        if claimed.digest is not None:
            await self._deliveries.finish(claimed.digest)

    # ---- keeping leases and taking over -------------------------------------------------------------------------

    async def keep(self, recover: Recover, *, stop: asyncio.Event) -> None:
        """Renew this process's leases and take over expired work, until `stop` is set. Rounds that fail are only
        logged: the next round tries again."""
        interval = self.lease_seconds / 3
        while not stop.is_set():
            try:
                await self.round(recover)
            except Exception as error:  # a database outage must not end the loop
                log.warning("acked work round failed: %s", type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    async def round(self, recover: Recover) -> int:
        """One renewal and one takeover; how many pieces of work were taken over."""
        await self._deliveries.renew(self.lease())
        taken = await self._deliveries.take_over(self.lease(), self._clock(), TAKE_OVER_BATCH)
        for work in taken:
            log.info("taking over acked work %s (attempt %d)", work.digest[:12], work.attempts)
            try:
                await recover(work)
            except Exception as error:  # one request's trouble is not the next one's
                log.warning("taking over acked work failed: %s", type(error).__name__)
        return len(taken)

    async def give_up(self, work: UnfinishedWork) -> None:
        await self._deliveries.finish(work.digest, failed=True)

    async def settled(self, work: UnfinishedWork) -> None:
        await self._deliveries.finish(work.digest)


def delivery_key() -> str | None:
    """A key for the Slack request being handled, from its body: a redelivery of it has the same one."""
    delivery = current_delivery.get()
    return None if delivery is None else f"delivery:{hashlib.sha256(delivery.body.encode()).hexdigest()}"


def recovering(digest: str) -> Any:
    """Mark what runs in this context as the takeover of `digest` (a contextvars token, for `stop_recovering`)."""
    return _recovering.set(digest)


def stop_recovering(token: Any) -> None:
    _recovering.reset(token)


async def note(**facts: Any) -> None:
    """Record what the current acked work has done that a takeover must know (a write sent, an answer started)."""
    claimed = _running.get()
    if claimed is not None and claimed.work is not None and claimed.digest is not None:
        await claimed.work.note(claimed.digest, facts)
