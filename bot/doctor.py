"""`rollout-bot doctor`: checks settings, the Slack token and Rollout the way the bot uses them, and says what is wrong.

Rollout is reached through the bot's own code: its session pool and MCP session (protocol era, every `tools/list`
page up to the same MAX_TOOL_PAGES, the bearer token renewed once on a 401), `classify` for what each tool is for,
and RolloutClient's reading of a tool's answer. So what doctor shows is what the bot will do. manifest.yml is read
with PyYAML.

Read-only: it never writes to the database, Slack or the CRM. It mints a short-lived Rollout token (for a throwaway
subject, or for the subject the bot uses for `--user`; a second one if Rollout refuses the first, as the bot would),
kept in memory only and never printed, and scrubs credentials links and anything token-like from what it prints.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TextIO
from urllib.parse import urlsplit

import aiohttp
import httpx2
import mcp_types as types
import yaml
from cryptography.fernet import Fernet
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import SecretStr
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot import redaction
from bot.config import DEFAULT_DATABASE_URL, ConfigError, Settings
from bot.database_check import (
    UNREACHABLE_ERRORS,
    NoDatabaseYet,
    database_location,
    known_revisions,
    schema_revision,
    unreachable_message,
)
from bot.identity import SlackUser
from bot.rollout import parse
from bot.rollout.client import RolloutClient, ToolAnswer
from bot.rollout.outcomes import ConnectNeeded
from bot.rollout.pool import SessionPool
from bot.rollout.session import SessionUnavailable, UserSession
from bot.rollout.tokens import TokenMinter, TokenService
from bot.rollout.tools import READ_CAPABILITIES, Capability, ToolMap, argument_mapping, classify
from bot.store.alembic_runner import head_revision

Status = Literal["ok", "fail", "warn", "note"]
MARKS: dict[Status, str] = {"ok": "✓", "fail": "✗", "warn": "!", "note": "·"}

DEFAULT_MANIFEST = Path(__file__).resolve().parents[1] / "manifest.yml"
SCOPES_HEADER = "x-oauth-scopes"
DATABASE_CHECK_SECONDS = 10.0  # a database that has not answered by then is as good as down for the bot
DEFAULT_ROLLOUT_MCP_URL = Settings.model_fields["rollout_mcp_url"].default


# ---- the report --------------------------------------------------------------------------------------------------


@dataclass
class Check:
    status: Status
    text: str
    details: list[str] = field(default_factory=list)  # indented lines under the check, e.g. a table of tools


@dataclass
class Section:
    title: str
    checks: list[Check] = field(default_factory=list)

    def add(self, status: Status, text: str, details: Iterable[str] = ()) -> Check:
        check = Check(status, text, list(details))
        self.checks.append(check)
        return check

    @property
    def failed(self) -> bool:
        return any(check.status == "fail" for check in self.checks)


@dataclass
class Report:
    settings: Section = field(default_factory=lambda: Section("Settings"))
    database: Section = field(default_factory=lambda: Section("Database"))
    slack: Section = field(default_factory=lambda: Section("Slack"))
    rollout: Section = field(default_factory=lambda: Section("Rollout"))
    facts: dict[str, Any] = field(default_factory=dict)  # what `--json` adds for scripts: ids, tools, accounts

    @property
    def sections(self) -> tuple[Section, ...]:
        return (self.settings, self.database, self.slack, self.rollout)

    @property
    def exit_code(self) -> int:
        """2 for bad settings (as every other command), 1 for anything else wrong, 0 when all is well."""
        if self.settings.failed:
            return 2
        return 1 if any(section.failed for section in self.sections) else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.exit_code == 0,
            "exit_code": self.exit_code,
            "sections": [asdict(section) for section in self.sections],
            **self.facts,
        }


def render_text(report: Report) -> str:
    lines: list[str] = []
    for section in report.sections:
        lines.append(section.title)
        for check in section.checks:
            lines.append(f"  {MARKS[check.status]} {check.text}")
            lines.extend(f"      {detail}" for detail in check.details)
        lines.append("")
    problems = sum(check.status == "fail" for section in report.sections for check in section.checks)
    lines.append("All good." if problems == 0 else f"{problems} problem{'s' if problems > 1 else ''} found.")
    return "\n".join(lines) + "\n"


def scrub(text: str, secret_values: Iterable[str]) -> str:
    """Remove every secret we hold, credentials links (they carry a token) and anything shaped like a JWT."""
    # Short values would blank out ordinary words; nothing this prints holds a setting value anyway.
    for value in sorted((v for v in secret_values if len(v) >= 8), key=len, reverse=True):
        text = text.replace(value, "[secret]")
    return redaction.scrub(text)


# ---- running it --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DoctorOptions:
    user: str | None = None  # check Rollout as the bot does for this Slack user
    team: str | None = None  # the user's workspace; defaults to the bot token's workspace
    manifest: Path | None = None  # default: manifest.yml next to the bot package


async def run_doctor(settings: Settings, options: DoctorOptions, *, as_json: bool = False, out: TextIO) -> int:
    """Run every check, print the report (text or JSON), return the exit code."""
    secret_values = _secret_values(settings)
    report = await diagnose(settings, options, remember_secret=secret_values.append)
    if as_json:
        # Scrubbed value by value, so a withheld link can never break the JSON around it.
        out.write(json.dumps(_scrub_values(report.to_json(), secret_values), indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(scrub(render_text(report), secret_values))
    return report.exit_code


def _scrub_values(node: Any, secret_values: Sequence[str]) -> Any:
    if isinstance(node, str):
        return scrub(node, secret_values)
    if isinstance(node, dict):
        return {scrub(str(key), secret_values): _scrub_values(value, secret_values) for key, value in node.items()}
    if isinstance(node, list):
        return [_scrub_values(item, secret_values) for item in node]
    return node


async def diagnose(
    settings: Settings, options: DoctorOptions, *, remember_secret: Callable[[str], None] = lambda _: None
) -> Report:
    report = Report()
    check_settings(settings, report.settings)
    await check_database(settings, report.database)
    team = await check_slack(settings, options.manifest or DEFAULT_MANIFEST, report)
    await check_rollout(settings, options, team, report, remember_secret)
    return report


# ---- settings ----------------------------------------------------------------------------------------------------

# Stand-ins that satisfy one requirement, so the next problem in the same group is reported too.
_PLACEHOLDERS: dict[str, Any] = {
    "SLACK_BOT_TOKEN": SecretStr("xoxb-placeholder"),
    "SLACK_SIGNING_SECRET": SecretStr("placeholder"),
    "ROLLOUT_CLIENT_ID": "placeholder",
    "ROLLOUT_CLIENT_SECRET": SecretStr("0" * 128),
    "ENCRYPTION_KEY": SecretStr(Fernet.generate_key().decode()),
}


@dataclass(frozen=True, slots=True)
class _Requirement:
    label: str
    names: tuple[str, ...]
    check: Callable[[Settings], None]
    needed_by: str


_REQUIREMENTS = (
    _Requirement("Slack", ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"), Settings.require_slack, "serve"),
    _Requirement(
        "Rollout", ("ROLLOUT_CLIENT_ID", "ROLLOUT_CLIENT_SECRET"), Settings.require_rollout, "serve, sandbox, doctor"
    ),
    _Requirement("Store", ("ENCRYPTION_KEY",), Settings.require_store, "serve, migrate"),
)


def check_settings(settings: Settings, section: Section) -> None:
    """The same rules each command applies at start (bot.config), one line per problem."""
    for requirement in _REQUIREMENTS:
        problems = _problems(settings, requirement)
        if not problems:
            section.add(
                "ok", f"{requirement.label}: {', '.join(requirement.names)} (needed by {requirement.needed_by})"
            )
        for problem in problems:
            section.add("fail", f"{problem.rstrip('.')} (needed by {requirement.needed_by})")
    if settings.slack_app_token is not None:
        section.add("note", "SLACK_APP_TOKEN is set: serve uses Socket Mode instead of HTTP")
    if not settings.llm_enabled:
        section.add("note", "ANTHROPIC_API_KEY is not set: slash commands work, free-text answers are off")
    dialect = settings.database_url.split(":", 1)[0]  # never the whole URL: it may hold a password
    if settings.database_url == DEFAULT_DATABASE_URL:
        section.add("note", "DATABASE_URL is not set: a local SQLite file; use PostgreSQL to run several processes")
    else:
        section.add("ok", f"DATABASE_URL: {dialect}")


def _problems(settings: Settings, requirement: _Requirement) -> list[str]:
    problems: list[str] = []
    probe = settings
    for _ in requirement.names:
        try:
            requirement.check(probe)
            break
        except ConfigError as exc:
            problems.append(str(exc))
            name = str(exc).split(" ", 1)[0]
            if name not in _PLACEHOLDERS:
                break
            probe = probe.model_copy(update={name.lower(): _PLACEHOLDERS[name]})
    return problems


def _secret_values(settings: Settings) -> list[str]:
    values = [
        settings.slack_bot_token,
        settings.slack_signing_secret,
        settings.slack_app_token,
        settings.rollout_client_secret,
        settings.anthropic_api_key,
        settings.encryption_key,
    ]
    found = [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]
    return found + settings.encryption_keys


# ---- the database ------------------------------------------------------------------------------------------------


async def check_database(settings: Settings, section: Section) -> None:
    """Connect read-only and compare the schema's migration revision with the code's head."""
    try:
        settings.require_store()
    except ConfigError as exc:
        if str(exc).startswith("DATABASE_URL"):
            section.add("fail", str(exc).rstrip("."))
        else:
            section.add("note", "skipped: ENCRYPTION_KEY is needed first (see Settings)")
        return
    where = database_location(settings.database_url)
    head = head_revision()
    try:
        async with asyncio.timeout(DATABASE_CHECK_SECONDS):
            revision = await schema_revision(settings.database_url)
    except NoDatabaseYet:
        section.add("warn", f"{where}: no database yet: run rollout-bot migrate (serve also does at start)")
        return
    except (*UNREACHABLE_ERRORS, TimeoutError) as error:
        section.add("fail", unreachable_message(settings.database_url, error))
        return
    if revision == head:
        section.add("ok", f"{where}: migrations at {head}")
    elif revision is None:
        section.add("warn", f"{where}: no tables yet: run rollout-bot migrate (serve also does at start)")
    elif revision in known_revisions():
        section.add("warn", f"{where}: migrations at {revision}, the code's are at {head}: run rollout-bot migrate")
    else:
        section.add(
            "fail",
            f"{where}: migrations at {revision}, which this code does not know (its head is {head}): the database "
            "was migrated by a newer version of rollout-bot",
        )


# ---- Slack -------------------------------------------------------------------------------------------------------


async def check_slack(settings: Settings, manifest: Path, report: Report) -> str | None:
    """auth.test and the granted scopes against manifest.yml; returns the bot's workspace id when Slack answered."""
    section = report.slack
    if settings.slack_bot_token is None or not settings.slack_bot_token.get_secret_value():
        section.add("note", "skipped: SLACK_BOT_TOKEN is not set")
        return None
    options: dict[str, Any] = {"token": settings.slack_bot_token.get_secret_value(), "timeout": 10}
    if settings.slack_api_url:
        options["base_url"] = settings.slack_api_url.rstrip("/") + "/"
    try:
        response = await AsyncWebClient(**options).auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        section.add("fail", f"auth.test: Slack refused the bot token ({error or exc.response.status_code})")
        return None
    except (SlackClientError, aiohttp.ClientError, TimeoutError, OSError) as exc:
        section.add("fail", f"auth.test: could not reach Slack ({type(exc).__name__})")
        return None
    team_id = str(response.get("team_id") or "")
    bot_user = str(response.get("user_id") or "")
    workspace = response.get("team") or "?"
    section.add("ok", f"auth.test: workspace {workspace} ({team_id}), bot user @{response.get('user')} ({bot_user})")
    report.facts["slack"] = {"team": response.get("team"), "team_id": team_id, "bot_user_id": bot_user}
    _check_scopes(_header(response.headers, SCOPES_HEADER), manifest, section, report.facts["slack"])
    return team_id or None


def _check_scopes(header: str | None, manifest: Path, section: Section, facts: dict[str, Any]) -> None:
    try:
        declared = manifest_bot_scopes(manifest.read_text())
    except OSError:
        section.add("fail", f"scopes: cannot read {manifest}; pass --manifest PATH to the app's manifest.yml")
        return
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        section.add("fail", f"scopes: {manifest} is not valid YAML{line}")
        return
    if header is None:
        section.add("fail", f"scopes: Slack sent no {SCOPES_HEADER} header, so the granted scopes are unknown")
        return
    granted = {scope.strip() for scope in header.split(",") if scope.strip()}
    missing = sorted(set(declared) - granted)
    extra = sorted(granted - set(declared))
    facts.update(scopes_granted=sorted(granted), scopes_missing=missing, scopes_extra=extra)
    if missing:
        section.add(
            "fail",
            f"scopes missing: {', '.join(missing)} — add them under OAuth & Permissions (or update the app from "
            "manifest.yml) and reinstall the app",
        )
    else:
        section.add("ok", f"scopes: all {len(declared)} bot scopes of manifest.yml are granted")
    if extra:
        section.add("note", f"granted but not in manifest.yml: {', '.join(extra)}")


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return None


def manifest_bot_scopes(text: str) -> tuple[str, ...]:
    """`oauth_config.scopes.bot` of a Slack app manifest (YAML); none when the manifest declares none."""
    scopes: Any = yaml.safe_load(text)
    for key in ("oauth_config", "scopes", "bot"):
        scopes = scopes.get(key) if isinstance(scopes, dict) else None
    return tuple(str(scope) for scope in scopes) if isinstance(scopes, list) else ()


# ---- Rollout -----------------------------------------------------------------------------------------------------


@dataclass
class _Subject:
    subject: str


@dataclass
class _Kept:
    token: str
    expires_at: datetime


@dataclass
class _TokensInMemory:
    """The token store for doctor's TokenService: the subject to check, and its tokens in memory only (doctor writes
    nothing); each one minted is remembered, so it is scrubbed from what doctor prints."""

    subject: str
    remember_secret: Callable[[str], None]
    kept: _Kept | None = None

    async def get_or_create(self, user: SlackUser) -> _Subject:
        return _Subject(self.subject)

    async def load_token(self, user: SlackUser) -> _Kept | None:
        return self.kept

    async def save_token(self, user: SlackUser, token: str, expires_at: datetime) -> None:
        self.remember_secret(token)
        self.kept = _Kept(token, expires_at)


def shown_url(url: str) -> str:
    """The URL without user info or query, either of which may hold a credential."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host  # an IPv6 address keeps its brackets
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"


def protocol_era(version: str) -> str:
    if version in MODERN_PROTOCOL_VERSIONS:
        return "stateless (no handshake)"
    return "initialize handshake, with a session"


def annotation_text(tool: types.Tool) -> str:
    """`readOnly=true destructive=- ...`: "-" where the server gave no hint."""
    return " ".join(
        f"{name.removesuffix('Hint')}={'-' if value is None else str(value).lower()}"
        for name, value in _annotations(tool).items()
    )


def _annotations(tool: types.Tool) -> dict[str, bool | None]:
    hints = tool.annotations
    return {
        "readOnlyHint": None if hints is None else hints.read_only_hint,
        "destructiveHint": None if hints is None else hints.destructive_hint,
        "idempotentHint": None if hints is None else hints.idempotent_hint,
        "openWorldHint": None if hints is None else hints.open_world_hint,
    }


async def check_rollout(
    settings: Settings,
    options: DoctorOptions,
    slack_team: str | None,
    report: Report,
    remember_secret: Callable[[str], None],
) -> None:
    section = report.rollout
    section.title = f"Rollout ({shown_url(settings.rollout_mcp_url)})"
    mcp_url = urlsplit(settings.rollout_mcp_url)
    if mcp_url.scheme not in ("http", "https") or not mcp_url.netloc:
        section.add(
            "fail", f"ROLLOUT_MCP_URL is not a URL: set it to the MCP endpoint, such as {DEFAULT_ROLLOUT_MCP_URL}"
        )
        return
    try:
        settings.require_rollout()
    except ConfigError:
        section.add("note", "skipped: ROLLOUT_CLIENT_ID and ROLLOUT_CLIENT_SECRET are needed (see Settings)")
        return
    assert settings.rollout_client_id is not None and settings.rollout_client_secret is not None
    facts: dict[str, Any] = {"url": shown_url(settings.rollout_mcp_url)}
    report.facts["rollout"] = facts

    if options.user:
        team = options.team or slack_team
        if not team:
            section.add("fail", f"--user {options.user} needs --team T… (or a working SLACK_BOT_TOKEN to find it)")
            return
        user = SlackUser(team, options.user)
        subject = user.default_subject
        who = f"Slack user {options.user} in {team}, as the bot does (subject {subject})"
    else:
        subject = f"rollout-bot-doctor-{secrets.token_hex(4)}"
        user = SlackUser("doctor", subject)
        who = f"a throwaway subject ({subject}); use --user U… to check a person's own CRM accounts"
    facts["subject"] = subject
    minter = TokenMinter(
        settings.rollout_client_id, settings.rollout_client_secret.get_secret_value(), settings.rollout_token_ttl
    )
    tokens = TokenService(minter, _TokensInMemory(subject, remember_secret))
    await tokens.current(user)  # minted now, as the pool does before it connects, which then finds it
    section.add("ok", f"token minted for {who}")

    # One session, opened as the bot opens one (probing the era, reading every page of tools/list).
    pool = SessionPool(
        settings.rollout_mcp_url,
        tokens,
        max_sessions=1,
        idle_seconds=settings.rollout_pool_idle_seconds,
        connect_timeout=settings.rollout_timeout_seconds,
    )
    origin = urlsplit(settings.rollout_mcp_url)
    rollout = RolloutClient(
        pool, timeout=settings.rollout_timeout_seconds, rollout_origin=f"{origin.scheme}://{origin.netloc}"
    )
    stage = "connecting"
    try:
        async with asyncio.timeout(settings.rollout_timeout_seconds * 4), pool.session(user) as session:
            version = session.protocol_version or "?"
            facts.update(protocol_version=version, era=protocol_era(version))
            section.add("ok", f"connected: protocol {version}, {protocol_era(version)}")
            stage = "listing tools"
            tools = await session.list_tools()
            describe_tools(tools, session.tool_pages, settings.rollout_tool_overrides, section, facts)
            if session.tools_cut_off:
                section.add(
                    "warn",
                    f"the tool listing did not end after {session.tool_pages} pages: the bot uses the "
                    f"{len(tools)} tools listed so far",
                )
            stage = "listing credentials"
            await _check_credentials(session, rollout, settings, section, facts)
    except Exception as exc:  # every failure becomes one readable line; nothing here is fatal to the report
        section.add("fail", f"{stage}: {_describe_failure(exc, pool.stats.last_status, settings)}")
    finally:
        await pool.close()


def describe_tools(
    tools: Sequence[types.Tool],
    pages: int,
    overrides: Mapping[Capability, str | None],
    section: Section,
    facts: dict[str, Any],
) -> None:
    """The tools with their annotations, then what the bot makes of them (bot.rollout.tools decides, not doctor)."""
    tool_map = classify(tools, overrides)
    width = max((len(t.name) for t in tools), default=0)
    rows = [
        f"{t.name.ljust(width)}  {'read ' if t.name in tool_map.reads else 'write'}  {annotation_text(t)}"
        for t in tools
    ]
    section.add("ok" if tools else "fail", f"{len(tools)} tools listed ({pages} page{'s' if pages > 1 else ''})", rows)
    facts["tools"] = [
        {"name": t.name, "annotations": _annotations(t), "treated_as": "read" if t.name in tool_map.reads else "write"}
        for t in tools
    ]
    _describe_capabilities(tools, tool_map, overrides, section, facts)


def _setting_for(capability: Capability) -> str:
    return f"ROLLOUT_TOOL_{capability.name}"


def _describe_capabilities(
    tools: Sequence[types.Tool],
    tool_map: ToolMap,
    overrides: Mapping[Capability, str | None],
    section: Section,
    facts: dict[str, Any],
) -> None:
    by_name = {t.name: t for t in tools}
    capabilities: dict[str, Any] = {}
    for capability in Capability:
        name = tool_map.capabilities.get(capability)
        if name is not None:
            arguments = argument_mapping(by_name[name])
            capabilities[capability.value] = {"tool": name, "arguments": arguments}
            shown = ", ".join(f"{ours} → {theirs}" for ours, theirs in arguments.items()) or "none"
            section.add("ok", f"{capability.value} → {name}", [f"arguments: {shown}"])
            hints = by_name[name].annotations
            if capability in READ_CAPABILITIES and (hints is None or hints.read_only_hint is not True):
                section.add(
                    "warn",
                    f"{capability.value} → {name} is not annotated read-only (readOnlyHint); the bot reads with it "
                    "because its name says so",
                )
        elif capability in tool_map.ambiguous:
            fits = tool_map.ambiguous[capability]
            section.add(
                "fail",
                f"{capability.value}: several tools fit ({', '.join(fits)}) and none is used — set "
                f"{_setting_for(capability)} to the one to use",
            )
        elif overrides.get(capability) and overrides[capability] not in by_name:
            section.add(
                "fail",
                f"{capability.value}: {_setting_for(capability)} names {overrides[capability]}, which Rollout does "
                "not list",
            )
        elif overrides.get(capability):
            section.add(
                "fail",
                f"{capability.value}: {_setting_for(capability)} names {overrides[capability]}, which may change "
                "data, so the bot won't call it without a click",
            )
        else:
            section.add(
                "fail",
                f"{capability.value}: no tool found — set {_setting_for(capability)} if Rollout names it differently",
            )
    facts["capabilities"] = capabilities
    facts["missing"] = [c.value for c in tool_map.missing if c not in tool_map.ambiguous]
    facts["ambiguous"] = {c.value: list(names) for c, names in tool_map.ambiguous.items()}
    writes = sorted(tool_map.writes(tools))
    facts["writes"] = writes
    if writes:
        section.add(
            "note",
            f"the agent treats these as writes, each waiting for the requester's Approve click: {', '.join(writes)}",
        )
    unused = sorted(set(by_name) - set(tool_map.capabilities.values()))
    if unused:
        section.add("note", f"not used by the slash commands (the agent may still call them): {', '.join(unused)}")


async def _check_credentials(
    session: UserSession, rollout: RolloutClient, settings: Settings, section: Section, facts: dict[str, Any]
) -> None:
    mapped = facts.get("capabilities", {}).get("list_credentials")
    if not mapped:
        section.add("fail", "list_credentials: no tool to call, so the accounts can't be checked")
        return
    timeout = settings.rollout_timeout_seconds
    result = await session.call_tool(mapped["tool"], {}, read_timeout=timeout)
    # Read by RolloutClient, as every answer the bot gets: "no CRM connected" may come as an error or a normal result.
    answer = rollout.answer(result)
    if isinstance(answer, ConnectNeeded):
        _no_crm(section, facts)
        return
    if not isinstance(answer, ToolAnswer):
        section.add("fail", f"list_credentials answered with an error: {parse.scrub(parse.result_text(result))}")
        return
    accounts = parse.credentials(answer.body.get("credentials"))
    if not accounts:
        _no_crm(section, facts)
        return
    facts["accounts"] = [{"provider": a.provider, "label": a.label} for a in accounts]
    listed = ", ".join(f"{a.provider} “{a.label}”" for a in accounts)
    section.add("ok", f"list_credentials: {len(accounts)} CRM account{'s' if len(accounts) > 1 else ''}: {listed}")


def _no_crm(section: Section, facts: dict[str, Any]) -> None:
    facts["accounts"] = []
    section.add(
        "note",
        "list_credentials: no CRM connected for this subject (the bot sends each person a link to connect one)",
    )


def _describe_failure(exc: BaseException, status: int | None, settings: Settings) -> str:
    """One line for what went wrong; `status` is the last HTTP status Rollout answered with."""
    if isinstance(exc, SessionUnavailable) and exc.rejected:
        return _refused(401)
    leaves = list(_leaves(exc.cause if isinstance(exc, SessionUnavailable) and exc.cause is not None else exc))
    if any(isinstance(e, TimeoutError | httpx2.TimeoutException) for e in leaves):
        return f"Rollout didn't answer within {settings.rollout_timeout_seconds:g} s (ROLLOUT_TIMEOUT_SECONDS)"
    if any(isinstance(e, httpx2.ConnectError) for e in leaves):
        return f"could not connect to {shown_url(settings.rollout_mcp_url)} (ROLLOUT_MCP_URL)"
    if status == 404:
        return "Rollout answered HTTP 404 at this address: ROLLOUT_MCP_URL should be the MCP endpoint, ending in /mcp"
    if status is not None and status >= 400:  # the MCP client reports an HTTP error only as an MCP one
        return _refused(status) if status in (401, 403) else f"Rollout answered HTTP {status}"
    first = leaves[0] if leaves else exc
    if isinstance(first, MCPError):
        return f"Rollout answered with an MCP error {first.code}: {parse.scrub(str(first))}"
    return f"{type(first).__name__}: {parse.scrub(str(first))}"


def _refused(status: int) -> str:
    return (
        f"Rollout refused the token (HTTP {status}): check that ROLLOUT_CLIENT_ID and ROLLOUT_CLIENT_SECRET "
        "match your Rollout dashboard"
    )


def _leaves(exc: BaseException) -> Generator[BaseException, None, None]:
    """The actual errors inside the task-group exception groups the MCP client raises."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc
