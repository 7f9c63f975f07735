"""The whole app on loopback, driven the way Slack drives it.

`start_app_harness()` runs the sandbox Rollout MCP server, the fake Slack Web API and the real app (build_services,
build_slack_app, build_web_app) on 127.0.0.1 port 0, with a SQLite file or a PostgreSQL database. `AppHarness` sends
correctly signed requests — slash commands (form-encoded), interactions (form `payload=`), events (JSON) — and the
test then waits on what the app did:

    user = harness.new_user()
    await harness.command(user, "overview ada.lovelace@analytical-engines.example")
    card = await harness.slack.wait_for("response_url", lambda call: "Ada Lovelace" in call.text)
    await harness.click(user, card, Action.PERSON_ADD_NOTE)  # clicks the button in what the app posted
    modal = await harness.slack.wait_for("views.open")
    await harness.submit(user, modal, {fields.NOTE_TEXT: "Called about the renewal"})
    await harness.settle()  # everything the app started has finished

Nothing of the app is mocked: Rollout is the sandbox over real MCP, Slack is an HTTP server, the database is real.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from cryptography.fernet import Fernet
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier

from bench.fakes import Call, FakeSlackApi
from bot.app import SLACK_PATH, build_services, build_slack_app, build_web_app
from bot.config import load_settings
from bot.identity import SlackUser
from bot.ids import SLASH_COMMAND
from bot.sandbox import CrmNote, CrmPerson, CrmTask, RunningSandbox, SandboxCrm, start_sandbox
from bot.services import Services

SIGNING_SECRET = "harness-slack-signing-secret-" + "0123456789abcdef" * 4  # >= 64 bytes, like the HS512 keys
BOT_TOKEN = "xoxb-harness-bot-token"
ROLLOUT_CLIENT_ID = "harness-rollout-client"
ROLLOUT_CLIENT_SECRET = "harness-rollout-client-secret-" + "fedcba9876543210" * 4
TEAM_ID = "T0HARNESS"
CHANNEL_ID = "C0HARNESS"
APP_ID = "A0HARNESS"


def sign(body: str | bytes, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    """Slack's request signature, as slack_sdk computes it (the app checks it the same way).

    slack_sdk's generator reads the body as UTF-8 text, so a body that is not (to test the app refuses it) is signed
    here over its raw bytes, as Slack does."""
    if isinstance(body, bytes):
        digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
        return f"v0={digest}"
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None  # None only without a timestamp
    return signature


@dataclass(frozen=True, slots=True)
class Sent:
    """The app's HTTP answer to one request, plus the ids the request carried."""

    status: int
    body: str
    trigger_id: str = ""
    response_url: str = ""

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class AppHarness:
    slack: FakeSlackApi
    sandbox: RunningSandbox
    services: Services
    app: AsyncApp
    url: str
    http: aiohttp.ClientSession
    team_id: str = TEAM_ID
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # ---- people -------------------------------------------------------------------------------------------------

    def new_user(self, accounts: Sequence[str] | None = ("hubspot",)) -> SlackUser:
        """A user no other test has seen, with these CRM accounts connected (`[]`: none, so Rollout asks to connect).

        Providers: "hubspot", "salesforce", "pipedrive". Every account is seeded with the same people.
        """
        user = SlackUser(self.team_id, f"U{uuid.uuid4().hex[:10].upper()}")
        if accounts is not None:
            self.sandbox.crm.set_accounts(user.default_subject, list(accounts))
        return user

    def crm_account(self, user: SlackUser, index: int = 0) -> str:
        """The credential id of the user's n-th CRM account."""
        return self.sandbox.crm.accounts(user.default_subject)[index].id

    def crm_person(self, user: SlackUser, email: str, account: int = 0) -> CrmPerson:
        """A person as the sandbox CRM holds them in the user's n-th account (to check what the app wrote)."""
        credential = self.crm_account(user, account)
        (person,) = self.sandbox.crm.find_people(user.default_subject, credential, email=email)
        return person

    def crm_notes(self, user: SlackUser, person: CrmPerson, account: int = 0) -> list[CrmNote]:
        return self.sandbox.crm.notes_of(user.default_subject, self.crm_account(user, account), person.id)

    def crm_tasks(self, user: SlackUser, person: CrmPerson, account: int = 0) -> list[CrmTask]:
        return self.sandbox.crm.tasks_of(user.default_subject, self.crm_account(user, account), person.id)

    # ---- sending ------------------------------------------------------------------------------------------------

    async def send(
        self,
        body: str | bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        trigger_id: str = "",
        response_url: str = "",
    ) -> Sent:
        """POST a body to /slack/events, signed like Slack signs it unless a timestamp or signature is forced.

        A str body is sent as UTF-8; bytes are sent as they are (to send what is not UTF-8).
        """
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature if signature is not None else sign(body, stamp),
        }
        data = body if isinstance(body, bytes) else body.encode()
        async with self.http.post(self.url, data=data, headers=headers) as response:
            return Sent(response.status, await response.text(), trigger_id, response_url)

    async def command(
        self, user: SlackUser, text: str, *, channel: str = CHANNEL_ID, trigger_id: str = "", response_url: str = ""
    ) -> Sent:
        trigger_id = trigger_id or self._trigger_id()
        response_url = response_url or self.slack.new_response_url()
        form = {
            "token": "legacy-verification-token",
            "team_id": user.team_id,
            "team_domain": "harness",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user.user_id,
            "user_name": f"user-{user.user_id.lower()}",
            "command": SLASH_COMMAND,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
        return await self.send(
            urlencode(form),
            "application/x-www-form-urlencoded",
            trigger_id=trigger_id,
            response_url=response_url,
        )

    async def interaction(self, payload: Mapping[str, Any]) -> Sent:
        """Any interactivity payload (block_actions, view_submission, message_action, block_suggestion)."""
        body = urlencode({"payload": json.dumps(payload)})
        return await self.send(
            body,
            "application/x-www-form-urlencoded",
            trigger_id=str(payload.get("trigger_id", "")),
            response_url=str(payload.get("response_url", "")),
        )

    async def click(
        self,
        user: SlackUser,
        source: Call,
        action_id: str,
        *,
        value: str | None = None,
        selected_value: str | None = None,
        channel: str = CHANNEL_ID,
    ) -> Sent:
        """Click the element `action_id` (the one with `value`, when several share it) in what the app sent.

        `source` is the recorded call that showed it: a message (chat.postMessage, chat.postEphemeral, a response_url
        post, a stream's chat.stopStream) or a published App Home. For a select, pass `selected_value`: the value of
        the option picked; for feedback buttons, `value` picks the button ("helpful" / "not_helpful"). `channel`: where
        a message that names none (a response_url post) was shown.
        """
        element = _find_element(source, action_id, value)
        action: dict[str, Any] = {
            "type": element.get("type", "button"),
            "action_id": action_id,
            "block_id": _block_id_of(source, element),
            "action_ts": f"{time.time():.6f}",
        }
        if selected_value is not None:
            action["selected_option"] = {"value": selected_value, "text": {"type": "plain_text", "text": "picked"}}
        elif value is not None:
            action["value"] = value
        elif "value" in element:
            action["value"] = element["value"]
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user.user_id, "team_id": user.team_id, "username": "harness"},
            "team": {"id": user.team_id, "domain": "harness"},
            "api_app_id": APP_ID,
            "trigger_id": self._trigger_id(),
            "actions": [action],
            **_click_context(source, self.slack, channel),
        }
        return await self.interaction(payload)

    async def submit(
        self,
        user: SlackUser,
        opened: Call,
        values: Mapping[str, str | None] | None = None,
        *,
        view_id: str | None = None,
    ) -> Sent:
        """Submit a modal the app opened (views.open/push/update), as Slack would: every input keeps what the modal
        prefilled unless `values` (by block id) says otherwise; None empties an input."""
        view = opened.view
        answered = opened.response.get("view") if isinstance(opened.response.get("view"), Mapping) else {}
        payload = {
            "type": "view_submission",
            "team": {"id": user.team_id, "domain": "harness"},
            "user": {"id": user.user_id, "team_id": user.team_id, "username": "harness"},
            "api_app_id": APP_ID,
            "trigger_id": self._trigger_id(),
            "view": {
                "id": view_id or answered.get("id") or f"V{next(self._ids):08d}",
                "team_id": user.team_id,
                "type": "modal",
                "callback_id": view.get("callback_id"),
                "private_metadata": view.get("private_metadata", ""),
                "blocks": view.get("blocks", []),
                "state": {"values": _state_values(view, values or {})},
                "hash": answered.get("hash", "h"),
            },
            "response_urls": [],
        }
        return await self.interaction(payload)

    async def message_shortcut(
        self, user: SlackUser, callback_id: str, *, text: str, channel: str = CHANNEL_ID, message_ts: str = ""
    ) -> Sent:
        message_ts = message_ts or f"1700000100.{next(self._ids):06d}"
        payload = {
            "type": "message_action",
            "callback_id": callback_id,
            "trigger_id": self._trigger_id(),
            "response_url": self.slack.new_response_url(),
            "team": {"id": user.team_id, "domain": "harness"},
            "user": {"id": user.user_id, "team_id": user.team_id, "name": "harness"},
            "channel": {"id": channel, "name": "general"},
            "message": {"type": "message", "user": "U0AUTHOR", "ts": message_ts, "text": text},
            "message_ts": message_ts,
            "action_ts": f"{time.time():.6f}",
        }
        return await self.interaction(payload)

    async def options(self, user: SlackUser, action_id: str, value: str, *, opened: Call | None = None) -> Sent:
        """What Slack asks when someone types into an external select (block_suggestion)."""
        view = opened.view if opened is not None else {}
        payload = {
            "type": "block_suggestion",
            "action_id": action_id,
            "block_id": action_id,
            "value": value,
            "team": {"id": user.team_id, "domain": "harness"},
            "user": {"id": user.user_id, "team_id": user.team_id, "name": "harness"},
            "api_app_id": APP_ID,
            "view": {
                "type": "modal",
                "callback_id": view.get("callback_id"),
                "private_metadata": view.get("private_metadata", ""),
            },
        }
        return await self.interaction(payload)

    async def event(self, event: Mapping[str, Any], *, event_id: str | None = None) -> Sent:
        body = {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "api_app_id": APP_ID,
            "event": dict(event),
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:12].upper()}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": self.team_id, "user_id": self.slack.bot_user_id, "is_bot": True}],
        }
        return await self.send(json.dumps(body), "application/json")

    # ---- waiting ------------------------------------------------------------------------------------------------

    async def settle(self, within: float = 10.0) -> None:
        """Wait until all work the app started after acking (and work that work started) has finished."""
        assert await self.services.background.drain(within), "the app's background work did not finish"

    def _trigger_id(self) -> str:
        return f"{next(self._ids)}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:16]}"


@asynccontextmanager
async def start_app_harness(*, database_url: str, **settings: Any) -> AsyncIterator[AppHarness]:
    """Sandbox + fake Slack + the app on loopback; `settings` override the app's settings (e.g. an Anthropic URL)."""
    async with AsyncExitStack() as stack:
        sandbox = await stack.enter_async_context(
            start_sandbox(
                client_id=ROLLOUT_CLIENT_ID,
                client_secret=ROLLOUT_CLIENT_SECRET,
                crm=SandboxCrm(accounts_per_new_subject=1),
            )
        )
        slack = await stack.enter_async_context(FakeSlackApi(bot_token=BOT_TOKEN, team_id=TEAM_ID))
        options: dict[str, Any] = {
            "_env_file": None,  # never pick up a developer's .env
            "slack_bot_token": BOT_TOKEN,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_app_token": None,
            "slack_api_url": slack.base_url,
            "anthropic_api_key": None,
            "rollout_mcp_url": sandbox.url,
            "rollout_client_id": ROLLOUT_CLIENT_ID,
            "rollout_client_secret": ROLLOUT_CLIENT_SECRET,
            "rollout_timeout_seconds": 5.0,
            "database_url": database_url,
            "encryption_key": Fernet.generate_key().decode(),
            **settings,
        }
        app_settings = load_settings(**options)
        services = await build_services(app_settings)
        slack_app = build_slack_app(app_settings, services)
        runner = web.AppRunner(build_web_app(slack_app, services), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)  # its cleanup closes the services
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        http = await stack.enter_async_context(aiohttp.ClientSession())
        yield AppHarness(slack, sandbox, services, slack_app, f"http://{host}:{port}{SLACK_PATH}", http)


@asynccontextmanager
async def for_one_test(harness: AppHarness) -> AsyncIterator[AppHarness]:
    """A shared running app, handed to one test: its call record emptied first; afterwards, even when the test failed,
    the work the test started finished and the faults it injected into the sandbox undone, so the next test starts
    clean. Every fixture that hands a shared harness to a test goes through here."""
    harness.slack.clear()
    try:
        yield harness
    finally:
        try:
            await harness.settle()
        finally:
            harness.sandbox.set_failure(None)
            harness.sandbox.set_latency(0)
            harness.slack.clear()


def block_actions(
    harness: AppHarness,
    user: SlackUser,
    action: Mapping[str, Any],
    *,
    message_ts: str = "1.1",
    ephemeral: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """A `block_actions` payload as Slack sends it for one action on a message in the harness's channel."""
    return {
        "type": "block_actions",
        "user": {"id": user.user_id, "team_id": user.team_id},
        "team": {"id": user.team_id},
        "api_app_id": APP_ID,
        "trigger_id": "1.2.3",
        "actions": [{**action, "action_ts": f"{time.time():.6f}"}],
        "container": {"type": "message", "message_ts": message_ts, "channel_id": CHANNEL_ID, "is_ephemeral": ephemeral},
        "channel": {"id": CHANNEL_ID},
        "response_url": harness.slack.new_response_url(),
        **extra,
    }


# ---- building payloads from what the app sent ----------------------------------------------------------------------


def _find_element(source: Call, action_id: str, value: str | None) -> dict[str, Any]:
    for element in source.elements():
        # Feedback buttons are one element whose two buttons carry the values.
        values = {element.get("value")} | {
            (element.get(side) or {}).get("value") for side in ("positive_button", "negative_button")
        }
        if element.get("action_id") == action_id and (value is None or value in values):
            return element
    raise AssertionError(f"no {action_id} element (value {value!r}) in {source.method}; ids: {source.action_ids}")


def _block_id_of(source: Call, element: Mapping[str, Any]) -> str:
    for index, block in enumerate(source.blocks):
        if element in (block.get("accessory"), *(block.get("elements") or ())):
            return str(block.get("block_id") or f"b{index}")
    return "b0"


def _click_context(source: Call, slack: FakeSlackApi, default_channel: str) -> dict[str, Any]:
    """container/channel/message/response_url of a click, shaped like Slack's for that kind of surface."""
    if source.method == "views.publish":
        view = source.response.get("view") or {}
        return {
            "container": {"type": "view", "view_id": view.get("id")},
            "view": {"id": view.get("id"), "hash": view.get("hash"), "type": "home", "blocks": source.blocks},
        }
    if source.method == "chat.postMessage":
        channel = str(source.response.get("channel") or source.args.get("channel"))
        ts = str(source.response.get("ts"))
        ephemeral = False
    elif source.method == "chat.stopStream":  # the streamed message it completed
        channel, ts, ephemeral = str(source.args.get("channel")), str(source.args.get("ts")), False
    else:
        channel = str(source.args.get("channel") or default_channel)
        ts = f"1700000200.{source.seq:06d}"  # response_url and ephemeral posts return no ts: make a stable one
        ephemeral = source.method == "chat.postEphemeral" or source.args.get("response_type") == "ephemeral"
    context: dict[str, Any] = {
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": ephemeral},
        "channel": {"id": channel, "name": "general"},
        "response_url": slack.new_response_url(),
    }
    if not ephemeral:
        message: dict[str, Any] = {"type": "message", "ts": ts, "text": source.text, "blocks": source.blocks}
        if source.args.get("thread_ts"):
            message["thread_ts"] = source.args["thread_ts"]
        context["message"] = message
    return context


def _state_values(view: Mapping[str, Any], values: Mapping[str, str | None]) -> dict[str, Any]:
    """view.state.values for every input block: what the modal prefilled, overridden by `values`."""
    state: dict[str, Any] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        element = block["element"]
        block_id, action_id, kind = block["block_id"], element["action_id"], element["type"]
        given = values[block_id] if block_id in values else _prefilled(element)
        entry: dict[str, Any] = {"type": kind}
        if kind == "datepicker":
            entry["selected_date"] = given
        elif kind in ("external_select", "static_select"):
            entry["selected_option"] = (
                {"value": given, "text": {"type": "plain_text", "text": "picked"}} if given else None
            )
        else:
            entry["value"] = given
        state[block_id] = {action_id: entry}
    return state


def _prefilled(element: Mapping[str, Any]) -> str | None:
    if element.get("type") == "datepicker":
        return element.get("initial_date")
    option = element.get("initial_option")
    if isinstance(option, Mapping):
        return option.get("value")
    return element.get("initial_value")
