"""`rollout-bot doctor` in-process against the sandbox Rollout MCP server and the fake Slack Web API, on loopback."""

from __future__ import annotations

import io
import json
import re
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
import yaml
from cryptography.fernet import Fernet

from bench.fakes import FakeSlackApi
from bot import doctor
from bot.cli import main
from bot.config import Settings, load_settings
from bot.doctor import (
    DoctorOptions,
    Section,
    manifest_bot_scopes,
    run_doctor,
    scrub,
)
from bot.identity import SlackUser
from bot.rollout.tokens import IssuedToken, TokenMinter
from bot.rollout.tools import Capability
from bot.sandbox import RunningSandbox
from bot.sandbox.app import Protocol
from tests.contracts import serve_contract, standard_tools
from tests.sandboxes import CLIENT_ID, CLIENT_SECRET, running_sandbox

BOT_TOKEN = "xoxb-doctor-test-bot-token"
SIGNING_SECRET = "doctor-signing-secret-value"
MANIFEST = Path(__file__).resolve().parents[1] / "manifest.yml"
MANIFEST_SCOPES: list[str] = yaml.safe_load(MANIFEST.read_text())["oauth_config"]["scopes"]["bot"]
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.")


@pytest.fixture
async def empty_sandbox() -> AsyncIterator[RunningSandbox]:
    """Every subject starts with no CRM connected."""
    async with running_sandbox(accounts=0) as running:
        yield running


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackApi]:
    async with FakeSlackApi(bot_token=BOT_TOKEN, scopes=MANIFEST_SCOPES) as fake:
        yield fake


@pytest.fixture
def minted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every Rollout token doctor mints, so a test can check that none of them is printed."""
    tokens: list[str] = []

    class RecordingMinter(TokenMinter):
        def mint(self, subject: str) -> IssuedToken:
            issued = super().mint(subject)
            tokens.append(issued.token)
            return issued

    monkeypatch.setattr(doctor, "TokenMinter", RecordingMinter)
    return tokens


def settings_for(sandbox: RunningSandbox, slack: FakeSlackApi, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_app_token": None,
        "slack_api_url": slack.base_url,
        "rollout_mcp_url": sandbox.url,
        "rollout_client_id": CLIENT_ID,
        "rollout_client_secret": CLIENT_SECRET,
        "encryption_key": Fernet.generate_key().decode(),
        "anthropic_api_key": None,
        **{f"rollout_tool_{c.value}": None for c in Capability},
    }
    values.update(overrides)
    return load_settings(**values)


async def run(settings: Settings, options: DoctorOptions | None = None, *, as_json: bool = False) -> tuple[int, str]:
    out = io.StringIO()
    code = await run_doctor(settings, options or DoctorOptions(), as_json=as_json, out=out)
    return code, out.getvalue()


def failures(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.strip().startswith("✗")]


# ---- end to end ------------------------------------------------------------------------------------------------


async def test_all_good_exits_0_and_shows_what_the_bot_will_do(
    sandbox: RunningSandbox, slack: FakeSlackApi, minted: list[str]
) -> None:
    code, output = await run(settings_for(sandbox, slack))

    assert (code, failures(output)) == (0, [])
    assert output.rstrip().endswith("All good.")
    assert "auth.test: workspace Fake workspace (T0FAKE), bot user @rollout (U0BOT)" in output
    assert f"all {len(MANIFEST_SCOPES)} bot scopes of manifest.yml are granted" in output
    assert "connected: protocol 2026-07-28" in output
    assert re.search(r"create_note\s+write  readOnly=false destructive=false idempotent=false openWorld=true", output)
    assert re.search(r"get_person_overview\s+read   readOnly=true destructive=- idempotent=- openWorld=true", output)
    assert "✓ person_overview → get_person_overview" in output
    assert "arguments: credential_id → credentialId, person_id → personId, email → email, query → query" in output
    assert "writes, each waiting for the requester's Approve click: create_note, create_person, create_task" in output
    assert "list_credentials: 1 CRM account: " in output
    assert len(minted) == 1 and minted[0] not in output and not JWT.search(output)


async def test_json_parses_and_carries_the_mapping_and_accounts(
    sandbox: RunningSandbox, slack: FakeSlackApi, minted: list[str]
) -> None:
    code, output = await run(settings_for(sandbox, slack), as_json=True)
    report = json.loads(output)

    assert (code, report["ok"], report["exit_code"]) == (0, True, 0)
    assert report["slack"]["team_id"] == "T0FAKE" and report["slack"]["scopes_missing"] == []
    rollout = report["rollout"]
    assert rollout["protocol_version"] == "2026-07-28"
    assert rollout["capabilities"]["create_task"] == {
        "tool": "create_task",
        "arguments": {
            "credential_id": "credentialId",
            "person_id": "personId",
            "title": "title",
            "due_date": "dueDate",
            "description": "description",
        },
    }
    overview = next(t for t in rollout["tools"] if t["name"] == "get_person_overview")
    assert overview["annotations"]["readOnlyHint"] is True and overview["treated_as"] == "read"
    assert rollout["writes"] == ["create_note", "create_person", "create_task"]
    assert rollout["missing"] == [] and rollout["ambiguous"] == {}
    assert [set(a) for a in rollout["accounts"]] == [{"provider", "label"}]
    assert minted[0] not in output


@pytest.mark.parametrize(
    ("protocol", "era"),
    [("legacy", "protocol 2025-11-25, initialize handshake"), ("modern", "protocol 2026-07-28, stateless")],
)
async def test_either_era_and_every_page_of_tools(slack: FakeSlackApi, protocol: Protocol, era: str) -> None:
    async with running_sandbox(protocol=protocol, tools_page_size=2) as paged:
        code, output = await run(settings_for(paged, slack))

    assert (code, failures(output)) == (0, [])
    assert f"connected: {era}" in output
    assert "5 tools listed (3 pages)" in output and "create_task → create_task" in output


async def test_missing_scopes_fail_and_extra_ones_are_a_note(sandbox: RunningSandbox, slack: FakeSlackApi) -> None:
    slack.scopes = (*[s for s in MANIFEST_SCOPES if s not in ("commands", "users:read")], "reactions:write")

    code, output = await run(settings_for(sandbox, slack))

    assert code == 1
    assert failures(output) == [
        "✗ scopes missing: commands, users:read — add them under OAuth & Permissions (or update the app from "
        "manifest.yml) and reinstall the app"
    ]
    assert "· granted but not in manifest.yml: reactions:write" in output


async def test_no_scopes_header_is_a_problem(sandbox: RunningSandbox, slack: FakeSlackApi) -> None:
    slack.scopes = None

    code, output = await run(settings_for(sandbox, slack))

    assert code == 1 and failures(output) == [
        "✗ scopes: Slack sent no x-oauth-scopes header, so the granted scopes are unknown"
    ]


async def test_wrong_bot_token_is_named_without_printing_it(sandbox: RunningSandbox, slack: FakeSlackApi) -> None:
    wrong = "xoxb-not-the-installed-token"

    code, output = await run(settings_for(sandbox, slack, slack_bot_token=wrong))

    assert code == 1 and failures(output) == ["✗ auth.test: Slack refused the bot token (invalid_auth)"]
    assert wrong not in output


async def test_no_crm_connected_is_reported_and_no_link_is_printed(
    empty_sandbox: RunningSandbox, slack: FakeSlackApi, minted: list[str]
) -> None:
    # Listing with the overview tool makes the sandbox answer as Rollout does with no CRM: an error with a
    # credentials link, which carries the token.
    settings = settings_for(empty_sandbox, slack, rollout_tool_list_credentials="get_person_overview")

    for as_json in (False, True):
        code, output = await run(settings, as_json=as_json)

        assert code == 0, output
        assert "list_credentials: no CRM connected for this subject" in output
        assert "/mcp/credentials/" not in output and "credentialsUrl" not in output
        assert not any(token in output for token in minted) and not JWT.search(output)
    assert len(minted) == 2


async def test_an_empty_credentials_list_is_no_crm_too(empty_sandbox: RunningSandbox, slack: FakeSlackApi) -> None:
    code, output = await run(settings_for(empty_sandbox, slack), as_json=True)

    assert code == 0 and json.loads(output)["rollout"]["accounts"] == []


async def test_a_wrong_rollout_secret_is_a_clear_401(
    sandbox: RunningSandbox, slack: FakeSlackApi, minted: list[str]
) -> None:
    wrong_secret = "not-the-rollout-secret-" + "9" * 64

    code, output = await run(settings_for(sandbox, slack, rollout_client_secret=wrong_secret))

    assert code == 1
    assert failures(output) == [
        "✗ connecting: Rollout refused the token (HTTP 401): check that ROLLOUT_CLIENT_ID and ROLLOUT_CLIENT_SECRET "
        "match your Rollout dashboard"
    ]
    assert len(minted) == 2  # refused, renewed once as the bot renews a token, refused again: no third
    assert wrong_secret not in output and not any(token in output for token in minted)


async def test_an_unreachable_rollout_is_named(fresh_sandbox: RunningSandbox, slack: FakeSlackApi) -> None:
    fresh_sandbox.set_failure("500")
    code, output = await run(settings_for(fresh_sandbox, slack))

    assert code == 1 and failures(output) == ["✗ connecting: Rollout answered HTTP 500"]


async def test_a_rollout_nobody_answers_at_is_named(sandbox: RunningSandbox, slack: FakeSlackApi) -> None:
    with socket.socket() as closed:  # bound but not listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/mcp"

        code, output = await run(settings_for(sandbox, slack, rollout_mcp_url=url))

    assert code == 1 and failures(output) == [f"✗ connecting: could not connect to {url} (ROLLOUT_MCP_URL)"]


async def test_a_slow_rollout_is_named(fresh_sandbox: RunningSandbox, slack: FakeSlackApi) -> None:
    fresh_sandbox.set_latency(0.5)

    code, output = await run(settings_for(fresh_sandbox, slack, rollout_timeout_seconds=0.1))

    assert code == 1
    assert failures(output) == ["✗ connecting: Rollout didn't answer within 0.1 s (ROLLOUT_TIMEOUT_SECONDS)"]


async def test_user_gets_the_subject_the_bot_uses(empty_sandbox: RunningSandbox, slack: FakeSlackApi) -> None:
    # Only the bot's subject for this person has an account: finding it proves doctor derived the same subject.
    person = SlackUser("T0FAKE", "U0ADA")
    empty_sandbox.crm.set_accounts(person.default_subject, ["salesforce"])
    settings = settings_for(empty_sandbox, slack)

    by_slack_team = json.loads((await run(settings, DoctorOptions(user="U0ADA"), as_json=True))[1])
    elsewhere = json.loads((await run(settings, DoctorOptions(user="U0ADA", team="T0OTHER"), as_json=True))[1])

    assert by_slack_team["rollout"]["subject"] == person.default_subject
    assert [a["provider"] for a in by_slack_team["rollout"]["accounts"]] == ["salesforce"]
    assert elsewhere["rollout"]["subject"] == SlackUser("T0OTHER", "U0ADA").default_subject
    assert elsewhere["rollout"]["accounts"] == []


async def test_a_tool_setting_naming_no_tool_is_a_problem(sandbox: RunningSandbox, slack: FakeSlackApi) -> None:
    code, output = await run(settings_for(sandbox, slack, rollout_tool_create_note="add_note_v2"))

    assert code == 1
    assert failures(output) == [
        "✗ create_note: ROLLOUT_TOOL_CREATE_NOTE names add_note_v2, which Rollout does not list"
    ]
    assert "not used by the slash commands (the agent may still call them): create_note" in output


async def test_bad_settings_exit_2_with_one_line_each_and_no_secret(tmp_path: Path) -> None:
    settings = load_settings(
        slack_bot_token=None,
        slack_signing_secret=None,
        rollout_client_id=None,
        rollout_client_secret="short-rollout-secret",
        encryption_key=None,
        anthropic_api_key=None,
    )

    code, output = await run(settings, DoctorOptions(manifest=tmp_path / "none.yml"))

    assert code == 2
    assert [line.split(":")[0] for line in failures(output)] == [
        "✗ SLACK_BOT_TOKEN is not set",
        "✗ SLACK_SIGNING_SECRET is not set",
        "✗ ROLLOUT_CLIENT_ID is not set",
        "✗ ROLLOUT_CLIENT_SECRET is too short",
        "✗ ENCRYPTION_KEY is not set",
    ]
    assert "skipped: SLACK_BOT_TOKEN is not set" in output and "short-rollout-secret" not in output


def test_the_cli_runs_doctor_and_exits_2_on_bad_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the working directory
    for name in ("SLACK_BOT_TOKEN", "ROLLOUT_CLIENT_ID", "ROLLOUT_CLIENT_SECRET", "ENCRYPTION_KEY"):
        monkeypatch.delenv(name, raising=False)

    code = main(["doctor", "--json", "--manifest", str(tmp_path / "none.yml")])

    report = json.loads(capsys.readouterr().out)
    assert code == 2 and report["exit_code"] == 2 and report["ok"] is False


# ---- the parts -------------------------------------------------------------------------------------------------


def test_urls_are_shown_without_user_info_or_query() -> None:
    assert doctor.shown_url("https://user:pw@rollout.example:8443/mcp?key=k") == "https://rollout.example:8443/mcp"
    assert doctor.shown_url("https://universal.rollout.com/mcp") == "https://universal.rollout.com/mcp"
    assert doctor.shown_url("http://[::1]:8765/mcp") == "http://[::1]:8765/mcp"


def test_scrub_removes_links_tokens_and_secrets() -> None:
    token = TokenMinter(CLIENT_ID, CLIENT_SECRET, timedelta(minutes=5)).mint("someone").token
    text = f"Connect at https://universal.rollout.com/mcp/credentials/{token} now; key {CLIENT_SECRET}; bare {token}"

    scrubbed = scrub(text, [CLIENT_SECRET])

    assert token not in scrubbed and CLIENT_SECRET not in scrubbed and "/mcp/credentials/" not in scrubbed
    assert scrubbed.startswith("Connect at [credentials link withheld] now; key [secret]; bare [redacted]")


async def test_json_stays_valid_when_a_link_is_withheld(monkeypatch: pytest.MonkeyPatch) -> None:
    link = "https://universal.rollout.com/mcp/credentials/abc.def.ghi"

    async def diagnose(*_: Any, **__: Any) -> doctor.Report:
        report = doctor.Report()
        report.rollout.add("fail", f"Rollout said: connect at {link}")
        report.facts["echo"] = {"url": link, "list": [link]}
        return report

    monkeypatch.setattr(doctor, "diagnose", diagnose)
    out = io.StringIO()

    code = await run_doctor(load_settings(), DoctorOptions(), as_json=True, out=out)

    parsed = json.loads(out.getvalue())
    assert code == 1 and "/mcp/credentials/" not in out.getvalue()
    assert parsed["echo"] == {"url": "[credentials link withheld]", "list": ["[credentials link withheld]"]}


async def test_a_tool_listing_that_never_ends_is_cut_off_as_the_bot_cuts_it(
    slack: FakeSlackApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.rollout.session.MAX_TOOL_PAGES", 2)  # the bot's own bound, the one doctor follows
    async with running_sandbox(tools_page_size=1) as paged:
        code, output = await run(settings_for(paged, slack))

    assert "2 tools listed (2 pages)" in output
    assert "! the tool listing did not end after 2 pages: the bot uses the 2 tools listed so far" in output
    assert code == 1  # the tools on the pages never read are missing, as they are to the bot


def tool(name: str, *, read_only: bool | None = None, properties: tuple[str, ...] = ()) -> types.Tool:
    hints = None if read_only is None else types.ToolAnnotations(read_only_hint=read_only)
    schema = {"type": "object", "properties": {p: {"type": "string"} for p in properties}}
    return types.Tool(name=name, input_schema=schema, annotations=hints)


def test_ambiguous_missing_and_unannotated_reads_are_flagged() -> None:
    tools = [
        tool("list_credentials"),  # a read by its name only
        tool("get_person_overview", read_only=True, properties=("email",)),
        tool("find_contact_overview", read_only=True, properties=("query",)),
        tool("create_note", read_only=False, properties=("personId", "text")),
        tool("create_task", read_only=False),
        tool("delete_person", read_only=False),
    ]
    section, facts = Section("Rollout"), {}

    doctor.describe_tools(tools, 1, {}, section, facts)

    lines = {(c.status, c.text) for c in section.checks}
    assert (
        "fail",
        "person_overview: several tools fit (get_person_overview, find_contact_overview) and none is used — set "
        "ROLLOUT_TOOL_PERSON_OVERVIEW to the one to use",
    ) in lines
    assert (
        "fail",
        "create_person: no tool found — set ROLLOUT_TOOL_CREATE_PERSON if Rollout names it differently",
    ) in lines
    assert any(s == "warn" and t.startswith("list_credentials → list_credentials is not annotated") for s, t in lines)
    assert facts["capabilities"]["create_note"]["arguments"] == {"person_id": "personId", "content": "text"}
    assert facts["missing"] == ["create_person"]
    assert facts["writes"] == ["create_note", "create_task", "delete_person"]


def test_a_setting_cannot_make_a_changing_tool_serve_a_read() -> None:
    tools = [tool("list_credentials", read_only=True), tool("create_note", read_only=False)]
    section, facts = Section("Rollout"), {}

    doctor.describe_tools(tools, 1, {Capability.LIST_CREDENTIALS: "create_note"}, section, facts)

    assert (
        "fail",
        "list_credentials: ROLLOUT_TOOL_LIST_CREDENTIALS names create_note, which may change data, so the bot won't "
        "call it without a click",
    ) in {(c.status, c.text) for c in section.checks}
    assert "list_credentials" not in facts["capabilities"]


def test_manifest_scopes_are_read_with_yaml() -> None:
    flow = "oauth_config:\n  scopes:\n    user: [search:read]\n    bot: [chat:write, 'commands']  # two\n"
    compact = "oauth_config:\n  scopes:\n    bot:\n    - im:write\n    - commands\n  redirect_urls: []\n"

    assert list(manifest_bot_scopes(MANIFEST.read_text())) == MANIFEST_SCOPES
    assert manifest_bot_scopes(flow) == ("chat:write", "commands")
    assert manifest_bot_scopes(compact) == ("im:write", "commands")
    assert manifest_bot_scopes("display_information:\n  name: x\n") == ()  # no scopes declared


async def test_a_manifest_that_is_not_yaml_is_named(
    sandbox: RunningSandbox, slack: FakeSlackApi, tmp_path: Path
) -> None:
    broken = tmp_path / "manifest.yml"
    broken.write_text("oauth_config:\n  scopes:\n    bot: [chat:write\n")

    code, output = await run(settings_for(sandbox, slack), DoctorOptions(manifest=broken))

    assert code == 1 and failures(output) == [f"✗ scopes: {broken} is not valid YAML (line 4)"]


async def test_a_tool_result_without_result_type_is_read_as_the_bot_reads_it(
    sandbox: RunningSandbox, slack: FakeSlackApi
) -> None:
    def strip(method: str, answer: dict[str, Any]) -> dict[str, Any]:
        if method == "tools/call":
            answer.pop("resultType", None)
        return answer

    async with serve_contract(standard_tools(), rewrite=strip) as server:
        _, output = await run(settings_for(sandbox, slack, rollout_mcp_url=server.url))
    assert "connected: protocol 2026-07-28" in output
    assert "list_credentials: 1 CRM account: " in output
    assert not [line for line in failures(output) if "list" in line]
