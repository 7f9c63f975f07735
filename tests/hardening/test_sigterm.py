"""SIGTERM on a real `rollout-bot serve` with acked work in flight against a slow Rollout: it stops taking requests,
lets the work finish within SHUTDOWN_GRACE_SECONDS, and exits 0."""

from __future__ import annotations

import asyncio
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from bench.fakes import FakeSlackApi
from bot.identity import SlackUser
from bot.sandbox import RunningSandbox, SandboxCrm, start_sandbox
from tests.harness import BOT_TOKEN, ROLLOUT_CLIENT_ID, ROLLOUT_CLIENT_SECRET, TEAM_ID
from tests.processes import START_SECONDS, free_port, process_sender, serve_environment

ADA = "ada.lovelace@analytical-engines.example"
ROLLOUT_LATENCY = 2.0  # every Rollout request takes this long: the overview is still running when SIGTERM comes


@dataclass
class Serving:
    process: asyncio.subprocess.Process
    port: int
    lines: list[str] = field(default_factory=list)
    _waiters: list[tuple[str, asyncio.Event]] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def seen(self, needle: str) -> asyncio.Event:
        event = asyncio.Event()
        if needle in self.log:
            event.set()
        self._waiters.append((needle, event))
        return event

    async def read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            text = line.decode(errors="replace")
            self.lines.append(text)
            for needle, event in self._waiters:
                if needle in text:
                    event.set()


@dataclass
class Rig:
    sandbox: RunningSandbox
    slack: FakeSlackApi
    http: aiohttp.ClientSession
    env: dict[str, str]
    cwd: Path

    async def serve(self, **env: str) -> Serving:
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "serve",
            env={**self.env, **env, "PORT": str(port)},
            cwd=self.cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        serving = Serving(process, port)
        listening = serving.seen(f"listening on port {port}")
        serving._reader = asyncio.create_task(serving.read())
        async with asyncio.timeout(START_SECONDS):
            await listening.wait()
        return serving


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with (
        start_sandbox(
            client_id=ROLLOUT_CLIENT_ID, client_secret=ROLLOUT_CLIENT_SECRET, crm=SandboxCrm(accounts_per_new_subject=1)
        ) as sandbox,
        FakeSlackApi(bot_token=BOT_TOKEN, team_id=TEAM_ID) as slack,
        aiohttp.ClientSession() as http,
    ):
        database_url = f"sqlite:///{tmp_path / 'serve.db'}"
        env = serve_environment(slack, sandbox, None, database_url, ROLLOUT_TIMEOUT_SECONDS="30")
        yield Rig(sandbox, slack, http, env, tmp_path)


def _user(rig: Rig) -> SlackUser:
    user = SlackUser(TEAM_ID, f"U{uuid.uuid4().hex[:10].upper()}")
    rig.sandbox.crm.set_accounts(user.default_subject, ["hubspot"])
    return user


async def _exit_code(serving: Serving, within: float) -> int:
    async with asyncio.timeout(within):
        code = await serving.process.wait()
        assert serving._reader is not None
        await serving._reader
    return code


async def test_sigterm_finishes_acked_work_then_exits_0(rig: Rig) -> None:
    serving = await rig.serve(SHUTDOWN_GRACE_SECONDS="30")
    sender = process_sender(rig.slack, rig.sandbox, rig.http, f"http://127.0.0.1:{serving.port}/slack/events")
    user = _user(rig)
    rig.sandbox.set_latency(ROLLOUT_LATENCY)
    stopping = serving.seen("stopping: no new requests")

    acked = await sender.command(user, f"overview {ADA}")
    assert acked.status == 200
    serving.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(10):
        await stopping.wait()

    with pytest.raises(aiohttp.ClientConnectionError):  # no new requests once stopping
        await sender.command(user, "help")
    assert await _exit_code(serving, within=60) == 0, serving.log
    cards = [c for c in rig.slack.calls_to("response_url") if "Ada Lovelace" in c.text]
    assert len(cards) == 1, serving.log  # the acked overview was answered before the process ended
    assert "stopped" in serving.log and "still running" not in serving.log


async def test_work_longer_than_the_grace_period_does_not_hold_the_exit(rig: Rig) -> None:
    serving = await rig.serve(SHUTDOWN_GRACE_SECONDS="0.5")
    sender = process_sender(rig.slack, rig.sandbox, rig.http, f"http://127.0.0.1:{serving.port}/slack/events")
    user = _user(rig)
    rig.sandbox.set_latency(6.0)  # far beyond the grace period

    assert (await sender.command(user, f"overview {ADA}")).status == 200
    serving.process.send_signal(signal.SIGTERM)

    assert await _exit_code(serving, within=15) == 0, serving.log
    assert "still running" in serving.log
    assert not [c for c in rig.slack.calls_to("response_url") if "Ada Lovelace" in c.text]


async def test_metrics_port_serves_metrics_apart_and_stops_with_the_app(rig: Rig) -> None:
    metrics_port = free_port()
    serving = await rig.serve(SHUTDOWN_GRACE_SECONDS="5", METRICS_PORT=str(metrics_port))

    async with rig.http.get(f"http://127.0.0.1:{metrics_port}/metrics") as response:
        assert response.status == 200
        text = await response.text()
    assert "rollout_bot_slack_requests" in text and "process_cpu_seconds_total" in text
    async with rig.http.get(f"http://127.0.0.1:{serving.port}/metrics") as response:
        assert response.status == 404  # not on the public port when METRICS_PORT is set

    serving.process.send_signal(signal.SIGTERM)
    assert await _exit_code(serving, within=10) == 0, serving.log
    with pytest.raises(aiohttp.ClientConnectionError):
        await rig.http.get(f"http://127.0.0.1:{metrics_port}/metrics")
