"""Protocol eras, complete tool lists and what a command costs on the wire, counted by the sandbox.

`sandbox_of_each_era` (tests/conftest.py) is a legacy and a modern sandbox in turn; tests that need a paged or
specially built sandbox start their own of the same era.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS

from bot.identity import SlackUser
from bot.rollout.outcomes import Created, Credentials, PersonOverview
from bot.rollout.session import LEGACY
from bot.sandbox import Protocol, RunningSandbox, SandboxCrm, start_sandbox
from bot.store import Store
from tests.sandboxes import CLIENT_ID, CLIENT_SECRET, ERAS, Rig, make_rig

ALICE = SlackUser("T1", "UALICE")
BOB = SlackUser("T1", "UBOB")
CAROL = SlackUser("T1", "UCAROL")
SANDBOX_TOOLS = {"list_credentials", "get_person_overview", "create_person", "create_note", "create_task"}
WAIT = 5.0  # seconds any awaited event may take before the test fails


@asynccontextmanager
async def rig_on(
    store: Store, era: Protocol, *, cache_clock: Callable[[], float] = time.time, **options: Any
) -> AsyncIterator[Rig]:
    """A rig on a sandbox of its own, e.g. with a paged tool list."""
    async with start_sandbox(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        crm=SandboxCrm(accounts_per_new_subject=1),
        protocol=era,
        **options,
    ) as sandbox:
        rig = make_rig(sandbox, store, cache_clock=cache_clock)
        try:
            yield rig
        finally:
            await rig.pool.close()


def names(tools: object) -> set[str]:
    assert isinstance(tools, list)
    return {tool.name for tool in tools}


async def archive_person(personId: str) -> str:
    """A tool the sandbox starts offering mid-test."""
    return personId


# ---- eras ------------------------------------------------------------------------------------------------------------


async def test_the_session_reports_the_negotiated_protocol(rig: Rig) -> None:
    assert isinstance(await rig.client.list_credentials(ALICE), Credentials)
    async with rig.pool.session(ALICE) as session:
        version = session.protocol_version
    if rig.sandbox.protocol == "modern":
        assert version in MODERN_PROTOCOL_VERSIONS
        assert rig.pool.protocol_version == version
    else:
        assert version in HANDSHAKE_PROTOCOL_VERSIONS
        assert rig.pool.protocol_version == LEGACY


async def test_the_first_user_probes_the_era_and_later_users_adopt_it(rig: Rig) -> None:
    assert isinstance(await rig.client.list_credentials(ALICE), Credentials)
    probes = rig.pool.stats.by_method.get("POST", 0)
    assert isinstance(await rig.client.list_credentials(BOB), Credentials)
    assert isinstance(await rig.client.list_credentials(CAROL), Credentials)
    assert rig.sandbox.stats.discovers <= 1  # once per process, not per user
    if rig.sandbox.protocol == "legacy":
        # Each new user pays the handshake (initialize, initialized), its tool list and the call, but no probe.
        assert rig.pool.stats.by_method["POST"] - probes == 2 * 4
        assert rig.sandbox.stats.initializations == 3


async def test_a_discarded_session_makes_the_next_connection_probe_again(rig: Rig) -> None:
    assert isinstance(await rig.client.list_credentials(ALICE), Credentials)
    async with rig.pool.session(ALICE) as session:
        pass
    await rig.pool.discard(session)  # as after a transport error: the server may have changed protocol
    assert rig.pool.protocol_version is None
    assert isinstance(await rig.client.list_credentials(ALICE), Credentials)
    assert rig.pool.protocol_version is not None
    if rig.sandbox.protocol == "modern":
        assert rig.sandbox.stats.discovers == 2


# ---- what a command costs -------------------------------------------------------------------------------------------


async def test_a_warm_command_costs_one_request(rig: Rig) -> None:
    assert isinstance(await rig.client.person_overview(ALICE, query="Ada Lovelace"), PersonOverview)
    before = rig.sandbox.stats.http_requests
    assert isinstance(await rig.client.person_overview(ALICE, query="Ada Lovelace"), PersonOverview)
    assert rig.sandbox.stats.http_requests - before == 1


@pytest.mark.parametrize(("page_size", "continuation_pages"), [(None, 0), (2, 2)])
async def test_a_cold_command_on_a_modern_server_costs_one_request_after_the_first_user(
    store: Store, page_size: int | None, continuation_pages: int
) -> None:
    async with rig_on(store, "modern", tools_page_size=page_size) as rig:
        assert isinstance(await rig.client.person_overview(ALICE, query="Ada Lovelace"), PersonOverview)
        rig.sandbox.stats.reset()
        assert isinstance(await rig.client.person_overview(BOB, query="Ada Lovelace"), PersonOverview)
        # The tools/call: no discover, no session, and the list's first page from the shared cache. The SDK never
        # caches continuation pages, so a paged list costs those.
        assert rig.sandbox.stats.http_requests == 1 + continuation_pages
        assert rig.sandbox.stats.tool_lists == continuation_pages
        assert rig.sandbox.stats.tool_calls.total() == 1


async def test_a_cold_command_on_a_legacy_server_still_pays_its_handshake(store: Store) -> None:
    async with rig_on(store, "legacy") as rig:
        assert isinstance(await rig.client.list_credentials(ALICE), Credentials)
        rig.sandbox.stats.reset()
        assert isinstance(await rig.client.list_credentials(BOB), Credentials)
        assert rig.sandbox.stats.initializations == 1 and rig.sandbox.stats.discovers == 0
        assert rig.sandbox.stats.by_method["POST"] == 4  # initialize, initialized, tools/list, tools/call


# ---- complete tool lists ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("era", ERAS)
async def test_a_paged_tool_list_is_read_to_the_end(store: Store, era: Protocol) -> None:
    async with rig_on(store, era, tools_page_size=2) as rig:  # pages: 2 + 2 + 1 tools
        assert names(await rig.client.tools(ALICE)) == SANDBOX_TOOLS
        assert rig.sandbox.stats.tool_lists == 3
        found = await rig.client.person_overview(ALICE, query="Ada Lovelace")
        assert isinstance(found, PersonOverview)
        # create_note is on page 2: `/rollout note` works. A legacy session keeps its whole list; a modern one gets
        # the first page from the cache and reads the continuation pages again (the SDK never caches those).
        before, lists = rig.sandbox.stats.http_requests, rig.sandbox.stats.tool_lists
        note = await rig.client.create_note(ALICE, person_id=found.person.id, content="Called about the renewal")
        assert isinstance(note, Created)
        continuation_pages = 2 if era == "modern" else 0
        assert rig.sandbox.stats.tool_lists - lists == continuation_pages
        assert rig.sandbox.stats.http_requests - before == 1 + continuation_pages


async def test_a_tool_list_that_never_ends_is_cut_off(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.rollout.session.MAX_TOOL_PAGES", 2)
    async with rig_on(store, "modern", tools_page_size=1) as rig:
        listed = await rig.client.tools(ALICE)
        assert names(listed) == {"list_credentials", "get_person_overview"}
        assert rig.sandbox.stats.tool_lists == 2


async def test_a_legacy_session_rereads_its_tools_when_told_they_changed(store: Store) -> None:
    async with rig_on(store, "legacy") as rig:
        assert "archive_person" not in names(await rig.client.tools(ALICE))
        lists = rig.sandbox.stats.tool_lists
        rig.sandbox.add_tool(archive_person, name="archive_person", description="Archive a person.")
        assert "archive_person" not in names(await rig.client.tools(ALICE))  # nothing said yet, nothing asked
        assert rig.sandbox.stats.tool_lists == lists
        assert isinstance(await rig.client.list_credentials(ALICE), Credentials)  # its response carries the news
        async with rig.pool.session(ALICE) as session:
            await asyncio.wait_for(session.tool_list_changed.wait(), WAIT)
        assert "archive_person" in names(await rig.client.tools(ALICE))
        assert rig.sandbox.stats.tool_lists == lists + 1
        assert "archive_person" in names(await rig.client.tools(ALICE))
        assert rig.sandbox.stats.tool_lists == lists + 1  # read once per change


async def test_a_modern_tool_list_is_reused_while_its_ttl_lasts_then_read_again(store: Store) -> None:
    now = [time.time()]  # the response cache's clock, moved by hand (token times stay real: the sandbox checks them)
    async with rig_on(store, "modern", tools_ttl_ms=60_000, cache_clock=lambda: now[0]) as rig:
        assert "archive_person" not in names(await rig.client.tools(ALICE))
        rig.sandbox.add_tool(archive_person, name="archive_person", description="Archive a person.")
        now[0] += 59
        assert "archive_person" not in names(await rig.client.tools(ALICE))
        assert "archive_person" not in names(await rig.client.tools(BOB))  # the shared list is still fresh
        assert rig.sandbox.stats.tool_lists == 1
        now[0] += 2
        assert "archive_person" in names(await rig.client.tools(BOB))
        assert "archive_person" in names(await rig.client.tools(ALICE))  # one refetch served both users
        assert rig.sandbox.stats.tool_lists == 2


async def test_a_modern_tool_list_without_a_ttl_is_read_every_time(store: Store) -> None:
    async with rig_on(store, "modern", tools_ttl_ms=0) as rig:
        await rig.client.tools(ALICE)  # read when the session opened, for this command
        await rig.client.tools(ALICE)  # read again: it was stale as soon as it arrived
        await rig.client.tools(BOB)
        assert rig.sandbox.stats.tool_lists == 3


async def test_a_renewed_session_rereads_the_tool_list(rig: Rig) -> None:
    assert names(await rig.client.tools(ALICE)) == SANDBOX_TOOLS
    lists = rig.sandbox.stats.tool_lists
    async with rig.pool.session(ALICE) as session:
        pass
    await rig.pool.discard(session)
    assert names(await rig.client.tools(ALICE)) == SANDBOX_TOOLS
    assert rig.sandbox.stats.tool_lists == lists + 1  # from Rollout, not from the cache


# ---- the pool --------------------------------------------------------------------------------------------------------


async def test_an_idle_session_is_closed_without_any_other_call(
    sandbox_of_each_era: RunningSandbox, store: Store
) -> None:
    rig = make_rig(sandbox_of_each_era, store, idle_seconds=0.05)
    try:
        assert isinstance(await rig.client.list_credentials(ALICE), Credentials)
        async with rig.pool.session(ALICE) as session:
            assert session.alive
        await asyncio.wait_for(session.closed.wait(), WAIT)
        assert len(rig.pool) == 0
        if sandbox_of_each_era.protocol == "legacy":
            assert (
                sandbox_of_each_era.stats.by_method["DELETE"] == 1
            )  # ended on Rollout's side too, before `closed` was set
        assert isinstance(await rig.client.list_credentials(ALICE), Credentials)  # and reopened on demand
        assert rig.pool.stats.sessions_opened == 2
    finally:
        await rig.pool.close()


async def test_a_session_in_use_is_not_expired(sandbox_of_each_era: RunningSandbox, store: Store) -> None:
    rig = make_rig(sandbox_of_each_era, store, idle_seconds=0.01)
    try:
        async with rig.pool.session(ALICE) as held:
            other = await rig.client.list_credentials(BOB)  # gives the pool a chance to expire idle sessions
            assert isinstance(other, Credentials)
            assert held.alive and not held.closed.is_set()
    finally:
        await rig.pool.close()


async def test_a_server_that_changed_era_is_probed_again(store: Store) -> None:
    """The process remembers a legacy server; the next connection to a modern-only one fails, then probes."""
    async with rig_on(store, "legacy") as legacy:
        assert isinstance(await legacy.client.list_credentials(ALICE), Credentials)
        remembered = legacy.pool._shared.era
    assert remembered is not None and remembered.version == LEGACY
    async with rig_on(store, "modern") as modern:
        modern.pool._shared.era = remembered  # as if the same process had seen the server before its upgrade
        assert isinstance(await modern.client.list_credentials(BOB), Credentials)  # refused, re-probed, answered
        assert modern.pool.protocol_version in MODERN_PROTOCOL_VERSIONS
        assert modern.sandbox.stats.discovers == 1
