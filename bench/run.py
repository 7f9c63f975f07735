"""`python -m bench`: the performance claims, measured side by side on loopback, each program in its own process.

Our app, the floor (a bare Bolt app that only acks), the Rollout sandbox and the unavoidable parts each run in a
process of their own (bench.workers), with their own event loop; this process is the load generator and hosts the
fake Slack Web API and the fake Anthropic API, which record what the app sends. Absolute times on a shared machine are
noise; each row therefore compares against a baseline measured in the same run, and the ratio is the claim. The app's
store is PostgreSQL, as in production, whenever it is reachable: each app gets a fresh temporary database, dropped
afterwards (or a SQLite file, with --database sqlite).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

import aiohttp
import httpx2
from cryptography.fernet import Fernet
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from slack_sdk.signature import SignatureVerifier
from sqlalchemy.engine import make_url

from bench.fakes import RESPONSE_URL_METHOD, FakeSlackApi
from bench.fakes.anthropic_api import FakeAnthropic, Reply, ToolCall, Usage
from bench.fakes.postgres import (
    DEFAULT_POSTGRES_URL,
    postgres_unavailable_reason,
    temporary_postgres_url,
    transaction_counts,
)
from bench.workers import MCP_TIMEOUT
from bot.agent.history import CHARS_PER_TOKEN
from bot.config import Settings
from bot.identity import SlackUser
from bot.ids import SLASH_COMMAND
from bot.logs import configure_logging
from bot.rollout.tokens import TokenMinter
from bot.store import ConversationKey, Store

TEAM_ID = "T0BENCH"
CHANNEL_ID = "C0BENCH"
PERSON = "Ada Lovelace"  # a seeded person: one match, so an overview is one tool call
OVERVIEW_TOOL = "get_person_overview"
BOT_TOKEN = "xoxb-bench-bot-token"
ROLLOUT_CLIENT_ID = "rollout-bench"
WORKERS_MODULE = "bench.workers"
# The checkout the bench runs from: its workers start there, so they import this bench and this bot (bench is not
# installed with the product).
CHECKOUT = Path(__file__).resolve().parent.parent
DATABASES = ("auto", "postgresql", "sqlite")
BACKEND_NAMES = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}
BENCH_DATABASE_PREFIX = "rollout_bot_bench_"  # the bench's temporary PostgreSQL databases
# The held overviews run this many at a time once the acks are measured: all at once, they would time each other out.
HELD_WORK_AT_ONCE = 16
# Distinct users in the ack phase: many, yet few enough that the overviews the acks promise don't each open a new MCP
# session.
ACK_USERS = 100
# A round lasts well under a second, so one stall in either process decided a lone round's p99; the rows pool these.
ACK_ROUNDS = 3
SOAK_AT_ONCE = 32  # enough to keep the app's event loop busy; more only queues inside it
SOAK_BATCH = 500  # the pool's size is sampled after each batch
WARM_UP = 10  # commands before a CPU measurement: first-use costs (imports, caches, connections) are not per command
PART_REPEAT = 10  # the cheap parts run this many times more often: /proc's CPU clock ticks in 10 ms steps
CPU_ROUNDS = 5  # app and parts take turns this many times, so a burst of load elsewhere hits both
SESSIONS_OPENED = 20  # new Rollout sessions whose CPU is measured, per era
ERAS = ("legacy", "modern")  # MCP protocol eras: the 2025-11-25 initialize handshake, the 2026-07-28 stateless one
ERA_COMMANDS = 10  # cold and warm commands counted per era
LEGACY_COLD_REQUESTS = 5
TOKENS_METRIC = "input tokens per agent turn not read from cache"
SETTLE_SECONDS = 600.0  # longest the bench waits for the app's work after the acks of a phase
STARTUP_SECONDS = 60.0
CPU_TIMES_PARTS = 2.0  # target: our CPU per warm overview at most this many times the sum of the parts
SESSION_CPU_TARGET = 0.025
# Target: the delivery's claim with its record, the user's default-account read, whether the user follows the person
# on the card (its Follow or Unfollow button), the done mark.
TRANSACTIONS_TARGET = 4
# A PostgreSQL (15+) backend publishes its counts when idle, but at most once a second: what it counted since is
# published 10 s later (PGSTAT_IDLE_INTERVAL). Counts read that long after the app's last transaction are complete.
STATS_PUBLISHED_SECONDS = 10.5
STATS_QUIET_SECONDS = 1.0  # and unchanged over this long, in case something else still runs on the database
STATS_SETTLE_SECONDS = 60.0
DATABASE_ROUNDS = 3  # each costs a quiet wait; the fewest of 3 leaves out a round another backend added to


# ---- results ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    metric: str
    ours: str
    baseline: str
    ratio: str
    target: str
    passed: bool | None  # None: reported, not judged


@dataclass(slots=True)
class BenchResult:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(row.passed is not False for row in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "rows": [asdict(row) for row in self.rows], "notes": self.notes}

    def to_table(self) -> str:
        header = ("metric", "ours", "baseline", "ratio", "target", "pass")
        lines = [(r.metric, r.ours, r.baseline, r.ratio, r.target, _verdict(r.passed)) for r in self.rows]
        widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]

        def render(cells: Sequence[str]) -> str:
            return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

        rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
        notes = [f"- {note}" for note in self.notes]
        return "\n".join([render(header), rule, *(render(line) for line in lines), "", *notes])


@dataclass(frozen=True, slots=True)
class BenchOptions:
    requests: int = 1000
    concurrency: int = 200
    commands: int = 100
    soak: int = 10_000
    users: int = 500
    latency: float = 0.0
    database: str = "postgresql"  # "postgresql" or "sqlite" ("auto" is resolved before)
    postgres_url: str = DEFAULT_POSTGRES_URL  # the server temporary databases are created on

    @classmethod
    def from_args(cls, args: argparse.Namespace, database: str) -> BenchOptions:
        options = cls(
            args.requests,
            args.concurrency,
            args.commands,
            args.soak,
            args.users,
            args.latency,
            database,
            args.postgres_url or DEFAULT_POSTGRES_URL,
        )
        if min(options.requests, options.concurrency, options.commands, options.users) < 1 or options.soak < 0:
            raise ValueError("--requests, --concurrency, --commands and --users must be at least 1")
        return options

    @property
    def backend(self) -> str:
        """The database's name as the rows and notes give it."""
        return BACKEND_NAMES[self.database]


async def run_bench(args: argparse.Namespace) -> int:
    """Measure, print one table (or JSON with --json); 0 when every target is met, 1 otherwise, 2 for bad options."""
    database = str(args.database)
    if database != "sqlite":
        unreachable = await postgres_unavailable_reason(args.postgres_url or DEFAULT_POSTGRES_URL)
        if unreachable is not None and database == "postgresql":
            print(f"bench: {unreachable}", file=sys.stderr)
            return 2
        if unreachable is not None:
            _to_stderr(f"{unreachable}; measuring on SQLite instead")
        database = "sqlite" if unreachable is not None else "postgresql"
    try:
        options = BenchOptions.from_args(args, database)
    except ValueError as problem:
        print(f"bench: {problem}", file=sys.stderr)
        return 2
    if not logging.getLogger().handlers:
        configure_logging("WARNING")
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)  # the fakes log every request at INFO: not what is measured
    try:
        result = await measure(options, progress=_to_stderr)
    finally:
        logging.disable(previous)
    print(json.dumps(result.to_json(), indent=2) if args.json else result.to_table())
    return 0 if result.passed else 1


async def measure(
    options: BenchOptions, progress: Callable[[str], None] = lambda _: None, *, profile_dir: Path | None = None
) -> BenchResult:
    """Run every phase; the table lists ack latency, MCP requests, CPU, LLM use and memory, in that order.

    profile_dir: where to write cProfile dumps (CPU time of its event-loop thread) of the app process during the CPU
    phases, the soak and the session openings: a development aid, since profiling slows the app, so the numbers of
    such a run are not comparable.
    """
    result = BenchResult()
    async with _running(options, profile_dir) as rig:
        result.notes.append(
            f"machine: {os.cpu_count()} CPU cores, Python {platform.python_version()}, {platform.machine()}; "
            "processes: this one (load generator, fake Slack API, fake Anthropic API), our app, the floor, the "
            "Rollout sandbox, the parts, and per MCP era a sandbox and an app; all on 127.0.0.1; "
            f"ROLLOUT_POOL_SIZE={rig.pool_limit}, Rollout latency {options.latency * 1000:.0f} ms; "
            f"database: {rig.backend_note}"
        )
        # Quiet phases first, so the load of one phase never spills into another one's numbers.
        progress(f"MCP requests: {options.commands} overviews, pooled and connect-per-request")
        mcp = await _phase("MCP requests", _mcp_requests(rig, options, result), result)
        progress(f"database: transactions per warm overview, {options.commands} overviews")
        database = await _phase("database transactions", _database_work(rig, options, result), result)
        progress(f"CPU: {options.commands} warm overviews, and the unavoidable parts each in a process of its own")
        await _phase("CPU, fresh process", _cpu(rig, options, result, "fresh"), result)
        progress("tokens per agent turn")
        tokens = await _phase("agent tokens", _agent_tokens(rig, result), result)
        users = [rig.user(f"u{i:05d}") for i in range(options.users)]
        ack_users = users[: min(options.requests, ACK_USERS)]
        progress(f"ack latency: {options.requests} commands to each app, {options.concurrency} in flight")
        ack = await _phase("ack latency", _ack_latency(rig, options, ack_users, result), result)
        progress(f"memory: {options.soak:,} commands from {options.users} users")
        memory = await _phase("memory soak", _soak(rig, options, users, len(ack_users), result), result)
        progress(f"CPU after the soak: {options.commands} warm overviews, and the parts")
        await _phase("CPU after the soak", _cpu(rig, options, result, "soaked"), result)
        cpu = _cpu_rows(rig, result)
        progress("history read per agent turn as a conversation grows")
        history = await _phase("history reads", _history_reads(rig), result)
        progress("each MCP era on its own: requests per cold and warm command, CPU to open a session")
        eras = await _phase("MCP eras", _eras(rig, options, result), result)
        # Every command except the agent's free-text turns is deterministic: the model must never be asked.
        model_calls = rig.model_calls_before_agent + len(rig.model.requests)
        deterministic = rig.deterministic_commands + options.soak + max(0, options.users - len(ack_users))
        llm = Row(
            "LLM calls per deterministic command",
            f"{model_calls / max(deterministic, 1):.2f}",
            "—",
            "—",
            "0",
            model_calls == 0,
        )
        result.rows = [*ack, *mcp, *eras, *cpu, *database, llm, *tokens, *history, *memory]
    return result


HISTORY_TURNS = (10, 100, 1000)
HISTORY_TURN_CHARS = 1000  # each user message and each answer; a turn is about 2 KB stored


async def _history_reads(rig: _Rig) -> list[Row]:
    """Rows and bytes an agent turn reads from a conversation of 10, 100 and 1,000 turns (the agent's history budget,
    at its default), against reading the whole conversation: flat means a long thread costs a turn no more."""
    budget = Settings.model_fields["agent_history_tokens"].default * CHARS_PER_TOKEN
    read: dict[int, tuple[int, int]] = {}
    whole: tuple[int, int] = (0, 0)
    async with rig.database("history") as database_url:
        store = await Store.open(database_url, [Fernet.generate_key().decode()])
        try:
            await store.migrate()
            for turns in HISTORY_TURNS:
                key = ConversationKey("TBENCH", "CHISTORY", f"1700000000.{turns:06d}")
                messages = [
                    {"role": role, "content": [{"type": "text", "text": f"{role} {n} " + "x" * HISTORY_TURN_CHARS}]}
                    for n in range(turns)
                    for role in ("user", "assistant")
                ]
                await store.conversations.append(key, messages)
                recent = await store.conversations.load(key, max_chars=budget)
                read[turns] = (len(recent), len(json.dumps(recent)))
                if turns == HISTORY_TURNS[-1]:
                    everything = await store.conversations.load(key)
                    whole = (len(everything), len(json.dumps(everything)))
        finally:
            await store.close()
    first, middle, last = (read[t] for t in HISTORY_TURNS)
    flat = last[0] <= middle[0] and last[1] <= 1.1 * middle[1]
    kib = " → ".join(f"{read[t][1] / 1024:,.0f}" for t in HISTORY_TURNS)
    return [
        Row(
            f"history rows read per agent turn, {' → '.join(f'{t:,}' for t in HISTORY_TURNS)} turns",
            " → ".join(str(read[t][0]) for t in HISTORY_TURNS),
            f"{whole[0]:,} (whole)",
            f"{last[0] / max(whole[0], 1):.2f}",
            "flat past the budget",
            flat,
        ),
        Row(
            f"history KiB read per agent turn, {' → '.join(f'{t:,}' for t in HISTORY_TURNS)} turns",
            kib,
            f"{whole[1] / 1024:,.0f} (whole)",
            f"{last[1] / max(whole[1], 1):.2f}",
            "flat past the budget",
            flat and first[1] <= middle[1],
        ),
    ]


def _to_stderr(line: str) -> None:
    print(f"bench: {line}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """A phase could not be measured (the app failed in a way the phase cannot count around)."""


async def _phase(name: str, phase: Awaitable[list[Row]], result: BenchResult) -> list[Row]:
    try:
        return await phase
    except BenchError as error:
        result.notes.append(f"{name}: not measured: {error}")
        return [Row(name, "n/a", "n/a", "—", "measured", False)]


# ---- the running system ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Worker:
    """One of the bench's processes (see bench.workers): where it listens, how to drive it, its CPU time."""

    role: str
    process: asyncio.subprocess.Process
    info: dict[str, Any]
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return str(self.info["url"])

    def cpu_seconds(self) -> float:
        """User + system CPU time of the whole process (every thread), as the kernel counts it."""
        return _cpu_seconds(self.process.pid)

    async def call(self, route: str, **body: Any) -> dict[str, Any]:
        async with self.http.post(
            f"{self.info['control']}/{route}", json=body, timeout=aiohttp.ClientTimeout(total=SETTLE_SECONDS)
        ) as response:
            answer: dict[str, Any] = await response.json()
        if response.status != 200:
            raise BenchError(f"the {self.role} process failed at {route}: {answer.get('error')}")
        return answer


def _cpu_seconds(pid: int) -> float:
    # /proc/<pid>/stat: after the command name in parentheses, utime and stime are the 12th and 13th fields.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@asynccontextmanager
async def _worker(
    role: str, config: dict[str, Any], http: aiohttp.ClientSession, log: IO[bytes]
) -> AsyncIterator[_Worker]:
    """Start `python -m bench.workers <role>`, stop it on exit by closing its stdin (it cleans up and ends)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        WORKERS_MODULE,
        role,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
        cwd=CHECKOUT,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(json.dumps(config).encode() + b"\n")
        await process.stdin.drain()
        async with asyncio.timeout(STARTUP_SECONDS):
            line = await process.stdout.readline()
        if not line:
            raise BenchError(f"the {role} process did not start (exit code {await process.wait()})")
        yield _Worker(role, process, json.loads(line), http)
    finally:
        process.stdin.close()
        try:
            async with asyncio.timeout(30):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


@dataclass(frozen=True, slots=True)
class _Parts:
    """CPU seconds of each unavoidable part of a warm overview, each measured in a process of its own."""

    ack: float
    call_tool: float
    response_url: float

    @property
    def total(self) -> float:
        return self.ack + self.call_tool + self.response_url


@dataclass(slots=True)
class _Rig:
    app: _Worker
    floor: _Worker
    sandbox: _Worker
    parts: _Worker
    slack: FakeSlackApi
    model: FakeAnthropic
    http: aiohttp.ClientSession
    signer: SignatureVerifier
    minter: TokenMinter
    pool_limit: int
    app_log: Path
    profile_dir: Path | None
    directory: Path
    options: BenchOptions
    logs: dict[str, IO[bytes]]
    sandbox_config: dict[str, Any]
    app_config: dict[str, Any]
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    deterministic_commands: int = 0  # commands sent to the app that must not reach the model
    model_calls_before_agent: int = 0  # the agent phase resets the fake's record; these came before it
    cpu_per_overview: dict[str, float] = field(default_factory=dict)  # "fresh", "soaked" -> CPU seconds
    part_costs: dict[str, _Parts] = field(default_factory=dict)  # measured alongside each of those
    card: dict[str, Any] | None = None  # a person card as the app sent it to the response_url

    def user(self, name: str) -> SlackUser:
        return SlackUser(TEAM_ID, f"U{name.upper()}")

    def signed_command(self, user: SlackUser, text: str) -> tuple[bytes, dict[str, str], str]:
        """A /rollout command as Slack sends it: body, headers, and the id of its response_url."""
        response_url = self.slack.new_response_url()
        body = urlencode(
            {
                "token": "unused-verification-token",
                "team_id": user.team_id,
                "team_domain": "bench",
                "channel_id": CHANNEL_ID,
                "channel_name": "general",
                "user_id": user.user_id,
                "user_name": user.user_id.lower(),
                "command": SLASH_COMMAND,
                "text": text,
                "api_app_id": "A0BENCH",
                "is_enterprise_install": "false",
                "response_url": response_url,
                "trigger_id": f"{next(self.ids)}.{uuid.uuid4().hex}",
            }
        )
        return body.encode(), self.signed_headers(body), response_url.rsplit("/", 1)[-1]

    def signed_headers(self, body: str) -> dict[str, str]:
        timestamp = str(int(time.time()))
        signature = self.signer.generate_signature(timestamp=timestamp, body=body)
        assert signature is not None  # None only for a missing timestamp
        return {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
        }

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        async with self.http.post(url, data=body, headers=headers) as response:
            await response.read()
            return response.status

    async def command(
        self, user: SlackUser, text: str, *, deterministic: bool = True, app: _Worker | None = None
    ) -> str | None:
        """Send a command to the app; the id of its response_url, or None when the app did not ack it."""
        body, headers, hook = self.signed_command(user, text)
        self.deterministic_commands += deterministic
        try:
            status = await self.post((app or self.app).url, body, headers)
        except (aiohttp.ClientError, TimeoutError):
            return None
        return hook if status == 200 else None

    async def settle(self) -> None:
        if not (await self.app.call("settle", within=SETTLE_SECONDS))["done"]:
            raise BenchError(f"the app's work after the ack did not finish within {SETTLE_SECONDS:.0f} s")

    async def sandbox_requests(self) -> int:
        return int((await self.sandbox.call("stats"))["http_requests"])

    @property
    def app_settings(self) -> dict[str, Any]:
        return dict(self.app_config["settings"])

    def database(self, name: str) -> AbstractAsyncContextManager[str]:
        """A fresh, empty database for one app (or phase), gone afterwards."""
        return _database(self.options, self.directory, name)

    @property
    def backend_note(self) -> str:
        if self.options.database == "postgresql":
            server = make_url(self.options.postgres_url).render_as_string(hide_password=True)
            return f"PostgreSQL, a fresh temporary database per app on {server}, dropped afterwards"
        return f"SQLite, a file per app in {self.directory}"

    def token(self, subject: str) -> str:
        """A Rollout token for a subject of the bench's own, minted as the app mints them."""
        return self.minter.mint(subject).token


@asynccontextmanager
async def _running(options: BenchOptions, profile_dir: Path | None) -> AsyncIterator[_Rig]:
    client_secret = "bench-rollout-client-secret-" + uuid.uuid4().hex * 2  # >= 64 bytes for HS512
    signing_secret = "bench-slack-signing-secret-" + uuid.uuid4().hex * 2
    async with AsyncExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rollout-bench-")))
        database_url = await stack.enter_async_context(_database(options, directory, "bench"))
        # Room for every request in flight to both apps, so the client never queues what the servers should see.
        connector = aiohttp.TCPConnector(limit=2 * options.concurrency + 16)
        http = await stack.enter_async_context(aiohttp.ClientSession(connector=connector))
        slack = await stack.enter_async_context(FakeSlackApi(bot_token=BOT_TOKEN, team_id=TEAM_ID))
        model = await stack.enter_async_context(FakeAnthropic(api_key="sk-ant-bench-" + uuid.uuid4().hex))
        logs: dict[str, IO[bytes]] = {
            role: stack.enter_context((directory / f"{role}.log").open("wb")) for role in ("app", "other")
        }
        sandbox_config = {"client_id": ROLLOUT_CLIENT_ID, "client_secret": client_secret, "latency": options.latency}
        sandbox = await stack.enter_async_context(_worker("sandbox", sandbox_config, http, logs["other"]))
        minter = TokenMinter(ROLLOUT_CLIENT_ID, client_secret, timedelta(minutes=15))
        settings = {
            "slack_bot_token": BOT_TOKEN,
            "slack_signing_secret": signing_secret,
            "slack_app_token": None,
            "slack_api_url": slack.base_url,
            "anthropic_api_key": model.api_key,
            "anthropic_base_url": model.base_url,
            "rollout_mcp_url": sandbox.url,
            "rollout_client_id": ROLLOUT_CLIENT_ID,
            "rollout_client_secret": client_secret,
            "database_url": database_url,
            "encryption_key": Fernet.generate_key().decode(),
            "log_level": "WARNING",
        }
        # Session endings are logged at INFO: what the soak's misses are explained by.
        app_config = {"settings": settings, "team_id": TEAM_ID, "loggers": {"bot.rollout": "INFO"}}
        app = await stack.enter_async_context(_worker("app", app_config, http, logs["app"]))
        floor_config = {"bot_token": BOT_TOKEN, "slack_api_url": slack.base_url, "signing_secret": signing_secret}
        floor = await stack.enter_async_context(_worker("floor", floor_config, http, logs["other"]))
        parts_config = {"mcp_url": sandbox.url, "token": minter.mint("bench-parts").token}
        parts = await stack.enter_async_context(_worker("parts", parts_config, http, logs["other"]))
        pool_limit = int((await app.call("stats"))["pool_limit"])
        yield _Rig(
            app,
            floor,
            sandbox,
            parts,
            slack,
            model,
            http,
            SignatureVerifier(signing_secret),
            minter,
            pool_limit,
            directory / "app.log",
            profile_dir,
            directory,
            options,
            logs,
            sandbox_config,
            app_config,
        )


@asynccontextmanager
async def _database(options: BenchOptions, directory: Path, name: str) -> AsyncIterator[str]:
    if options.database == "postgresql":
        async with temporary_postgres_url(options.postgres_url, prefix=BENCH_DATABASE_PREFIX) as url:
            yield url
    else:
        yield f"sqlite+aiosqlite:///{directory / name}.db"


@asynccontextmanager
async def _profiling(rig: _Rig, name: str, app: _Worker | None = None) -> AsyncIterator[None]:
    """cProfile the app process for the block, when the bench was asked to (`measure(profile_dir=...)`)."""
    app = app or rig.app
    if rig.profile_dir is None:
        yield
        return
    await app.call("profile_start")
    try:
        yield
    finally:
        await app.call("profile_stop", path=str(rig.profile_dir / f"app-{name}.prof"))


# ---- 1. ack latency under load, next to the floor ----------------------------------------------------------------


async def _ack_latency(rig: _Rig, options: BenchOptions, users: Sequence[SlackUser], result: BenchResult) -> list[Row]:
    replies_mark = rig.slack.mark()
    # One queue, alternating targets: both apps see the same load at the same moment, each in its own process.
    # Which of a pair goes first is a coin toss, so neither app is always queued behind the other.
    coin = random.Random(len(users))
    jobs: list[tuple[str, SlackUser]] = []
    for i in range(options.requests):
        pair = [
            ("ours", users[i * len(users) // options.requests]),
            ("floor", users[i * len(users) // options.requests]),
        ]
        coin.shuffle(pair)
        jobs += pair
    timings: dict[str, list[float]] = {"ours": [], "floor": []}
    errors = {"ours": 0, "floor": 0}
    gate = asyncio.Semaphore(2 * options.concurrency)

    hooks: list[str] = []  # the response_urls of our timed commands, to check their replies

    def signed(batch: Sequence[tuple[str, SlackUser]]) -> list[tuple[str, bytes, dict[str, str], str]]:
        # Signed before the clock starts: the generator's own CPU stays out of the timed window.
        requests = []
        for target, user in batch:
            body, headers, hook = rig.signed_command(user, f"overview {PERSON}")
            requests.append((target, body, headers, hook))
        return requests

    async def one(target: str, body: bytes, headers: dict[str, str], hook: str, *, timed: bool = True) -> None:
        url = rig.app.url if target == "ours" else rig.floor.url
        rig.deterministic_commands += target == "ours"
        async with gate:
            started = time.perf_counter()
            try:
                status = await rig.post(url, body, headers)
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            elapsed = time.perf_counter() - started
        if not timed:
            return
        if target == "ours":
            hooks.append(hook)
        if status == 200:
            timings[target].append(elapsed)
        else:
            errors[target] += 1

    async def held(requests: Sequence[tuple[str, bytes, dict[str, str], str]], *, timed: bool) -> float:
        """Send the requests and time the acks; the overviews the acks promise wait until then: on a machine this
        size their CPU (the app's and the sandbox's) would otherwise be timed as our ack, and the floor has no such
        work to compete with. Then they run, all of them, before anything else is measured."""
        await rig.app.call("hold", limit=HELD_WORK_AT_ONCE)
        try:
            started = time.perf_counter()
            await asyncio.gather(*(one(*request, timed=timed) for request in requests))
            acked_in = time.perf_counter() - started
        finally:
            await rig.app.call("release")
        await rig.settle()
        return acked_in

    warmup = min(options.concurrency, options.requests)
    # Untimed first round: connections, caches and Bolt's one auth.test are set up in both apps before timing.
    await held(signed(jobs[: 2 * warmup]), timed=False)
    acked_in = [await held(signed(jobs), timed=True) for _ in range(ACK_ROUNDS)]
    answers = rig.slack.calls_to(RESPONSE_URL_METHOD, since=replies_mark)
    replies = Counter(str(c.args.get("response_url_id")) for c in answers)
    cards = Counter(str(c.args.get("response_url_id")) for c in answers if c.contains(PERSON))
    answered_once = sum(1 for hook in hooks if replies[hook] == 1)
    carded = sum(1 for hook in hooks if cards[hook] == 1)
    timed_commands = ACK_ROUNDS * options.requests

    ours, floor = _percentiles(timings["ours"]), _percentiles(timings["floor"])
    rows = []
    for name in ("p50", "p95", "p99"):
        ratio = ours[name] / floor[name] if floor[name] else float("inf")
        judged = ratio <= 1.5 if name == "p99" else None
        rows.append(
            Row(
                f"ack latency {name} ({ACK_ROUNDS} × {options.requests} cmds, {options.concurrency} in flight, "
                f"{options.backend})",
                _ms(ours[name]),
                _ms(floor[name]),
                f"{ratio:.2f}",
                "≤ 1.5" if name == "p99" else "—",
                judged,
            )
        )
    rows.append(Row("ack errors", str(errors["ours"]), str(errors["floor"]), "—", "0", errors["ours"] == 0))
    rows.append(
        Row(
            "commands answered exactly once after the ack",
            str(answered_once),
            str(timed_commands),
            "—",
            f"= {timed_commands}",
            answered_once == timed_commands,
        )
    )
    result.notes.append(
        f"ack phase: {len(users)} distinct users, signed /rollout overview requests to our app and to the floor "
        f"(each in its own process) interleaved in one queue from this process, in {ACK_ROUNDS} rounds acked in "
        f"{', '.join(f'{seconds:.1f}' for seconds in acked_in)} s, percentiles over all of them; the overviews "
        f"promised by each round's acks were held until then, then run {HELD_WORK_AT_ONCE} at a time: "
        f"{carded}/{timed_commands} person cards"
    )
    return rows


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    if not ordered:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0}

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99)}


# ---- 2. MCP requests: pooled session vs connect-per-request ------------------------------------------------------


async def _mcp_requests(rig: _Rig, options: BenchOptions, result: BenchResult) -> list[Row]:
    user = rig.user("mcp")
    for _ in range(WARM_UP):  # opens the user's session: the commands below are warm
        await _overview_and_wait(rig, user)
    pool_before = int((await rig.app.call("stats"))["http_requests"])
    sandbox_before = await rig.sandbox_requests()
    started = time.perf_counter()
    for _ in range(options.commands):
        await _overview_and_wait(rig, user)
    ours_seconds = time.perf_counter() - started
    ours = await rig.sandbox_requests() - sandbox_before
    ours_client = int((await rig.app.call("stats"))["http_requests"]) - pool_before

    token = rig.token("bench-connect-per-request")
    baseline_before = await rig.sandbox_requests()
    started = time.perf_counter()
    for _ in range(options.commands):
        await _connect_per_request(rig.sandbox.url, token)
    baseline_seconds = time.perf_counter() - started
    baseline = await rig.sandbox_requests() - baseline_before

    per_command = ours / options.commands
    rows = [
        Row(
            "MCP HTTP requests per warm command",
            f"{per_command:.2f}",
            f"{baseline / options.commands:.2f}",
            f"{baseline / max(ours, 1):.1f}× fewer",
            # The connect-per-request pattern itself costs 6 per command, so 6 times fewer is all there is to save.
            "= 1; fewer than per-request",
            ours == options.commands and ours_client == ours and baseline > ours,
        ),
        Row(
            f"wall time, {options.commands} overviews of one user",
            f"{ours_seconds:.2f} s",
            f"{baseline_seconds:.2f} s",
            f"{baseline_seconds / ours_seconds:.1f}× faster" if ours_seconds else "—",
            "—",
            None,
        ),
    ]
    result.notes.append(
        f"MCP: ours = {options.commands} signed /rollout overview commands through the app after {WARM_UP} warm-up "
        "ones, timed until each reply reached the fake Slack (counted by the sandbox and by the pool's RolloutStats: "
        f"{ours} and {ours_client}); baseline = the Rollout docs' pattern with the mcp client, a fresh ClientSession "
        "per command (initialize, list_tools, call_tool, close), MCP only. That pattern costs "
        f"{baseline / options.commands:.0f} HTTP requests per command, so one request per command is "
        f"{baseline / max(ours, 1):.0f}× fewer at best: the target is one request per warm command"
    )
    return rows


async def _overview_and_wait(rig: _Rig, user: SlackUser, app: _Worker | None = None) -> dict[str, Any]:
    """One overview through Slack (to `app`, or the main one), waiting for its person card, as the card was sent."""
    mark = rig.slack.mark()
    hook = await rig.command(user, f"overview {PERSON}", app=app)
    if hook is None:
        raise BenchError("the app did not ack a slash command")
    try:
        call = await rig.slack.wait_for(
            RESPONSE_URL_METHOD,
            lambda call: call.args.get("response_url_id") == hook and call.contains(PERSON),
            since=mark,
            timeout=SETTLE_SECONDS,
        )
    except AssertionError:  # the fake's way of saying it waited in vain
        raise BenchError("an overview got no person card") from None
    return {name: value for name, value in call.args.items() if name != "response_url_id"}


async def _connect_per_request(url: str, token: str) -> None:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=MCP_TIMEOUT)
    async with (
        http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        await session.list_tools()
        answer = await session.call_tool(OVERVIEW_TOOL, {"query": PERSON})
        if answer.is_error:
            raise BenchError("the connect-per-request baseline got a tool error")


# ---- 3. CPU: ours per warm overview against the unavoidable parts; opening a session ----------------------------


async def _cpu(rig: _Rig, options: BenchOptions, result: BenchResult, when: str) -> list[Row]:
    """Our CPU per warm overview and the CPU of each unavoidable part, in interleaved rounds.

    Each part is done the plain way in a process of its own and measured like the app: /proc CPU time over many
    repeats. Rounds alternate app and parts, so both see the same load from whatever else the machine runs.
    """
    user = rig.user("mcp")
    card = await _overview_and_wait(rig, user)
    floor_user = rig.user("floor")

    async def overviews(count: int) -> None:
        for _ in range(count):
            await _overview_and_wait(rig, user)

    async def acks(count: int) -> None:
        for _ in range(count):
            body, headers, _ = rig.signed_command(floor_user, f"overview {PERSON}")
            if await rig.post(rig.floor.url, body, headers) != 200:
                raise BenchError("the floor did not ack")

    async def tool_calls(count: int) -> None:
        await rig.parts.call("call_tool", n=count, tool=OVERVIEW_TOOL, arguments={"query": PERSON})

    async def posts(count: int) -> None:
        await rig.parts.call("response_url", urls=[rig.slack.new_response_url() for _ in range(count)], body=card)

    measured: list[tuple[_Worker, Callable[[int], Awaitable[None]], int]] = [
        (rig.app, overviews, options.commands),
        (rig.floor, acks, options.commands * PART_REPEAT),
        (rig.parts, tool_calls, options.commands),
        (rig.parts, posts, options.commands * PART_REPEAT),
    ]
    for _, run, _ in measured:
        await run(WARM_UP)
    seconds = [0.0] * len(measured)
    async with _profiling(rig, when):  # profiles the app process only
        for _ in range(CPU_ROUNDS):
            for i, (worker, run, count) in enumerate(measured):
                before = worker.cpu_seconds()
                await run(-(-count // CPU_ROUNDS))
                seconds[i] += worker.cpu_seconds() - before
    per = [
        spent / (CPU_ROUNDS * -(-count // CPU_ROUNDS)) for spent, (_, _, count) in zip(seconds, measured, strict=True)
    ]
    rig.cpu_per_overview[when] = per[0]
    rig.part_costs[when] = parts = _Parts(ack=per[1], call_tool=per[2], response_url=per[3])
    rig.slack.clear()  # the posts above are no one's replies
    result.notes.append(
        f"CPU, {when}: process CPU time from /proc/<pid>/stat, in {CPU_ROUNDS} rounds alternating app and parts, "
        f"after {WARM_UP} warm-up runs of each; ours {_ms(per[0])} per warm /rollout overview (signed command to "
        f"the reply at the fake Slack, {options.commands} commands of one user); parts, each in a process of its "
        f"own: a bare Bolt ack {_ms(parts.ack)} (the floor), one call_tool on a warm mcp Client in the era the "
        f"server chose ({rig.parts.info.get('era')}, as the app's sessions do) "
        f"{_ms(parts.call_tool)}, one response_url POST of the app's {len(card.get('blocks') or [])}-block person "
        f"card with slack_sdk's AsyncWebhookClient on one shared aiohttp session {_ms(parts.response_url)}; sum "
        f"{_ms(parts.total)}"
    )
    return []


def _cpu_rows(rig: _Rig, result: BenchResult) -> list[Row]:
    rows = []
    for key, label in (("fresh", "fresh process"), ("soaked", "after the soak")):
        metric = f"app CPU per warm overview, {label}, {rig.options.backend}"
        ours, parts = rig.cpu_per_overview.get(key), rig.part_costs.get(key)
        if ours is None or parts is None:
            rows.append(Row(metric, "n/a", "n/a", "—", f"≤ {CPU_TIMES_PARTS:g}× the parts", False))
            continue
        ratio = ours / parts.total if parts.total else float("inf")
        rows.append(
            Row(metric, _ms(ours), _ms(parts.total), f"{ratio:.2f}", f"≤ {CPU_TIMES_PARTS:g}", ratio <= CPU_TIMES_PARTS)
        )
    return rows


# ---- the database: transactions per warm command ----------------------------------------------------------------


async def _database_work(rig: _Rig, options: BenchOptions, result: BenchResult) -> list[Row]:
    """Transactions per warm overview, as the PostgreSQL server counts them for the app's database and as SQLAlchemy
    counts them in the app process (the only count on SQLite), in rounds.

    On PostgreSQL the row takes the round with the fewest: what is not per command (autovacuum's visits, a new pool
    connection's set-up) can only add to a round, and SQLAlchemy's count of the whole batch must meet the target too,
    so an extra transaction of the app's own cannot hide in one round.
    """
    user = rig.user("mcp")
    for _ in range(WARM_UP):
        await _overview_and_wait(rig, user)
    await rig.settle()  # a command's done mark comes after its card
    per_round = -(-options.commands // DATABASE_ROUNDS)
    commands = per_round * DATABASE_ROUNDS
    rounds: list[tuple[int, int, int]] = []  # committed, rolled back, connections opened
    async with _server_counts(rig) as counts:
        before = await counts() if counts is not None else None
        await rig.app.call("database_count_start")
        try:
            for _ in range(DATABASE_ROUNDS):
                for _ in range(per_round):
                    await _overview_and_wait(rig, user)
                await rig.settle()
                if counts is not None and before is not None:
                    after = await counts()
                    rounds.append((after[0] - before[0], after[1] - before[1], after[2] - before[2]))
                    before = after
        finally:
            counted = await rig.app.call("database_count_stop")
    app_commits, statements = int(counted["commits"]) / commands, int(counted["statements"]) / commands
    lease = Settings.model_fields["work_lease_seconds"].default
    note = (
        f"database: {commands} warm /rollout overview commands of one user after {WARM_UP} warm-up ones, one at a "
        f"time, in {DATABASE_ROUNDS} rounds, each round's after-ack work finished before it is counted; SQLAlchemy "
        f"in the app process counted {app_commits:.2f} commits and {statements:.2f} statements per command (on "
        "SQLite, BEGIN is one); the bench's app process does not run serve's keep loop (lease renewal and takeover: "
        f"2 transactions every {lease / 3:g} s per process, whatever the load) nor its pruning, so neither is counted"
    )
    if not rounds:
        ours = app_commits
    else:
        ours = min(committed for committed, _, _ in rounds) / per_round
        note += (
            "; the PostgreSQL server (pg_stat_database for the app's database, read from another one once settled) "
            f"counted {', '.join(str(committed) for committed, _, _ in rounds)} commits in rounds of {per_round} "
            f"commands (the row: the fewest), the app's pool opening {', '.join(str(o) for _, _, o in rounds)} new "
            "connections (a new asyncpg connection's set-up queries commit outside SQLAlchemy's transactions), and "
            f"{sum(r for _, r, _ in rounds) / commands:.2f} rollbacks per command (the pool's pre-ping on each "
            "checkout is a transaction rolled back)"
        )
    result.notes.append(note)
    return [
        Row(
            f"database transactions per warm command, {options.backend}",
            f"{ours:.2f}",
            "—",
            "—",
            f"≤ {TRANSACTIONS_TARGET}",
            ours <= TRANSACTIONS_TARGET and app_commits <= TRANSACTIONS_TARGET,
        )
    ]


@asynccontextmanager
async def _server_counts(rig: _Rig) -> AsyncIterator[Callable[[], Awaitable[tuple[int, int, int]]] | None]:
    """On PostgreSQL, a reader of the app database's committed and rolled-back transactions once the server has
    published all of them; None on SQLite, which counts nothing of the kind."""
    if rig.options.database != "postgresql":
        yield None
        return
    database = str(make_url(str(rig.app_settings["database_url"])).database)
    async with transaction_counts(rig.options.postgres_url, database) as read:

        async def settled() -> tuple[int, int, int]:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + STATS_SETTLE_SECONDS
            await asyncio.sleep(STATS_PUBLISHED_SECONDS)  # the app is idle: its after-ack work has finished
            value, since = await read(), loop.time()
            while loop.time() - since < STATS_QUIET_SECONDS:
                if loop.time() > deadline:
                    raise BenchError(f"PostgreSQL's transaction counts kept changing for {STATS_SETTLE_SECONDS:.0f} s")
                await asyncio.sleep(0.25)
                if (now := await read()) != value:
                    value, since = now, loop.time()
            return value

        yield settled


# ---- MCP eras: requests per cold and warm command, and the CPU to open a session, on a server of each era ------


async def _eras(rig: _Rig, options: BenchOptions, result: BenchResult) -> list[Row]:
    rows: list[Row] = []
    for era in ERAS:
        async with _era_rig(rig, era) as (app, sandbox):
            rows += await _era(rig, app, sandbox, era, result)
    return rows


@asynccontextmanager
async def _era_rig(rig: _Rig, era: str) -> AsyncIterator[tuple[_Worker, _Worker]]:
    """A sandbox that speaks only `era` and a fresh app process in front of it, which has never seen the server."""
    async with AsyncExitStack() as stack:
        config = {**rig.sandbox_config, "protocol": era}
        sandbox = await stack.enter_async_context(_worker("sandbox", config, rig.http, rig.logs["other"]))
        database_url = await stack.enter_async_context(rig.database(era))
        settings = {**rig.app_settings, "rollout_mcp_url": sandbox.url, "database_url": database_url}
        app_config = {**rig.app_config, "settings": settings}
        app = await stack.enter_async_context(_worker("app", app_config, rig.http, rig.logs["app"]))
        yield app, sandbox


async def _era(rig: _Rig, app: _Worker, sandbox: _Worker, era: str, result: BenchResult) -> list[Row]:
    async def requests_for(users: Sequence[SlackUser]) -> float:
        before = await _requests(sandbox)
        for user in users:
            await _overview_and_wait(rig, user, app)
        return (await _requests(sandbox) - before) / len(users)

    first = await requests_for([rig.user(f"{era}-first")])  # the process learns which era the server speaks
    cold = await requests_for([rig.user(f"{era}-cold{i:03d}") for i in range(ERA_COMMANDS)])
    warm_user = rig.user(f"{era}-cold000")
    warm = await requests_for([warm_user] * ERA_COMMANDS)
    # CPU to open a session, token in hand: minting and storing a user's first token is not the session's cost.
    users = [rig.user(f"{era}-s{i:03d}").user_id for i in range(SESSIONS_OPENED)]
    await app.call("tokens", users=users)
    opened_before = int((await app.call("stats"))["sessions_opened"])
    before = app.cpu_seconds()
    async with _profiling(rig, f"sessions-{era}", app):
        await app.call("open_sessions", users=users)
    per_session = (app.cpu_seconds() - before) / SESSIONS_OPENED
    opened = int((await app.call("stats"))["sessions_opened"]) - opened_before
    if opened != SESSIONS_OPENED:
        raise BenchError(f"{opened} {era} sessions opened instead of {SESSIONS_OPENED}")
    result.notes.append(
        f"{era} era (a sandbox serving only it, and a fresh app process): the process's first command "
        f"{first:.0f} MCP HTTP requests; then {ERA_COMMANDS} overviews from new users (cold: no session in the "
        f"pool, the process knows the server) and {ERA_COMMANDS} from one user (warm), counted by the sandbox; "
        f"session CPU over {SESSIONS_OPENED} sessions opened one after another for users whose token was stored"
    )
    # Modern: the call alone, once the process knows the server. Legacy: the handshake can't be skipped, but it must
    # not grow (initialize, the initialized notification, the GET stream, tools/list, then the call).
    cold_target = 1 if era == "modern" else LEGACY_COLD_REQUESTS
    return [
        Row(
            f"MCP HTTP requests per cold command, {era} era",
            f"{cold:.2f}",
            "—",
            "—",
            "= 1" if era == "modern" else f"≤ {LEGACY_COLD_REQUESTS}",
            cold == 1 if era == "modern" else cold <= cold_target,
        ),
        Row(f"MCP HTTP requests per warm command, {era} era", f"{warm:.2f}", "—", "—", "= 1", warm == 1),
        Row(
            f"CPU to open a new Rollout session, {era} era",
            _ms(per_session),
            "—",
            "—",
            f"≤ {SESSION_CPU_TARGET * 1000:.0f} ms",
            per_session <= SESSION_CPU_TARGET,
        ),
    ]


async def _requests(sandbox: _Worker) -> int:
    return int((await sandbox.call("stats"))["http_requests"])


# ---- 4. tokens per agent turn, with and without prompt caching ---------------------------------------------------


async def _agent_tokens(rig: _Rig, result: BenchResult) -> list[Row]:
    rig.model_calls_before_agent = len(rig.model.requests)  # the reset below forgets them
    try:
        turns = await _agent_turns(rig, rig.user("agent"), f"what's new with {PERSON}?")
    finally:
        rig.model.reset()  # leftovers of a failed turn must not answer anything later
    if len(turns) < 2:
        result.notes.append("agent: a free-text /rollout command did not make two model calls; no token figures")
        return [Row(TOKENS_METRIC, "n/a", "n/a", "—", "cached", False)]
    warm = turns[1]
    processed = warm.input_tokens + warm.cache_creation_input_tokens
    row = Row(
        TOKENS_METRIC,
        f"{processed:,}",
        f"{warm.total_input:,}",
        f"{processed / warm.total_input:.2f}",
        "prefix read from cache",
        warm.cache_read_input_tokens > 0,
    )
    first = turns[0]
    result.notes.append(
        "agent turn (tool call, then answer; counted by the fake Anthropic API): first run "
        f"input {first.input_tokens:,} + cache write {first.cache_creation_input_tokens:,} + cache read "
        f"{first.cache_read_input_tokens:,}; second run input {warm.input_tokens:,} + cache write "
        f"{warm.cache_creation_input_tokens:,} + cache read {warm.cache_read_input_tokens:,}; "
        "without caching every one of the second run's tokens is processed in full (baseline)"
    )
    return [row]


async def _agent_turns(rig: _Rig, user: SlackUser, question: str) -> list[Usage]:
    turns: list[Usage] = []
    for _ in range(2):
        rig.model.script(
            Reply(tool_calls=(ToolCall(OVERVIEW_TOOL, {"query": PERSON}),)),
            Reply(text=f"{PERSON} asked for a demo and has two open tasks."),
        )
        before = len(rig.model.requests)
        await rig.command(user, question, deterministic=False)
        try:
            await rig.model.wait_for_requests(before + 2, within=30)
        except TimeoutError:
            break
        await rig.settle()
        turns.append(_usage_of(rig.model.requests[before:]))
    return turns


def _usage_of(requests: Sequence[Any]) -> Usage:
    answered = [r.usage for r in requests if r.usage is not None]
    return Usage(
        sum(u.input_tokens for u in answered),
        sum(u.cache_creation_input_tokens for u in answered),
        sum(u.cache_read_input_tokens for u in answered),
        sum(u.output_tokens for u in answered),
    )


# ---- 5. memory under a long run from many users ------------------------------------------------------------------


async def _soak(
    rig: _Rig, options: BenchOptions, users: Sequence[SlackUser], warm: int, result: BenchResult
) -> list[Row]:
    """`warm`: how many of `users` (from the first) have sent a command already.

    The commands go to CrmService inside the app process, the code every entry point shares, not through Slack:
    through Slack each costs the bench's fakes as much as the app, which no longer fits a run of a few minutes. The
    Slack layer's own state is per request; the ack and MCP phases cover it.
    """
    at_once = min(options.concurrency, SOAK_AT_ONCE)
    rig.slack.clear()  # the fakes' records of earlier phases are not the app's memory
    log_mark = rig.app_log.stat().st_size
    # Warm-up: every user once, so their tokens, sessions (up to the pool's bound) and sandbox records exist.
    failed, _ = await _soak_batch(rig, users[warm:], at_once)
    rss_before = int((await rig.app.call("stats", rss=True))["rss"])
    largest_pool = int((await rig.app.call("stats"))["pool_size"])
    # Each user sends a burst, as a person working through a list does, the most recently active first. Users beyond
    # the pool's size still take turns, so sessions are evicted and opened again throughout.
    burst = max(1, options.soak // len(users))
    order = [users[-1 - (k // burst) % len(users)] for k in range(options.soak)]
    started = time.perf_counter()
    slowest = 0.0
    async with _profiling(rig, "soak"):
        for first in range(0, len(order), SOAK_BATCH):
            missed, batch = await _soak_batch(rig, order[first : first + SOAK_BATCH], at_once)
            failed.update(missed)
            largest_pool = max(largest_pool, int(batch["pool_size"]))
            slowest = max(slowest, float(batch["slowest"]))
    soak_seconds = time.perf_counter() - started
    rss_after = int((await rig.app.call("stats", rss=True))["rss"])
    growth = rss_after / rss_before if rss_before else float("inf")
    rows = [
        Row(
            f"RSS after warm-up → after {options.soak:,} cmds, {options.users} users",
            _mib(rss_after),
            _mib(rss_before),
            f"{growth:.2f}",
            "≤ 1.10",
            growth <= 1.10,
        ),
        Row(
            "MCP session pool size (largest seen)",
            str(largest_pool),
            str(rig.pool_limit),
            "—",
            "≤ ROLLOUT_POOL_SIZE",
            largest_pool <= rig.pool_limit,
        ),
        Row("soak commands without a person card", str(failed.total()), "—", "—", "0", not failed),
    ]
    each_ms = soak_seconds / max(options.soak, 1) * 1000
    endings = _session_endings(rig.app_log, log_mark)
    result.notes.append(
        f"soak: {options.soak:,} overviews through CrmService in the app process (as /rollout overview runs them, "
        f"minus Slack) in bursts of {burst} per user, {at_once} at a time, in {soak_seconds:.0f} s ({each_ms:.1f} ms "
        f"each, wall), slowest {slowest:.2f} s; RSS of the app process from /proc/self/statm after a full garbage "
        "collection; before = once every user has sent a command"
        + (f"; without a card: {', '.join(f'{reason} ×{n}' for reason, n in failed.most_common())}" if failed else "")
        + f"; MCP sessions that ended on their own: {_counts(endings) or 'none'}"
    )
    return rows


async def _soak_batch(rig: _Rig, users: Sequence[SlackUser], at_once: int) -> tuple[Counter[str], dict[str, Any]]:
    """An overview for each of `users`, `at_once` at a time; what the ones that found no person got instead."""
    if not users:
        return Counter(), {"pool_size": 0, "slowest": 0.0}
    answer = await rig.app.call("soak", users=[u.user_id for u in users], at_once=at_once, query=PERSON)
    return Counter({str(k): int(v) for k, v in answer["misses"].items()}), answer


def _session_endings(log: Path, since: int) -> Counter[str]:
    """What ended MCP sessions the app did not close itself (bot.rollout.session logs each at INFO), by cause."""
    with log.open("rb") as lines:
        lines.seek(since)
        text = lines.read().decode(errors="replace")
    marker = "ended: "
    return Counter(line.split(marker, 1)[1].strip() for line in text.splitlines() if marker in line)


# ---- formatting ------------------------------------------------------------------------------------------------


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{key} ×{n}" for key, n in counter.most_common())


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def _verdict(passed: bool | None) -> str:
    return {True: "yes", False: "NO", None: "—"}[passed]
