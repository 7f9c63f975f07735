"""Acked work survives a crash: real `serve` processes killed with SIGKILL mid-work, and every command still gets
exactly one answer — from the survivor of two on PostgreSQL, or from the same process restarted on SQLite — while no
CRM write is sent twice, and a request that kills every process that runs it ends after three attempts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bench.fakes import Call, FakeSlackApi
from bench.fakes.anthropic_api import FakeAnthropic, Reply
from bench.fakes.postgres import postgres_unavailable_reason, temporary_postgres_url
from bot.identity import SlackUser
from bot.sandbox import RunningSandbox, SandboxCrm, start_sandbox
from handlers.slack.recovery import GAVE_UP, INTERRUPTED_ANSWER
from tests.harness import (
    BOT_TOKEN,
    CHANNEL_ID,
    ROLLOUT_CLIENT_ID,
    ROLLOUT_CLIENT_SECRET,
    TEAM_ID,
    AppHarness,
)
from tests.processes import REPO, ServeProcess, process_sender, serve_environment

ADA = "ada.lovelace@analytical-engines.example"
LEASE_SECONDS = 3.0
ROLLOUT_LATENCY = 2.0  # each Rollout call: work is surely in flight when the process dies
POISON = "poison.pill@analytical-engines.example"
# Installed only in this test's processes: the one request that kills whichever process runs it.
POISON_HOOK = f"""
import os
import bot.crm

_overview = bot.crm.CrmService.overview


async def overview(self, user, query, **kwargs):
    if query == {POISON!r}:
        os._exit(9)
    return await _overview(self, user, query, **kwargs)


bot.crm.CrmService.overview = overview
"""


@dataclass
class Rig:
    sandbox: RunningSandbox
    slack: FakeSlackApi
    model: FakeAnthropic
    env: dict[str, str]
    cwd: Path
    http: aiohttp.ClientSession
    started: list[ServeProcess]

    async def start(self) -> tuple[ServeProcess, AppHarness]:
        process = await ServeProcess.start(self.env, self.cwd)
        self.started.append(process)
        await process.ready()
        return process, process_sender(self.slack, self.sandbox, self.http, process.url)

    def new_user(self) -> SlackUser:
        user = SlackUser(TEAM_ID, f"U{uuid.uuid4().hex[:10].upper()}")
        self.sandbox.crm.set_accounts(user.default_subject, ["hubspot"])
        return user

    def answers_to(self, response_url: str) -> list[str]:
        hook = response_url.rsplit("/", 1)[-1]
        return [c.text for c in self.slack.calls_to("response_url") if c.args.get("response_url_id") == hook]

    @property
    def logs(self) -> str:
        return "".join(line for p in self.started for line in p.output)


@contextlib.asynccontextmanager
async def _rig(tmp_path: Path, database_url: str, *, poison: bool = False) -> AsyncIterator[Rig]:
    async with (
        start_sandbox(
            client_id=ROLLOUT_CLIENT_ID, client_secret=ROLLOUT_CLIENT_SECRET, crm=SandboxCrm(accounts_per_new_subject=1)
        ) as sandbox,
        FakeSlackApi(bot_token=BOT_TOKEN, team_id=TEAM_ID) as slack,
        FakeAnthropic() as model,
        aiohttp.ClientSession() as http,
    ):
        python_path = [str(REPO)]
        if poison:
            hook = tmp_path / "hook"
            hook.mkdir()
            (hook / "sitecustomize.py").write_text(POISON_HOOK)
            python_path.insert(0, str(hook))
        env = serve_environment(slack, sandbox, model, database_url, WORK_LEASE_SECONDS=str(LEASE_SECONDS))
        env["PYTHONPATH"] = os.pathsep.join(python_path)
        rig = Rig(sandbox, slack, model, env, tmp_path, http, [])
        try:
            yield rig
        finally:
            for process in rig.started:
                with contextlib.suppress(ProcessLookupError):
                    await process.stop()


async def _postgres_url() -> str | None:
    reason = await postgres_unavailable_reason()
    if reason is not None:
        if os.environ.get("REQUIRE_POSTGRES"):  # CI must run this, not skip it
            pytest.fail(reason)
        pytest.skip(reason)
    return None


async def _in_flight(
    rig: Rig, harness: AppHarness, users: list[SlackUser], mentions: int
) -> tuple[list[str], list[str]]:
    """Overviews for `users` and `mentions` agent turns (by people of their own), all acked, claimed and running."""
    sent = await asyncio.gather(*(harness.command(user, f"overview {ADA}") for user in users))
    threads = []
    for _ in range(mentions):
        user = rig.new_user()
        ts = f"1700004000.{uuid.uuid4().int % 10**6:06d}"
        event = {"type": "app_mention", "user": user.user_id, "text": "<@U0BOT> how is Ada?", "ts": ts}
        await harness.event({**event, "channel": CHANNEL_ID})
        threads.append(ts)
    assert all(s.status == 200 for s in sent)
    # Each person's work calls Rollout only after its claim recorded it: once every person has a call held by the
    # latency, every piece of work is on record. (Between an ack and its record — the claim runs after the ack, to
    # keep acks fast — a crash can still lose a request; that window is not what this test is about.)
    async with asyncio.timeout(30):
        await rig.sandbox.wait_for_delayed(len(users) + mentions)
    return [s.response_url for s in sent], threads


def _script_answers(model: FakeAnthropic, count: int) -> None:
    model.script(*(Reply(text="Ada is doing well.") for _ in range(count)))


async def _every_command_answered(rig: Rig, response_urls: list[str], within: float) -> None:
    try:
        await _answered(rig, response_urls, within)
    except TimeoutError:
        unanswered = sum(not rig.answers_to(url) for url in response_urls)
        raise AssertionError(f"{unanswered} commands unanswered; the processes said:\n{rig.logs[-6000:]}") from None


async def _answered(rig: Rig, response_urls: list[str], within: float) -> None:
    async with asyncio.timeout(within):
        for url in response_urls:
            hook = url.rsplit("/", 1)[-1]
            await rig.slack.wait_for(
                "response_url", lambda c, hook=hook: c.args.get("response_url_id") == hook, timeout=within
            )


async def _stop_all(rig: Rig) -> None:
    """The processes still running stop the way an orchestrator stops them, finishing what they acked."""
    await asyncio.gather(*(p.stop() for p in rig.started if p.process.returncode is None))


def _finishes(rig: Rig, thread_ts: str) -> Callable[[Call], bool]:
    """Whether a chat.stopStream call ends an answer (not an interrupted one) in the thread of `thread_ts`."""

    def finishes(call: Call) -> bool:
        streams = {
            str(c.response.get("ts"))
            for c in rig.slack.calls_to("chat.startStream")
            if c.ok and c.args.get("thread_ts") == thread_ts
        }
        ts = str(call.args.get("ts"))
        return call.ok and ts in streams and INTERRUPTED_ANSWER not in rig.slack.stream_text(ts)

    return finishes


def _finished_answers(rig: Rig, thread_ts: str) -> list[str]:
    """The answers streamed into a thread, but for one closed as interrupted (its turn then ran again)."""
    streams = [c for c in rig.slack.calls_to("chat.startStream") if c.ok and c.args.get("thread_ts") == thread_ts]
    texts = [rig.slack.stream_text(str(c.response.get("ts"))) for c in streams]
    assert all(rig.slack.stream_stopped(str(c.response.get("ts"))) for c in streams)  # none left "Thinking…"
    return [text.strip() for text in texts if INTERRUPTED_ANSWER not in text]


def _answered_once(rig: Rig, response_urls: list[str]) -> None:
    for url in response_urls:
        answers = rig.answers_to(url)
        assert len(answers) == 1 and "Ada Lovelace" in answers[0], answers


async def test_the_survivor_of_two_processes_answers_what_the_killed_one_acked(tmp_path: Path) -> None:
    await _postgres_url()
    async with temporary_postgres_url() as database_url, _rig(tmp_path, database_url) as rig:
        (doomed, to_doomed), (survivor, _) = await asyncio.gather(rig.start(), rig.start())
        users = [rig.new_user() for _ in range(50)]
        _script_answers(rig.model, 10)
        rig.sandbox.set_latency(ROLLOUT_LATENCY)
        response_urls, threads = await _in_flight(rig, to_doomed, users, mentions=5)

        doomed.process.kill()  # SIGKILL: no drain, no goodbye
        await doomed.process.wait()
        rig.sandbox.set_latency(0)

        await _every_command_answered(rig, response_urls, within=LEASE_SECONDS + 10 + ROLLOUT_LATENCY)
        for ts in threads:
            await rig.slack.wait_for("chat.stopStream", _finishes(rig, ts), timeout=LEASE_SECONDS + 10)
        await _stop_all(rig)
        _answered_once(rig, response_urls)
        for ts in threads:
            assert _finished_answers(rig, ts) == ["Ada is doing well."], ts
        assert "taking over acked work" in "".join(survivor.output)
        assert "eyJ" not in rig.logs and BOT_TOKEN not in rig.logs


async def test_one_sqlite_process_restarted_answers_what_it_acked_before(tmp_path: Path) -> None:
    async with _rig(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'app.db'}") as rig:
        first, harness = await rig.start()
        users = [rig.new_user() for _ in range(20)]
        _script_answers(rig.model, 6)
        rig.sandbox.set_latency(ROLLOUT_LATENCY)
        response_urls, _ = await _in_flight(rig, harness, users, mentions=2)

        first.process.kill()
        await first.process.wait()
        rig.sandbox.set_latency(0)
        await rig.start()  # the same database, after the crash

        await _every_command_answered(rig, response_urls, within=LEASE_SECONDS + 10 + 30)
        await _stop_all(rig)
        _answered_once(rig, response_urls)


async def test_a_request_that_kills_every_process_ends_after_three_attempts(tmp_path: Path) -> None:
    async with _rig(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'app.db'}", poison=True) as rig:
        process, harness = await rig.start()
        user = rig.new_user()
        response_url = rig.slack.new_response_url()
        # The process may die of it before its ack is on the wire: what counts is that the request was claimed.
        with contextlib.suppress(aiohttp.ServerDisconnectedError):
            await harness.command(user, f"overview {POISON}", response_url=response_url)
        for attempt in range(1, 4):
            async with asyncio.timeout(30):
                await process.process.wait()  # it ran the request, and died of it
            assert process.process.returncode != 0, f"attempt {attempt} did not kill the process"
            process, harness = await rig.start()

        hook = response_url.rsplit("/", 1)[-1]
        told = await rig.slack.wait_for(
            "response_url", lambda c: c.args.get("response_url_id") == hook and c.contains(GAVE_UP), timeout=30
        )
        assert told.args.get("response_type") == "ephemeral"
        assert process.process.returncode is None  # the fourth process lives on
        await _stop_all(rig)
        assert rig.answers_to(response_url) == [told.text]  # that one answer, and no card
