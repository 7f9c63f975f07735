"""Prometheus metrics and the request context that log lines and metrics share.

Labels name kinds of things — a subcommand, a Rollout tool, a Slack method or error code, an outcome — never a user,
a team, or anything from the CRM, so a scrape can't leak who did what and label sets stay small. Label values are
single words (`slash_command`, not "slash command").

Prometheus conventions, as prometheus_client implements them: what counts up since start is a counter (exposed as
`…_total`), what goes up and down is a gauge; no `…_created` series (they double the series count and no dashboard
here reads them); the process collector's `process_*` (CPU, memory, open files) and the platform's `python_info` are
exposed like on prometheus_client's default registry. GET /metrics is prometheus_client's own aiohttp handler
(`make_aiohttp_handler`: content negotiation, OpenMetrics, compression), mounted by bot/app.py.

Kept here because prometheus_client has no such thing: the request context (a contextvar that follows a delivery
into its after-ack work), the slack_sdk retry handler that only observes responses, and the scrape-time collector of
the MCP pools' counts.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import mcp_types as types
from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.aiohttp import make_aiohttp_handler
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.commands import SUBCOMMANDS
from bot.identity import SlackUser
from bot.rollout.client import RolloutClient
from bot.rollout.outcomes import Failure
from bot.rollout.session import RolloutStats
from bot.rollout.tokens import IssuedToken, TokenMinter, TokenService

# Process-wide in prometheus_client (read at each scrape): this process exposes only this registry.
disable_created_metrics()
REGISTRY = CollectorRegistry()
# What prometheus_client's default registry carries, on ours: process_* (CPU, memory, file descriptors), python_info
# and the garbage collector's counts.
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)
SLACK_EVENTS_PATH = "/slack/events"

SLACK_REQUESTS = Counter(
    "rollout_bot_slack_requests", "Slack deliveries received, by kind", ["kind"], registry=REGISTRY
)
ACK_SECONDS = Histogram(
    "rollout_bot_slack_ack_seconds",
    "Time from receiving a Slack delivery to answering it over HTTP",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
    registry=REGISTRY,
)
COMMANDS = Counter(
    "rollout_bot_commands", "Slash commands by subcommand and outcome", ["kind", "outcome"], registry=REGISTRY
)
WORK = Counter(
    "rollout_bot_after_ack_work", "Work run after an ack, by name and outcome", ["work", "outcome"], registry=REGISTRY
)
WORK_SECONDS = Histogram(
    "rollout_bot_after_ack_seconds",
    "Duration of the work run after an ack",
    ["work"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
    registry=REGISTRY,
)
MCP_CALLS = Counter(
    "rollout_bot_mcp_calls", "Rollout tool calls, by tool and outcome", ["tool", "outcome"], registry=REGISTRY
)
MCP_SECONDS = Histogram("rollout_bot_mcp_call_seconds", "Rollout tool call duration", ["tool"], registry=REGISTRY)
TOKENS_MINTED = Counter(
    "rollout_bot_rollout_tokens_minted", "Rollout tokens minted (first or renewed)", registry=REGISTRY
)
TOKENS_REJECTED = Counter(
    "rollout_bot_rollout_tokens_rejected", "Rollout tokens Rollout answered 401 to", registry=REGISTRY
)
LLM_CALLS = Counter("rollout_bot_llm_calls", "Model calls, by how they stopped", ["stop_reason"], registry=REGISTRY)
LLM_TOKENS = Counter("rollout_bot_llm_tokens", "Model tokens, by kind", ["kind"], registry=REGISTRY)
LLM_REFUSED_BUDGET = Counter(
    "rollout_bot_llm_over_budget", "Turns refused because a daily budget was used up", ["budget"], registry=REGISTRY
)
SCHEDULED = Counter(
    "rollout_bot_scheduled_work",
    "Morning digests and task reminders, by kind and what became of them",
    ["kind", "outcome"],
    registry=REGISTRY,
)
APPROVALS = Counter("rollout_bot_approvals", "Approval clicks, by outcome", ["outcome"], registry=REGISTRY)
SLACK_API_ERRORS = Counter(
    "rollout_bot_slack_api_errors",
    "Slack Web API calls answered ok=false, by method and error",
    ["method", "error"],
    registry=REGISTRY,
)
SLACK_RATE_LIMITED = Counter(
    "rollout_bot_slack_api_rate_limited", "Slack Web API calls answered 429, by method", ["method"], registry=REGISTRY
)


def scrape() -> bytes:
    return generate_latest(REGISTRY)


# GET /metrics: prometheus_client's handler for our registry.
metrics_handler = make_aiohttp_handler(REGISTRY)


# ---- the request context ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class RequestContext:
    """One Slack delivery: set when it arrives, copied into the work it starts after the ack (asyncio copies
    contextvars into new tasks), so log lines and metrics of that work belong to it."""

    request_id: str
    kind: str = "unknown"  # command, block_actions, view_submission, event:app_mention, …
    command: str | None = None  # the subcommand, for slash commands
    refused: str | None = None  # why the work answered without doing what was asked, e.g. not_configured


_current: ContextVar[RequestContext | None] = ContextVar("rollout_bot_request", default=None)


def current_request() -> RequestContext | None:
    return _current.get()


def start_request(request_id: str | None = None) -> RequestContext:
    context = RequestContext(request_id or uuid.uuid4().hex[:16])
    _current.set(context)
    return context


def describe_delivery(context: RequestContext, body: Mapping[str, Any]) -> None:
    """Fill in what kind of delivery this is, from Bolt's parsed body; the Slack ids that name it become the id."""
    if body.get("command"):
        context.kind = "command"
        words = str(body.get("text") or "").split()
        first = words[0].lower() if words else "help"
        context.command = SUBCOMMANDS.get(first, "free_text")
    elif body.get("type") == "event_callback":
        event = body.get("event")
        context.kind = f"event:{event.get('type')}" if isinstance(event, Mapping) else "event"
        if body.get("event_id"):
            context.request_id = str(body["event_id"])
    elif isinstance(body.get("type"), str):
        context.kind = str(body["type"])
    trigger = body.get("trigger_id")
    if context.kind != "unknown" and not context.kind.startswith("event") and isinstance(trigger, str) and trigger:
        # Commands and interactions carry no delivery id; their trigger is unique per delivery. Hashed, because a
        # trigger opens modals for a few seconds and has no business in a log.
        context.request_id = request_id_of_trigger(trigger)
    SLACK_REQUESTS.labels(context.kind).inc()


def request_id_of_trigger(trigger_id: str) -> str:
    return "t-" + hashlib.sha256(trigger_id.encode()).hexdigest()[:16]


def scheduled(kind: str, outcome: str) -> None:
    """A digest or reminder ran: sent, undelivered (Slack refused), unchanged (a digest with nothing new), closed (a
    reminder whose task was done), failed (given up), waiting (for the read budget)."""
    SCHEDULED.labels(kind, outcome).inc()


def refused(reason: str) -> None:
    """The work running now answers without doing what was asked (`reason`, e.g. not_configured): counted so."""
    context = current_request()
    if context is not None:
        context.refused = reason


def work_finished(name: str, outcome: str, started: float) -> None:
    """After-ack work ended: `outcome` is ok, error or duplicate (another delivery of it did the work), or the reason
    the work gave to `refused` when it ended without error."""
    context = current_request()
    if outcome == "ok" and context is not None and context.refused is not None:
        outcome = context.refused
    work = label_value(name)
    WORK.labels(work, outcome).inc()
    if outcome != "duplicate":
        WORK_SECONDS.labels(work).observe(time.monotonic() - started)
    if context is not None and context.command is not None:
        COMMANDS.labels(context.command, outcome).inc()


def label_value(name: str) -> str:
    """A name as a label value: words joined by underscores ("slash command" → slash_command)."""
    return _NOT_LABEL.sub("_", name.strip()) or "unknown"


_NOT_LABEL = re.compile(r"[^A-Za-z0-9_:.-]+")


# ---- what Slack answered ------------------------------------------------------------------------------------------


class SlackResponseMeter(AsyncRetryHandler):
    """Sees every Slack Web API response (slack_sdk shows each one to the retry handlers) and never retries itself.

    A retry handler is what Bolt copies into the client it makes for each request, so this counts every call."""

    def __init__(self) -> None:
        # The count only gates whether slack_sdk asks this handler at all; it never asks for a retry.
        super().__init__(max_retry_count=1 << 30)

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None:
            return False
        method = urlsplit(request.url).path.rsplit("/", 1)[-1] or "unknown"
        if response.status_code == 429:
            SLACK_RATE_LIMITED.labels(method).inc()
        elif isinstance(response.body, Mapping) and response.body.get("ok") is False:
            SLACK_API_ERRORS.labels(method, str(response.body.get("error") or "unknown")[:64]).inc()
        return False


class _Pool(Protocol):
    stats: RolloutStats

    def __len__(self) -> int: ...


class _PoolCollector(Collector):
    """Read at scrape time from every MCP session pool alive in this process (one, when serving): the pools keep
    their own counts (RolloutStats, which the bench reads too), so they are exposed, not counted twice."""

    def __init__(self) -> None:
        self.pools: weakref.WeakSet[Any] = weakref.WeakSet()

    def describe(self) -> list[Metric]:
        return list(self._families(()))

    def collect(self) -> list[Metric]:
        return list(self._families(list(self.pools)))

    def _families(self, pools: Any) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "rollout_bot_mcp_pool_sessions", "Open MCP sessions in the pool", value=sum(len(p) for p in pools)
        )
        yield CounterMetricFamily(
            "rollout_bot_mcp_http_requests",
            "HTTP requests sent to Rollout since start",
            value=sum(p.stats.http_requests for p in pools),
        )
        yield CounterMetricFamily(
            "rollout_bot_mcp_sessions_opened",
            "MCP sessions opened since start",
            value=sum(p.stats.sessions_opened for p in pools),
        )


_POOLS = _PoolCollector()
REGISTRY.register(_POOLS)


def observe_pool(pool: _Pool) -> None:
    _POOLS.pools.add(pool)


# ---- Rollout ------------------------------------------------------------------------------------------------------


class MeteredRolloutClient(RolloutClient):
    """The Rollout client, counting each tool call by tool and outcome (ok, tool_error, or the failure reason)."""

    async def call(
        self, user: SlackUser, name: str, arguments: dict[str, Any], *, idempotent: bool
    ) -> types.CallToolResult | Failure:
        started = time.monotonic()
        result = await super().call(user, name, arguments, idempotent=idempotent)
        tool = name[:64]
        MCP_SECONDS.labels(tool).observe(time.monotonic() - started)
        outcome = result.reason.value if isinstance(result, Failure) else "tool_error" if result.is_error else "ok"
        MCP_CALLS.labels(tool, outcome).inc()
        return result


class MeteredTokenMinter(TokenMinter):
    def mint(self, subject: str) -> IssuedToken:
        TOKENS_MINTED.inc()
        return super().mint(subject)


class MeteredTokenService(TokenService):
    async def renew(self, user: SlackUser, rejected: str | None = None) -> IssuedToken:
        if rejected is not None:  # Rollout answered 401 to this token
            TOKENS_REJECTED.inc()
        return await super().renew(user, rejected)


# ---- glue for the servers ---------------------------------------------------------------------------------------


async def bolt_request_context(body: dict[str, Any], next_: Callable[[], Awaitable[None]]) -> None:
    """Bolt global middleware: names the delivery before any listener runs, so work it starts carries the id."""
    describe_delivery(current_request() or start_request(), body)
    await next_()


@web.middleware
async def time_slack_acks(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """aiohttp middleware: a fresh request context per delivery, and the time until Slack gets its answer."""
    if request.path != SLACK_EVENTS_PATH:
        return await handler(request)
    started = time.monotonic()
    context = start_request()
    try:
        return await handler(request)
    finally:
        ACK_SECONDS.labels(context.kind).observe(time.monotonic() - started)


def llm_call(stop_reason: str | None, usage: Any) -> None:
    """One model response: `usage` has input, cache_write, cache_read and output counts (bot.agent.budget.Usage)."""
    LLM_CALLS.labels(stop_reason or "unknown").inc()
    for kind in ("input", "cache_write", "cache_read", "output"):
        LLM_TOKENS.labels(kind).inc(getattr(usage, kind))
