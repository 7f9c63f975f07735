"""What every entry point is handed: the services the composition root built, and the work running after an ack.

Handlers and the agent depend on this module, never on the composition root (bot/app.py), so imports flow one way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore

from bot.config import Settings
from bot.crm import CrmService
from bot.follows import Follows
from bot.reminders import Reminders
from bot.rollout.client import RolloutClient
from bot.rollout.pool import SessionPool
from bot.rollout.tokens import TokenService
from bot.schedule import Scheduler, TimeZones
from bot.store import Store
from bot.work import AckedWork

if TYPE_CHECKING:
    from bot.agent import Agent

log = logging.getLogger(__name__)


@dataclass
class BackgroundWork:
    """Work that runs after Slack has been acked; tracked so shutdown can let it finish."""

    acked: AckedWork | None = None  # records what each piece of work claims, and marks it done when it ends
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(self._tracked(work), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    async def _tracked(self, work: Coroutine[Any, Any, Any]) -> Any:
        if self.acked is None:
            return await work
        claimed = self.acked.begin()  # in this task's own context: the work's claim is tracked from here
        try:
            result = await work
        except asyncio.CancelledError:
            raise  # cut off (a shutdown past its grace): left for another process to take over
        except Exception:
            await self.acked.end(claimed)  # it failed, and said so to its user: done all the same
            raise
        await self.acked.end(claimed)
        return result

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background %s failed: %s", task.get_name(), type(task.exception()).__name__)

    async def drain(self, within: float = 10.0) -> bool:
        """Wait for all work, including work that work spawned; True when none is left."""
        deadline = asyncio.get_running_loop().time() + within
        while self._tasks and (left := deadline - asyncio.get_running_loop().time()) > 0:
            await asyncio.wait(set(self._tasks), timeout=left)
        return not self._tasks


@dataclass
class Services:
    settings: Settings
    store: Store
    tokens: TokenService
    pool: SessionPool
    rollout: RolloutClient
    crm: CrmService
    background: BackgroundWork
    work: AckedWork
    scheduler: Scheduler  # digests and reminders, due at a time
    time_zones: TimeZones  # given the Slack messenger once the Slack app is built
    follows: Follows
    reminders: Reminders
    agent: Agent | None = None  # when ANTHROPIC_API_KEY is set
    installations: AsyncInstallationStore | None = None  # when installed by OAuth (SLACK_CLIENT_ID/SECRET set)
    # One connection pool for every call to Slack (Web API and response_urls) once the Slack app is built: a session
    # per call would open a new connection, and a new TLS handshake, for every reply.
    slack_http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if not await self.background.drain(self.settings.shutdown_grace_seconds):
            log.warning("stopped with acked work still running after %s s", self.settings.shutdown_grace_seconds)
        if self.agent is not None:
            await self.agent.close()
        await self.pool.close()
        if self.slack_http is not None:
            await self.slack_http.close()
        await self.store.close()
