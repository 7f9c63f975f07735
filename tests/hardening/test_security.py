"""Security through the running app: refused requests do nothing, users and teams stay apart, secrets stay secret.

Covered elsewhere and not repeated: a bad or stale signature (tests/test_app_request_verification.py), someone
else's parked request, modal or approval button (tests/handlers, tests/agent).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from bench.fakes import Call, FakeSlackApi
from bench.fakes.anthropic_api import FakeAnthropic, Reply, ToolCall
from bot.blocks import fields
from bot.identity import SlackUser
from bot.ids import Action
from bot.logs import LIBRARIES_UNDER_OURS, RedactingFilter, within
from bot.store.schema import metadata
from tests.harness import (
    BOT_TOKEN,
    CHANNEL_ID,
    ROLLOUT_CLIENT_SECRET,
    SIGNING_SECRET,
    AppHarness,
    sign,
)

ADA = "ada.lovelace@analytical-engines.example"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


# ---- requests that are not Slack's ---------------------------------------------------------------------------


def _command(user: SlackUser, text: str, response_url: str) -> str:
    return urlencode(
        {
            "command": "/rollout",
            "text": text,
            "team_id": user.team_id,
            "user_id": user.user_id,
            "channel_id": CHANNEL_ID,
            "trigger_id": f"1.{uuid.uuid4().int % 10**9}.x",
            "response_url": response_url,
        }
    )


def _headers(body: str, case: str) -> dict[str, str]:
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": sign(body, stamp),
    }
    match case:
        case "no signature":
            del headers["X-Slack-Signature"]
        case "no timestamp":
            del headers["X-Slack-Request-Timestamp"]
        case "no headers":
            del headers["X-Slack-Signature"], headers["X-Slack-Request-Timestamp"]
        case "another secret":
            headers["X-Slack-Signature"] = sign(body, stamp, secret="someone-elses-signing-secret-" + "9" * 64)
        case "body changed":
            headers["X-Slack-Signature"] = sign(body.replace("overview", "credentials"), stamp)
    return headers


async def _row_counts(harness: AppHarness) -> dict[str, int]:
    async with harness.services.store._database.engine.connect() as connection:
        return {
            table.name: (await connection.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()
            for table in metadata.sorted_tables
        }


@pytest.mark.parametrize("case", ["no signature", "no timestamp", "no headers", "another secret", "body changed"])
async def test_an_unsigned_or_tampered_request_is_refused_before_anything_runs(
    app_harness: AppHarness, case: str
) -> None:
    harness = app_harness
    user = harness.new_user()
    ada = harness.crm_person(user, ADA)
    notes_before = len(harness.crm_notes(user, ada))
    rows_before = await _row_counts(harness)
    body = _command(user, f"overview {ADA}", harness.slack.new_response_url())
    requests_before = harness.sandbox.stats.http_requests

    async with harness.http.post(harness.url, data=body.encode(), headers=_headers(body, case)) as response:
        status = response.status
    await harness.settle()

    assert status == 401
    assert harness.slack.calls == []  # no Web API call, no reply
    assert await _row_counts(harness) == rows_before  # no delivery claimed, no user created
    assert harness.sandbox.stats.http_requests == requests_before
    assert len(harness.crm_notes(user, ada)) == notes_before


# ---- users and teams stay apart ----------------------------------------------------------------------------------


async def test_the_same_user_id_in_another_workspace_is_another_person(app_harness: AppHarness) -> None:
    harness = app_harness
    alice = harness.new_user()
    namesake = SlackUser("T0OTHERTEAM", alice.user_id)
    harness.sandbox.crm.set_accounts(namesake.default_subject, ["hubspot"])
    await harness.command(alice, f"note {ADA} Only for Alice's team")
    await harness.settle()
    mark = harness.slack.mark()

    await harness.command(namesake, f"overview {ADA}")
    card = await harness.slack.wait_for("response_url", lambda c: c.contains("Ada Lovelace"), since=mark)

    assert not card.contains("Only for Alice's team")
    assert harness.crm_notes(alice, harness.crm_person(alice, ADA))[0].content == "Only for Alice's team"
    alice_token = await harness.services.store.users.load_token(alice)
    namesake_token = await harness.services.store.users.load_token(namesake)
    assert alice_token is not None and namesake_token is not None and alice_token.token != namesake_token.token


async def test_clicking_someone_elses_card_never_writes_to_their_crm(app_harness: AppHarness) -> None:
    harness = app_harness
    alice, bob = harness.new_user(), harness.new_user()
    ada = harness.crm_person(alice, ADA)
    before = len(harness.crm_notes(alice, ada))
    await harness.command(alice, f"overview {ADA}")
    private = await harness.slack.wait_for("response_url", lambda c: c.contains("Ada Lovelace"))
    await harness.click(alice, private, Action.PERSON_SHARE)
    card = await harness.slack.wait_for("chat.postMessage", lambda c: c.contains("Ada Lovelace"))
    mark = harness.slack.mark()

    # The card is in the channel: Bob can click it. The button carries Alice's person and account ids.
    await harness.click(bob, card, Action.PERSON_ADD_NOTE)
    await harness.settle()
    modals = harness.slack.calls_to("views.open", since=mark)
    if modals:
        await harness.submit(bob, modals[0], {fields.NOTE_TEXT: "Bob was here"})
        await harness.settle()

    assert [n.content for n in harness.crm_notes(alice, ada)].count("Bob was here") == 0
    assert len(harness.crm_notes(alice, ada)) == before
    for call in harness.slack.calls[mark:]:
        assert call.args.get("user") in (None, bob.user_id), "only Bob hears about Bob's click"


async def test_another_user_in_the_same_thread_does_not_get_the_first_users_crm_data(
    agent_app: AppHarness, model: FakeAnthropic
) -> None:
    harness = agent_app
    alice, bob = harness.new_user(), harness.new_user()
    secret = f"Alice-only note {uuid.uuid4().hex}"
    account = harness.crm_account(alice)
    harness.sandbox.crm.create_note(
        alice.default_subject, account, person_id=harness.crm_person(alice, ADA).id, content=secret
    )
    model.script(Reply(tool_calls=(ToolCall("get_person_overview", {"email": ADA}),)), Reply(text="Ada is doing well."))
    started = _mention(alice, "how is Ada?")
    await harness.event(started)
    await harness.slack.wait_for_answer("Ada is doing well.")
    await harness.settle()
    assert secret in model.requests[-1].text()  # Alice's own turn did read it

    model.script(Reply(text="Here is what I know."))
    await harness.event(_mention(bob, "what did that say?", thread_ts=started["ts"]))
    await harness.slack.wait_for_answer("Here is what I know.")
    await harness.settle()

    bobs_turn = model.requests[-1]
    assert secret not in bobs_turn.text(), "Bob's model call carried Alice's CRM data from the shared thread"


def _mention(user: SlackUser, text: str, *, thread_ts: str | None = None) -> dict[str, str]:
    ts = f"1700004000.{uuid.uuid4().int % 10**6:06d}"
    event = {"type": "app_mention", "user": user.user_id, "text": f"<@U0BOT> {text}", "channel": CHANNEL_ID, "ts": ts}
    return event | ({"thread_ts": thread_ts} if thread_ts else {})


# ---- secrets never leak --------------------------------------------------------------------------------------


class _Capture(logging.Handler):
    """Every record at every level: raw for the app's own loggers, and as the production handlers emit it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.raw_own: list[str] = []
        self.emitted: list[str] = []
        self._redact = RedactingFilter()
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        # Bolt's logger is named under ours but is a library's (slack_sdk logs whole requests at DEBUG through it):
        # production caps it like any library, and what it emits is checked below with the rest.
        library = within(record.name, LIBRARIES_UNDER_OURS)
        if record.name.split(".")[0] in ("bot", "handlers") and not library:
            self.raw_own.append(f"{record.getMessage()} {record.exc_text or ''}")
        self._redact.filter(record)  # what configure_logging installs on every handler
        self.emitted.append(self.format(record))


@contextmanager
def _everything_logged() -> Iterator[_Capture]:
    capture = _Capture()
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    levels = {logger: logger.level for logger in loggers}
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(capture)
    try:
        yield capture
    finally:
        logging.getLogger().removeHandler(capture)
        for logger, level in levels.items():
            logger.setLevel(level)


async def _full_flow(harness: AppHarness, model: FakeAnthropic, connected: SlackUser, unconnected: SlackUser) -> None:
    """Commands, a modal, an agent turn, and the no-CRM path that DMs the credential link (twice)."""
    await harness.command(connected, f"overview {ADA}")
    card = await harness.slack.wait_for("response_url", lambda c: c.contains("Ada Lovelace"))
    await harness.command(connected, f"note {ADA} Budget approved")
    mark = harness.slack.mark()
    await harness.click(connected, card, Action.PERSON_ADD_NOTE)
    modal = await harness.slack.wait_for("views.open", since=mark)
    await harness.submit(connected, modal, {fields.NOTE_TEXT: "Sent the MSA"})
    await harness.command(unconnected, f"overview {ADA}")
    await harness.command(unconnected, "connect")
    model.script(Reply(tool_calls=(ToolCall("get_person_overview", {"email": ADA}),)), Reply(text="Ada is well."))
    await harness.event(_mention(connected, "Ada?"))
    model.script(Reply(tool_calls=(ToolCall("get_person_overview", {"email": ADA}),)))
    await harness.event(_mention(unconnected, "Ada?"))
    await harness.settle()


async def _secrets(harness: AppHarness, model: FakeAnthropic, users: list[SlackUser]) -> dict[str, str]:
    settings = harness.services.settings
    found = {
        "bot token": BOT_TOKEN,
        "signing secret": SIGNING_SECRET,
        "Rollout client secret": ROLLOUT_CLIENT_SECRET,
        "Anthropic key": model.api_key,
    }
    for key in settings.encryption_keys:
        found["encryption key"] = key
    for user in users:
        stored = await harness.services.store.users.load_token(user)
        assert stored is not None, "every user in the flow got a token"
        found[f"token of {user}"] = stored.token
    return found


async def test_secrets_never_reach_a_channel_a_log_line_or_the_database_in_plain_text(
    agent_app: AppHarness, model: FakeAnthropic
) -> None:
    harness = agent_app
    connected, unconnected = harness.new_user(), harness.new_user(accounts=[])

    with _everything_logged() as logs:
        await _full_flow(harness, model, connected, unconnected)

    secrets = await _secrets(harness, model, [connected, unconnected])
    links = [c.button(Action.CONNECT_OPEN)["url"] for c in harness.slack.calls if Action.CONNECT_OPEN in c.action_ids]
    assert links, "the flow sent the credential link"
    dm = FakeSlackApi.dm_channel(unconnected.user_id)

    def leaks(text: str) -> list[str]:
        named = [name for name, value in secrets.items() if value in text]
        patterns = [("a JWT", JWT.search(text)), ("a credential link", "/mcp/credentials/" in text)]
        return named + [name for name, present in patterns if present]

    # Slack: the link (and the token inside it) may only ever be in the user's DM.
    for call in harness.slack.calls:
        if call.args.get("channel") == dm:
            continue
        assert not leaks(_sent(call)), f"{call.method} outside the DM carries {leaks(_sent(call))}"
    # Logs: nothing the production handlers would write, and nothing our own code even tries to log.
    assert logs.emitted and logs.raw_own
    for line in logs.emitted:
        assert not leaks(line), f"a log line carries {leaks(line)}: {line[:200]}"
    for line in logs.raw_own:
        assert not leaks(line), f"the app itself logged {leaks(line)}: {line[:200]}"
    # The database, row by row, as someone holding a dump of it would read it.
    async with harness.services.store._database.engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in (await connection.execute(sa.select(table))).all():
                text = " ".join(str(value) for value in row)
                assert not leaks(text), f"table {table.name} holds {leaks(text)} in plain text"


def _sent(call: Call) -> str:
    return json.dumps(call.args, ensure_ascii=False)
