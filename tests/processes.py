"""Helpers for tests that start the app as real OS processes (`rollout-bot serve`), the way production starts it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.fernet import Fernet

from bench.fakes import FakeSlackApi
from bench.fakes.anthropic_api import FakeAnthropic
from bot.sandbox import RunningSandbox
from tests.harness import BOT_TOKEN, ROLLOUT_CLIENT_ID, ROLLOUT_CLIENT_SECRET, SIGNING_SECRET, AppHarness

REPO = Path(__file__).resolve().parents[1]
START_SECONDS = 60.0  # a cold interpreter importing the app and migrating a fresh database, on a busy machine


def process_sender(slack: FakeSlackApi, sandbox: RunningSandbox, http: aiohttp.ClientSession, url: str) -> AppHarness:
    """The harness's signed-request helpers, aimed at a process of its own (no in-process app behind it)."""
    unused: Any = None
    return AppHarness(slack=slack, sandbox=sandbox, services=unused, app=unused, url=url, http=http)


def serve_environment(
    slack: FakeSlackApi, sandbox: RunningSandbox, model: FakeAnthropic | None, database_url: str, **more: str
) -> dict[str, str]:
    """What `rollout-bot serve` is started with in these tests: the loopback fakes (no model: no agent), a fresh
    encryption key, and `more` (setting names as the environment spells them) on top."""
    agent = (
        {}
        if model is None
        else {
            "ANTHROPIC_API_KEY": model.api_key,
            "ANTHROPIC_BASE_URL": model.base_url,
            "ANTHROPIC_MODEL": "claude-test",
        }
    )
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.base_url,
        "ROLLOUT_MCP_URL": sandbox.url,
        "ROLLOUT_CLIENT_ID": ROLLOUT_CLIENT_ID,
        "ROLLOUT_CLIENT_SECRET": ROLLOUT_CLIENT_SECRET,
        "DATABASE_URL": database_url,
        "ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "LOG_LEVEL": "INFO",
        **agent,
        **more,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServeProcess:
    """One `rollout-bot serve`, its output collected as it runs (read continuously, so it never blocks on a pipe)."""

    process: asyncio.subprocess.Process
    port: int
    output: list[str] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None
    _listening: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def start(cls, env: dict[str, str], cwd: Path) -> ServeProcess:
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "serve",
            env={**env, "PORT": str(port)},
            cwd=cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        started = cls(process, port)
        started._reader = asyncio.create_task(started._read())
        return started

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    async def ready(self) -> None:
        """Wait for the "listening" log line (or the process dying), then check /healthz answers."""
        exited = asyncio.create_task(self.process.wait())
        listening = asyncio.create_task(self._listening.wait())
        try:
            await asyncio.wait({exited, listening}, timeout=START_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        finally:
            exited.cancel()
            listening.cancel()
        assert self._listening.is_set(), f"serve on {self.port} did not start:\n{self.log}"
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{self.port}/healthz") as health:
            assert health.status == 200 and (await health.json()) == {"ok": True}

    async def stop(self) -> None:
        """Ctrl-C, as an orchestrator stops it: the app finishes the work it acked, then exits."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(30):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._reader is not None:
            await self._reader

    @property
    def log(self) -> str:
        return "".join(self.output[-60:])

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            text = line.decode(errors="replace")
            self.output.append(text)
            if f"listening on port {self.port}" in text:
                self._listening.set()
