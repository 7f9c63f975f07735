"""Helpers for tests that start the app as real OS processes (`rollout-bot serve`), the way production starts it."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import aiohttp

from bench.fakes import FakeSlackApi
from bot.sandbox import RunningSandbox
from tests.harness import AppHarness

REPO = Path(__file__).resolve().parents[1]
START_SECONDS = 60.0  # a cold interpreter importing the app and migrating a fresh database, on a busy machine


def process_sender(slack: FakeSlackApi, sandbox: RunningSandbox, http: aiohttp.ClientSession, url: str) -> AppHarness:
    """The harness's signed-request helpers, aimed at a process of its own (no in-process app behind it)."""
    unused: Any = None
    return AppHarness(slack=slack, sandbox=sandbox, services=unused, app=unused, url=url, http=http)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
