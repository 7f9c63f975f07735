"""A real `rollout-bot serve` in Socket Mode that cannot reach Slack: it keeps retrying, answers /healthz on PORT, and
SIGTERM or SIGINT stops it within SHUTDOWN_GRACE_SECONDS with exit code 0.

Slack is a loopback fake that does not know `apps.connections.open`, so every connection attempt fails."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from cryptography.fernet import Fernet

from bench.fakes import FakeSlackApi
from tests.harness import BOT_TOKEN, ROLLOUT_CLIENT_ID, ROLLOUT_CLIENT_SECRET, SIGNING_SECRET, TEAM_ID
from tests.processes import REPO, START_SECONDS, free_port

GRACE_SECONDS = 2.0


class Process:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    @property
    def log(self) -> str:
        return "".join(self.lines)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            async with self._changed:
                self.lines.append(line.decode(errors="replace"))
                self._changed.notify_all()

    async def wait_for(self, needle: str, within: float = START_SECONDS) -> None:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: needle in self.log or self._reader.done())
        assert needle in self.log, self.log

    async def exit_code(self, within: float) -> int:
        try:
            async with asyncio.timeout(within):
                code = await self.process.wait()
                await self._reader
        except TimeoutError:
            self.process.send_signal(signal.SIGABRT)
            await self.process.wait()
            await self._reader
            raise AssertionError(f"still running after {within} s:\n{self.log}") from None
        return code


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackApi]:
    async with FakeSlackApi(bot_token=BOT_TOKEN, team_id=TEAM_ID) as fake:
        yield fake


async def _serve(slack: FakeSlackApi, tmp_path: Path, port: int) -> Process:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_APP_TOKEN": "xapp-1-A0000000000-0000000000000-" + "0" * 64,
        "SLACK_API_URL": slack.base_url,
        "ROLLOUT_MCP_URL": f"http://127.0.0.1:{free_port()}/mcp",  # not contacted before someone asks
        "ROLLOUT_CLIENT_ID": ROLLOUT_CLIENT_ID,
        "ROLLOUT_CLIENT_SECRET": ROLLOUT_CLIENT_SECRET,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
        "PORT": str(port),
        "PYTHONFAULTHANDLER": "1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "serve",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    return Process(process)


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
async def test_stops_while_retrying_the_connection(
    slack: FakeSlackApi, tmp_path: Path, signal_number: signal.Signals
) -> None:
    port = free_port()
    serving = await _serve(slack, tmp_path, port)
    try:
        await slack.wait_for("apps.connections.open", timeout=START_SECONDS)
        await serving.wait_for(f"listening on port {port}")
        await serving.wait_for(f"metrics: GET /metrics on port {port}")
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as health,
        ):
            assert health.status == 200  # the same check as over HTTP, whatever the connection to Slack

        serving.process.send_signal(signal_number)
        assert await serving.exit_code(within=GRACE_SECONDS + 3) == 0, serving.log
    finally:
        if serving.process.returncode is None:
            serving.process.kill()
            await serving.process.wait()
    assert "Traceback" not in serving.log.split("stopping")[-1]  # nothing raised on the way out
