"""The composition root: builds settings-driven services, the Bolt AsyncApp and the aiohttp server. No logic here.

This is the one module under bot/ that knows handlers/ exists: it is where they are wired to the app.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler, async_default_handlers
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.crm import CrmService
from bot.logs import configure_logging
from bot.maintenance import prune_forever
from bot.rollout.client import RolloutClient
from bot.rollout.pool import SessionPool
from bot.rollout.tokens import TokenMinter, TokenService
from bot.rollout.tools import Capability
from bot.store import Store

log = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"


@dataclass
class BackgroundWork:
    """Work that runs after Slack has been acked; tracked so shutdown can let it finish."""

    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

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
    agent: Any = None  # bot.agent.Agent when ANTHROPIC_API_KEY is set

    async def close(self) -> None:
        await self.background.drain()
        if self.agent is not None:
            await self.agent.close()
        await self.pool.close()
        await self.store.close()


async def build_services(settings: Settings, *, migrate: bool = True) -> Services:
    settings.require_rollout()
    settings.require_store()
    assert settings.rollout_client_id is not None and settings.rollout_client_secret is not None
    store = await Store.open(settings.database_url, settings.encryption_keys)
    if migrate:
        await store.migrate()
    minter = TokenMinter(
        settings.rollout_client_id, settings.rollout_client_secret.get_secret_value(), settings.rollout_token_ttl
    )
    tokens = TokenService(minter, store.users)
    pool = SessionPool(
        settings.rollout_mcp_url,
        tokens,
        max_sessions=settings.rollout_pool_size,
        idle_seconds=settings.rollout_pool_idle_seconds,
        connect_timeout=settings.rollout_timeout_seconds,
    )
    overrides = {
        Capability.LIST_CREDENTIALS: settings.rollout_tool_list_credentials,
        Capability.PERSON_OVERVIEW: settings.rollout_tool_person_overview,
        Capability.CREATE_PERSON: settings.rollout_tool_create_person,
        Capability.CREATE_NOTE: settings.rollout_tool_create_note,
        Capability.CREATE_TASK: settings.rollout_tool_create_task,
    }
    mcp_url = urlsplit(settings.rollout_mcp_url)
    rollout = RolloutClient(
        pool,
        timeout=settings.rollout_timeout_seconds,
        tool_names=overrides,
        rollout_origin=f"{mcp_url.scheme}://{mcp_url.netloc}",
    )
    crm = CrmService(rollout, store, tokens, settings.rollout_mcp_url)
    services = Services(settings, store, tokens, pool, rollout, crm, BackgroundWork())
    if settings.llm_enabled:
        from bot.agent import build_agent  # imported only when configured: the no-LLM commands don't need it

        services.agent = build_agent(settings, services)
    return services


def build_slack_app(settings: Settings, services: Services) -> AsyncApp:
    settings.require_slack()
    assert settings.slack_bot_token is not None and settings.slack_signing_secret is not None
    client_options: dict[str, Any] = {
        "token": settings.slack_bot_token.get_secret_value(),
        # Slack answers 429 before doing anything, so waiting Retry-After and sending again cannot duplicate a post.
        "retry_handlers": [*async_default_handlers(), AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    }
    if settings.slack_api_url:
        client_options["base_url"] = settings.slack_api_url.rstrip("/") + "/"
    app = AsyncApp(
        client=AsyncWebClient(**client_options),
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        logger=logging.getLogger("bot.slack"),
    )
    import handlers  # the composition root is the one place bot/ reaches into handlers/

    handlers.register_all(app, services)
    return app


def build_web_app(slack_app: AsyncApp, services: Services) -> web.Application:
    async def slack_events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await slack_app.async_dispatch(await to_bolt_request(request)))

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def on_cleanup(_: web.Application) -> None:
        await services.close()

    web_app = web.Application()
    web_app.router.add_post(SLACK_PATH, slack_events)
    web_app.router.add_get("/healthz", healthz)
    web_app.on_cleanup.append(on_cleanup)
    return web_app


async def serve(settings: Settings) -> None:
    """Run until cancelled: Socket Mode when SLACK_APP_TOKEN is set, else HTTP on PORT."""
    configure_logging(settings.log_level)
    settings.require_serve()
    services = await build_services(settings)
    slack_app = build_slack_app(settings, services)
    pruning = asyncio.create_task(prune_forever(services.store), name="prune")
    try:
        if settings.slack_app_token is not None:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            handler = AsyncSocketModeHandler(slack_app, settings.slack_app_token.get_secret_value())
            try:
                await handler.start_async()
            finally:
                await services.close()
            return
        runner = web.AppRunner(build_web_app(slack_app, services), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "0.0.0.0", settings.port).start()  # a PaaS routes to all interfaces
        log.info("listening on port %s", settings.port)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()  # its on_cleanup closes the services
    finally:
        pruning.cancel()
