"""Answers the SDK itself cannot read, from a Rollout-like server on a loopback port: a 2026-07-28 result without
`resultType` is read as complete, and anything else the SDK raises is a Failure that costs the session."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from bot.identity import SlackUser
from bot.rollout.client import RolloutClient
from bot.rollout.outcomes import Created, Credentials, Failure, FailureReason, PersonOverview
from bot.rollout.pool import SessionPool
from bot.rollout.session import UserSession
from bot.rollout.tokens import TokenMinter, TokenService
from bot.store import Store
from tests.contracts import ADA, ContractServer, ContractTool, Rewrite, result, serve_contract, standard_tools
from tests.sandboxes import CLIENT_ID, CLIENT_SECRET

SAM = SlackUser("T1", "USAM")
SECRET = "ada-private-phone-555-0100"  # CRM data in a broken answer: must never reach the log


class Rig:
    def __init__(self, server: ContractServer, store: Store) -> None:
        tokens = TokenService(TokenMinter(CLIENT_ID, CLIENT_SECRET, timedelta(minutes=15)), store.users)
        self.server = server
        self.pool = SessionPool(server.url, tokens, max_sessions=4, idle_seconds=300, connect_timeout=5)
        self.client = RolloutClient(self.pool, timeout=5, rollout_origin=server.url.rsplit("/mcp", 1)[0])


@asynccontextmanager
async def rig_for(store: Store, tools: list[ContractTool], rewrite: Rewrite) -> AsyncIterator[Rig]:
    async with serve_contract(tools, rewrite=rewrite) as server:
        rig = Rig(server, store)
        try:
            yield rig
        finally:
            await rig.pool.close()


def broken_calls(first: int) -> Rewrite:
    """Breaks the first `first` tool results' content (the SDK can't validate it), then answers as sent."""
    left = [first]

    def rewrite(method: str, answer: dict[str, Any]) -> dict[str, Any]:
        if method == "tools/call" and left[0] > 0:
            left[0] -= 1
            return {**answer, "content": f"not a list: {SECRET}"}
        return answer

    return rewrite


async def test_a_modern_tool_result_without_result_type_is_read_as_complete(store: Store) -> None:
    stripped: list[str] = []

    def strip(method: str, answer: dict[str, Any]) -> dict[str, Any]:
        if method == "tools/call" and "resultType" in answer:
            stripped.append(answer.pop("resultType"))
        return answer

    async with rig_for(store, standard_tools(), strip) as rig:
        found = await rig.client.person_overview(SAM, query="Ada Lovelace")
        assert isinstance(found, PersonOverview) and found.person.name == "Ada Lovelace"
        note = await rig.client.create_note(SAM, person_id=ADA["id"], content="Called about the renewal")
        assert isinstance(note, Created)
        assert rig.pool.protocol_version in MODERN_PROTOCOL_VERSIONS  # the era where the field is required
        assert stripped == ["complete", "complete"]  # the server did send it, and the client never saw it
        assert rig.pool.stats.sessions_opened == 1  # nothing was thrown away


async def test_a_result_the_sdk_cannot_read_is_a_failure_and_the_next_call_opens_a_new_session(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    async with rig_for(store, standard_tools(), broken_calls(2)) as rig:
        with caplog.at_level(logging.WARNING, logger="bot.rollout.client"):
            read = await rig.client.person_overview(SAM, query="Ada Lovelace")
            write = await rig.client.create_note(SAM, person_id=ADA["id"], content="Called about the renewal")
        assert read == Failure(FailureReason.SERVER_ERROR)  # a read is not retried: the answer would be as broken
        assert write == Failure(FailureReason.WRITE_UNCONFIRMED)  # Rollout answered, so the note may be saved
        assert len(rig.server.called("get_person_overview")) == 1 and len(rig.server.called("create_note")) == 1
        logged = [r.getMessage() for r in caplog.records if r.name == "bot.rollout.client"]
        assert len(logged) == 2 and all("ValidationError" in line for line in logged)
        assert SECRET not in caplog.text and "not a list" not in caplog.text
        assert rig.pool.stats.sessions_opened == 2 and len(rig.pool) == 0  # each broken session was dropped
        assert isinstance(await rig.client.person_overview(SAM, query="Ada Lovelace"), PersonOverview)
        assert rig.pool.stats.sessions_opened == 3


async def test_any_unexpected_exception_from_a_call_is_a_failure_and_drops_the_session(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # A result without the structured content its tool's output schema promises: the SDK raises a RuntimeError.
    typed = ContractTool(
        "get_person_overview",
        lambda _: result({"person": ADA, "notes": [], "tasks": [], "secret": SECRET}),
        ("query",),
        output_schema={"type": "object", "properties": {"person": {"type": "object"}}},
    )
    tools = [typed, *(t for t in standard_tools() if t.name != "get_person_overview")]
    async with rig_for(store, tools, lambda _, answer: answer) as rig:
        assert isinstance(await rig.client.list_credentials(SAM), Credentials)
        async with rig.pool.session(SAM) as before:
            pass
        with caplog.at_level(logging.WARNING, logger="bot.rollout.client"):
            outcome = await rig.client.person_overview(SAM, query="Ada Lovelace")
        assert outcome == Failure(FailureReason.SERVER_ERROR)
        assert not before.alive and len(rig.pool) == 0
        logged = [r for r in caplog.records if r.name == "bot.rollout.client"]
        assert len(logged) == 1 and "RuntimeError" in logged[0].getMessage() and logged[0].exc_info is None
        assert SECRET not in caplog.text and "structured content" not in caplog.text
        assert isinstance(await rig.client.list_credentials(SAM), Credentials)
        async with rig.pool.session(SAM) as after:
            assert after is not before
        assert rig.pool.stats.sessions_opened == 2


async def test_a_tool_list_the_sdk_cannot_read_on_an_open_session_is_a_failure(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    broken = [False]

    def break_lists(method: str, answer: dict[str, Any]) -> dict[str, Any]:
        return {**answer, "tools": SECRET} if method == "tools/list" and broken[0] else answer

    async with rig_for(store, standard_tools(), break_lists) as rig:
        assert isinstance(await rig.client.list_credentials(SAM), Credentials)
        broken[0] = True  # the contract server's list has no ttlMs, so the open session reads it again
        with caplog.at_level(logging.INFO, logger="bot.rollout"):
            outcome = await rig.client.list_credentials(SAM)
        assert outcome == Failure(FailureReason.SERVER_ERROR)
        assert len(rig.server.called("list_credentials")) == 1
        assert SECRET not in caplog.text
        broken[0] = False
        assert isinstance(await rig.client.list_credentials(SAM), Credentials)
        assert rig.pool.stats.sessions_opened >= 2  # the session that read the broken list was not kept


async def test_an_unexpected_exception_opening_a_session_is_a_failure(
    store: Store, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_open(self: UserSession) -> None:
        raise LookupError(SECRET)

    async with rig_for(store, standard_tools(), lambda _, answer: answer) as rig:
        monkeypatch.setattr(UserSession, "open", broken_open)
        with caplog.at_level(logging.WARNING, logger="bot.rollout.client"):
            outcome = await rig.client.list_credentials(SAM)
        assert outcome == Failure(FailureReason.UNREACHABLE)
        logged = [r.getMessage() for r in caplog.records if r.name == "bot.rollout.client"]
        assert len(logged) == 1 and "LookupError" in logged[0] and SECRET not in caplog.text
        assert rig.server.calls == []
        monkeypatch.undo()
        assert isinstance(await rig.client.list_credentials(SAM), Credentials)
