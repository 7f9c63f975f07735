"""The processes `python -m bench` starts: our app, the floor, the Rollout sandbox and the unavoidable parts.

Each runs in its own process with its own event loop, so one's work never waits in another's queue, and its CPU time
can be read from outside (/proc/<pid>/stat). A worker reads one JSON line of configuration on stdin, starts, prints one
JSON line (its control URL and pid) on stdout, and serves until its stdin closes. The control routes are the bench's
only way in besides the app's own HTTP endpoint; each answers JSON.

Run as `python -m bench.workers <role>`; `bench.run` does that.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import json
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx2
from aiohttp import web
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bot.app import SLACK_PATH, build_services, build_slack_app, build_web_app, freeze_startup_heap, listen
from bot.config import load_settings
from bot.identity import SlackUser
from bot.ids import SLASH_COMMAND
from bot.rollout.outcomes import Failure, PersonOverview
from bot.sandbox import SandboxCrm, start_sandbox
from bot.services import BackgroundWork

# The MCP transports' own defaults (30 s; 300 s to read a stream), for the plain clients the baselines use.
MCP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)

Config = dict[str, Any]
Route = Callable[[Config], Awaitable[Config]]
Role = Callable[[Config, AsyncExitStack], Awaitable[tuple[Config, dict[str, Route]]]]


# ---- the app: ours, over HTTP, with the bench's handles on its after-ack work, pool and memory ----------------------


@dataclass
class DeferrableWork(BackgroundWork):
    """The app's after-ack work, which the ack phase can hold back until its acks are measured.

    Held work starts when released, `limit` at a time, as it would have spread out over the arrival of the requests.
    """

    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _slots: asyncio.Semaphore | None = None

    def __post_init__(self) -> None:
        self._released.set()

    def hold(self, limit: int) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        return super().spawn(self._when_released(work), name)

    async def _when_released(self, work: Coroutine[Any, Any, Any]) -> Any:
        await self._released.wait()
        if self._slots is None:
            return await work
        async with self._slots:
            return await work

    async def drain(self, within: float = 10.0) -> bool:
        done = await super().drain(within)
        if done:
            self._slots = None
        return done


class _DatabaseCount:
    """Transactions committed and statements executed through SQLAlchemy in this process, between start and stop.

    Listeners on the Engine class, so no handle on the store's engine is needed; attached only while counting, so no
    other phase pays for them.
    """

    def __init__(self) -> None:
        self.commits = 0
        self.statements = 0

    def _commit(self, *_: Any) -> None:
        self.commits += 1

    def _statement(self, *_: Any) -> None:
        self.statements += 1

    async def start(self, body: Config) -> Config:
        self.commits = self.statements = 0
        event.listen(Engine, "commit", self._commit)
        event.listen(Engine, "after_cursor_execute", self._statement)
        return {}

    async def stop(self, body: Config) -> Config:
        event.remove(Engine, "commit", self._commit)
        event.remove(Engine, "after_cursor_execute", self._statement)
        return {"commits": self.commits, "statements": self.statements}


async def _app(config: Config, stack: AsyncExitStack) -> tuple[Config, dict[str, Route]]:
    settings = load_settings(_env_file=None, **config["settings"])
    services = await build_services(settings)
    # With the AckedWork serve's app has: each claim records its request and each piece of work is marked done.
    deferred = services.background = DeferrableWork(services.background.acked)
    runner = web.AppRunner(build_web_app(build_slack_app(settings, services), services), access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)  # its cleanup closes the services
    freeze_startup_heap()  # as serve does
    url = await _listen(runner)
    team = str(config["team_id"])
    counting = _DatabaseCount()

    def users(body: Config) -> list[SlackUser]:
        return [SlackUser(team, str(user_id)) for user_id in body["users"]]

    async def hold(body: Config) -> Config:
        deferred.hold(int(body["limit"]))
        return {}

    async def release(body: Config) -> Config:
        deferred.release()
        return {}

    async def settle(body: Config) -> Config:
        return {"done": await deferred.drain(float(body["within"]))}

    async def stats(body: Config) -> Config:
        pool = services.pool
        return {
            "pool_size": len(pool),
            "pool_limit": settings.rollout_pool_size,
            "http_requests": pool.stats.http_requests,
            "sessions_opened": pool.stats.sessions_opened,
            "rss": _rss_bytes() if body.get("rss") else None,
        }

    async def tokens(body: Config) -> Config:
        for user in users(body):
            await services.tokens.current(user)
        return {}

    async def open_sessions(body: Config) -> Config:
        for user in users(body):
            async with services.pool.session(user):
                pass
        return {}

    async def soak(body: Config) -> Config:
        # Through CrmService, the code every entry point shares (see bench.run's memory phase for why not Slack).
        gate = asyncio.Semaphore(int(body["at_once"]))
        slowest = 0.0

        async def one(user: SlackUser) -> str | None:
            nonlocal slowest
            async with gate:
                started = time.perf_counter()
                outcome = await services.crm.overview(user, str(body["query"]))
                slowest = max(slowest, time.perf_counter() - started)
            if isinstance(outcome, PersonOverview):
                return None
            return str(outcome.reason) if isinstance(outcome, Failure) else type(outcome).__name__

        misses = Counter(miss for miss in await asyncio.gather(*(one(u) for u in users(body))) if miss is not None)
        return {"misses": dict(misses), "pool_size": len(services.pool), "slowest": slowest}

    routes: dict[str, Route] = {
        "hold": hold,
        "release": release,
        "settle": settle,
        "stats": stats,
        "tokens": tokens,
        "open_sessions": open_sessions,
        "soak": soak,
        "database_count_start": counting.start,
        "database_count_stop": counting.stop,
    }
    return {"url": url}, routes


# ---- the floor: a bare Bolt app, same adapter and middleware as ours, whose /rollout handler only acks -----------


async def _floor(config: Config, stack: AsyncExitStack) -> tuple[Config, dict[str, Route]]:
    bare = AsyncApp(
        client=AsyncWebClient(token=config["bot_token"], base_url=config["slack_api_url"]),
        signing_secret=config["signing_secret"],
    )

    async def ack_only(ack: Callable[[], Awaitable[None]]) -> None:
        await ack()

    bare.command(SLASH_COMMAND)(ack_only)

    async def slack_events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bare.async_dispatch(await to_bolt_request(request)))

    app = web.Application()
    app.router.add_post(SLACK_PATH, slack_events)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    return {"url": await _listen(runner)}, {}


# ---- the Rollout sandbox, counting what reaches it ------------------------------------------------------------------


async def _sandbox(config: Config, stack: AsyncExitStack) -> tuple[Config, dict[str, Route]]:
    sandbox = await stack.enter_async_context(
        start_sandbox(
            client_id=config["client_id"],
            client_secret=config["client_secret"],
            crm=SandboxCrm(accounts_per_new_subject=1),
            latency_seconds=float(config["latency"]),
            **({"protocol": config["protocol"]} if config.get("protocol") else {}),
        )
    )

    async def stats(body: Config) -> Config:
        return {
            "http_requests": sandbox.stats.http_requests,
            "initializations": sandbox.stats.initializations,
            "tool_calls": sum(sandbox.stats.tool_calls.values()),
        }

    return {"url": sandbox.url}, {"stats": stats}


# ---- the unavoidable parts, each done the plain way with the libraries the app uses -------------------------------


async def _parts(config: Config, stack: AsyncExitStack) -> tuple[Config, dict[str, Route]]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {config['token']}"}, timeout=MCP_TIMEOUT)
    await stack.enter_async_context(http)
    # In the era the server chooses, as the app's sessions are: a modern server answers each call as a POST of its
    # own (an event stream from the sandbox), a legacy one as JSON within a session, and the client's CPU differs.
    session = Client(streamable_http_client(config["mcp_url"], http_client=http), mode="auto")
    await stack.enter_async_context(session)
    await session.list_tools()  # as the app's sessions do: the SDK then checks results against the tools' schemas
    web_session = await stack.enter_async_context(aiohttp.ClientSession())

    async def call_tool(body: Config) -> Config:
        for _ in range(int(body["n"])):
            answer = await session.call_tool(str(body["tool"]), dict(body["arguments"]))
            if answer.is_error:
                raise RuntimeError("the sandbox answered the tool call with an error")
        return {}

    async def response_url(body: Config) -> Config:
        for url in body["urls"]:
            sent = await AsyncWebhookClient(str(url), session=web_session).send_dict(body["body"])
            if sent.status_code != 200:
                raise RuntimeError(f"the response_url answered HTTP {sent.status_code}")
        return {}

    return {"era": session.protocol_version}, {"call_tool": call_tool, "response_url": response_url}


ROLES: dict[str, Role] = {"app": _app, "floor": _floor, "sandbox": _sandbox, "parts": _parts}


# ---- the process around a role ------------------------------------------------------------------------------------


async def _listen(runner: web.AppRunner) -> str:
    await listen(runner, "127.0.0.1", 0)  # as `serve` listens: the app and the floor get the same backlog
    host, port = runner.addresses[0][:2]
    return f"http://{host}:{port}{SLACK_PATH}"


def _rss_bytes() -> int:
    gc.collect()
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _Profiling:
    """cProfile of this process's event loop between two control calls (the bench's profile_dir option)."""

    def __init__(self) -> None:
        self._profiler: cProfile.Profile | None = None

    async def start(self, body: Config) -> Config:
        # CPU time of the event loop's thread, not wall time: waiting for a peer or the scheduler is not cost.
        self._profiler = cProfile.Profile(time.thread_time)
        self._profiler.enable()
        return {}

    async def stop(self, body: Config) -> Config:
        if self._profiler is not None:
            self._profiler.disable()
            self._profiler.dump_stats(str(body["path"]))
            self._profiler = None
        return {}


def _control_app(routes: dict[str, Route]) -> web.Application:
    app = web.Application()
    profiling = _Profiling()
    routes = {**routes, "profile_start": profiling.start, "profile_stop": profiling.stop}

    def route(handler: Route) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def answer(request: web.Request) -> web.Response:
            body = await request.json() if request.can_read_body else {}
            try:
                return web.json_response(await handler(body))
            except Exception as error:  # the bench reports it as a phase it could not measure
                return web.json_response({"error": f"{type(error).__name__}: {error}"}, status=500)

        return answer

    for name, handler in routes.items():
        app.router.add_post(f"/{name}", route(handler))
    return app


async def _run(role: str) -> None:
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    config = json.loads(await stdin.readline())
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    for name, level in dict(config.get("loggers") or {}).items():
        logging.getLogger(name).setLevel(level)
    async with AsyncExitStack() as stack:
        info, routes = await ROLES[role](config, stack)
        control = web.AppRunner(_control_app(routes), access_log=None)
        await control.setup()
        stack.push_async_callback(control.cleanup)
        await web.TCPSite(control, "127.0.0.1", 0).start()
        host, port = control.addresses[0][:2]
        info.update(control=f"http://{host}:{port}", pid=os.getpid())
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
        await stdin.read()  # until the bench closes our stdin (or exits)


def main(role: str) -> None:
    if role not in ROLES:
        raise SystemExit(f"unknown bench worker role {role!r}; one of {', '.join(ROLES)}")
    asyncio.run(_run(role))


if __name__ == "__main__":
    main(sys.argv[1])
