"""Two real `rollout-bot serve` processes on one PostgreSQL database, as behind a load balancer.

Slack's retries can reach either process, so the same delivery is sent to both: each must be answered and written
exactly once, which only holds if the claim lives in the database. Rollout (the sandbox), the Slack Web API and the
model are fakes in this test process; the two apps are separate OS processes started the way production starts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bench.fakes import FakeSlackApi
from bench.fakes.anthropic_api import FakeAnthropic, Reply
from bench.fakes.postgres import postgres_unavailable_reason, temporary_postgres_url
from bot.blocks import fields
from bot.identity import SlackUser
from bot.ids import Action
from bot.sandbox import RunningSandbox, SandboxCrm, start_sandbox
from tests.harness import (
    BOT_TOKEN,
    CHANNEL_ID,
    ROLLOUT_CLIENT_ID,
    ROLLOUT_CLIENT_SECRET,
    TEAM_ID,
    AppHarness,
)
from tests.processes import ServeProcess, process_sender, serve_environment

ADA = "ada.lovelace@analytical-engines.example"


@dataclass
class Pair:
    sandbox: RunningSandbox
    slack: FakeSlackApi
    model: FakeAnthropic
    first: AppHarness  # sends to the first process
    second: AppHarness  # the same requests, to the second
    processes: list[ServeProcess]

    def new_user(self) -> SlackUser:
        user = SlackUser(TEAM_ID, f"U{uuid.uuid4().hex[:10].upper()}")
        self.sandbox.crm.set_accounts(user.default_subject, ["hubspot"])
        return user

    def notes(self, user: SlackUser) -> list[str]:
        credential = self.sandbox.crm.accounts(user.default_subject)[0].id
        (ada,) = self.sandbox.crm.find_people(user.default_subject, credential, email=ADA)
        return [n.content for n in self.sandbox.crm.notes_of(user.default_subject, credential, ada.id)]

    async def stop(self) -> None:
        """Stop both; afterwards every piece of work either process acked has finished."""
        await asyncio.gather(*(p.stop() for p in self.processes))
        for process in self.processes:
            assert process.process.returncode == 0, f"serve on {process.port} exited badly:\n{process.log}"

    @property
    def logs(self) -> str:
        return "".join(line for p in self.processes for line in p.output)


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    reason = await postgres_unavailable_reason()
    if reason is not None:
        if os.environ.get("REQUIRE_POSTGRES"):  # CI must run this, not skip it
            pytest.fail(reason)
        pytest.skip(reason)
    async with (
        temporary_postgres_url() as database_url,
        start_sandbox(
            client_id=ROLLOUT_CLIENT_ID, client_secret=ROLLOUT_CLIENT_SECRET, crm=SandboxCrm(accounts_per_new_subject=1)
        ) as sandbox,
        FakeSlackApi(bot_token=BOT_TOKEN, team_id=TEAM_ID) as slack,
        FakeAnthropic() as model,
        aiohttp.ClientSession() as http,
    ):
        env = serve_environment(slack, sandbox, model, database_url)
        # Both start at once, as after a deploy: their migrations race and must serialise in the database.
        processes = list(await asyncio.gather(ServeProcess.start(env, tmp_path), ServeProcess.start(env, tmp_path)))
        try:
            await asyncio.gather(*(p.ready() for p in processes))
            first, second = (process_sender(slack, sandbox, http, p.url) for p in processes)
            yield Pair(sandbox, slack, model, first, second, processes)
        finally:
            for process in processes:
                with contextlib.suppress(ProcessLookupError):
                    await process.stop()


async def test_a_command_and_a_submission_delivered_to_both_processes_write_once(pair: Pair) -> None:
    user = pair.new_user()
    before = len(pair.notes(user))
    # A note command that Slack delivers three times, to either process.
    await asyncio.gather(
        pair.first.command(user, f"note {ADA} Signed the order form", trigger_id="7.7.same"),
        pair.second.command(user, f"note {ADA} Signed the order form", trigger_id="7.7.same"),
        pair.first.command(user, f"note {ADA} Signed the order form", trigger_id="7.7.same"),
    )
    # A note typed into a modal, submitted (the same view) to both.
    await pair.first.command(user, f"overview {ADA}")
    # The card, not one of the notes' "created for Ada Lovelace" answers, which may arrive later under load.
    card = await pair.slack.wait_for("response_url", lambda c: Action.PERSON_ADD_NOTE in c.action_ids)
    await pair.second.click(user, card, Action.PERSON_ADD_NOTE)
    modal = await pair.slack.wait_for("views.open")
    submitted = await asyncio.gather(
        pair.first.submit(user, modal, {fields.NOTE_TEXT: "Wants SSO"}),
        pair.second.submit(user, modal, {fields.NOTE_TEXT: "Wants SSO"}),
    )
    assert [s.status for s in submitted] == [200, 200]

    await pair.stop()

    notes = pair.notes(user)
    assert notes.count("Signed the order form") == 1 and notes.count("Wants SSO") == 1
    assert len(notes) == before + 2
    confirmations = [c for c in pair.slack.calls if c.ok and c.text == "Note created."]
    assert len(confirmations) == 2, [c.method for c in confirmations]  # one for the command, one for the modal
    assert len([c for c in pair.slack.calls_to("chat.postEphemeral") if c.contains("Wants SSO")]) == 1
    assert "eyJ" not in pair.logs and BOT_TOKEN not in pair.logs  # no token in either process's log


async def test_an_event_delivered_to_both_processes_is_answered_once(pair: Pair) -> None:
    user = pair.new_user()
    pair.model.script(Reply(text="Hello from one process."), Reply(text="Hello from the other?!"))
    ts = f"1700003000.{uuid.uuid4().int % 10**6:06d}"
    event = {"type": "app_mention", "user": user.user_id, "text": "<@U0BOT> hi", "ts": ts, "channel": CHANNEL_ID}

    sent = await asyncio.gather(
        pair.first.event(event, event_id="EvTWOPROCS1"),
        pair.second.event(event, event_id="EvTWOPROCS1"),
        pair.second.event(event, event_id="EvTWOPROCS1"),
    )
    assert [s.status for s in sent] == [200, 200, 200]
    await pair.slack.wait_for_answer("Hello from one process.", timeout=30)

    await pair.stop()

    assert len(pair.model.requests) == 1 and pair.model.unused == 1
    assert len(pair.slack.calls_to("chat.startStream")) == 1  # one streamed message, with the one answer
