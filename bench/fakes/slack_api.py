"""A fake Slack Web API on a loopback port: answers the methods the app calls and records every call, in order.

Point the app's web client at `base_url` (SLACK_API_URL). Interaction payloads a test sends can carry a URL from
`new_response_url()`; whatever the app posts there is recorded as a call to the method "response_url".

    async with FakeSlackApi(bot_token="xoxb-test") as slack:
        ...  # drive the app
        card = await slack.wait_for("chat.postMessage", lambda call: "Ada" in call.text)

Waiting uses an asyncio condition, never sleeps. `fail_next` injects rate limits, server errors and Slack errors.
Streamed messages (chat.startStream / appendStream / stopStream) keep their chunks: `stream_text(ts)`. Threads for
conversations.replies (cursor pagination, `oldest`) are set up with `add_thread`.
With `scopes=`, answers to calls with the right token carry Slack's `x-oauth-scopes` header (the token's granted
scopes, comma-separated), which `rollout-bot doctor` compares with manifest.yml.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bench.fakes.server import LoopbackServer

RESPONSE_URL_METHOD = "response_url"

# Arguments Slack takes as JSON even inside form-encoded bodies.
_JSON_ARGS = frozenset({"blocks", "view", "attachments", "prompts", "metadata", "chunks", "loading_messages"})
_REQUIRED: dict[str, tuple[str, ...]] = {
    "chat.postMessage": ("channel",),
    "chat.postEphemeral": ("channel", "user"),
    "chat.update": ("channel", "ts"),
    "chat.getPermalink": ("channel", "message_ts"),
    "conversations.open": ("users",),
    "views.open": ("trigger_id", "view"),
    "views.push": ("trigger_id", "view"),
    "views.update": ("view",),
    "views.publish": ("user_id", "view"),
    "users.info": ("user",),
    "assistant.threads.setStatus": ("channel_id", "thread_ts", "status"),
    "assistant.threads.setSuggestedPrompts": ("channel_id", "prompts"),  # no thread_ts in the Agent view
    "assistant.threads.setTitle": ("channel_id", "thread_ts", "title"),
    "chat.startStream": ("channel", "thread_ts"),
    "chat.appendStream": ("channel", "ts"),
    "chat.stopStream": ("channel", "ts"),
    "conversations.replies": ("channel", "ts"),
    "conversations.info": ("channel",),
}
REPLIES_PAGE_LIMIT = 1000  # Slack's largest `limit` for conversations.replies
_MESSAGE_BLOCKS = 50
_VIEW_BLOCKS = 100


@dataclass(frozen=True, slots=True)
class Call:
    """One request the app made. `args` are parsed: JSON-valued arguments (blocks, view, ...) are decoded."""

    seq: int
    method: str
    args: dict[str, Any]
    ok: bool
    status: int
    response: dict[str, Any]  # what the fake answered, e.g. the id it gave a view or the ts of a message
    connection: str = ""  # the app's end of the TCP connection ("host:port"): equal for requests sharing one
    token: str | None = None  # the token the call was made with (which workspace's bot), never part of `args`

    @property
    def text(self) -> str:
        return str(self.args.get("text") or "")

    @property
    def view(self) -> dict[str, Any]:
        view = self.args.get("view")
        return view if isinstance(view, dict) else {}

    @property
    def blocks(self) -> list[dict[str, Any]]:
        blocks = self.view.get("blocks") if self.view else self.args.get("blocks")
        return blocks if isinstance(blocks, list) else []

    def contains(self, needle: str) -> bool:
        """Whether `needle` appears anywhere in what was sent (text, blocks, urls, metadata)."""
        return needle in json.dumps(self.args, ensure_ascii=False)

    def elements(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every interactive element (buttons, selects, inputs...) in the blocks, optionally of one type."""
        return [e for e in _walk(self.blocks) if "action_id" in e and (kind is None or e.get("type") == kind)]

    @property
    def action_ids(self) -> list[str]:
        return [str(e["action_id"]) for e in self.elements()]

    def button(self, action_id: str) -> dict[str, Any]:
        """The first button with this action_id; AssertionError when there is none."""
        for element in self.elements("button"):
            if element.get("action_id") == action_id:
                return element
        raise AssertionError(f"no {action_id} button in {self.method} call; action ids: {self.action_ids}")


_CHUNK_TYPES = frozenset({"markdown_text", "task_update", "plan_update", "blocks"})


@dataclass(slots=True)
class _Stream:
    channel: str
    chunks: list[dict[str, Any]]
    stopped: bool = False
    blocks: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class _Fault:
    status: int
    error: str
    retry_after: int | None


class FakeSlackApi(LoopbackServer):
    label = "fake Slack API"

    def __init__(
        self,
        *,
        bot_token: str | None = None,
        team_id: str = "T0FAKE",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        scopes: Iterable[str] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host)
        self.team_id = team_id
        # Slack gives apps distributed outside the Marketplace 15 messages a page (and a request a minute).
        self.replies_page_limit = REPLIES_PAGE_LIMIT
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        # Granted scopes, sent as `x-oauth-scopes` like Slack does; None sends no header. Tests may reassign it.
        self.scopes: tuple[str, ...] | None = None if scopes is None else tuple(scopes)
        self._bot_token = bot_token
        self._calls: list[Call] = []
        self._changed = asyncio.Condition()
        self._faults: dict[str, deque[_Fault]] = defaultdict(deque)
        self._views: dict[str, dict[str, Any]] = {}
        self._counter = itertools.count(1)
        self._streams: dict[str, _Stream] = {}
        # conversations.info: names by channel id (else "channel-<id>"); hidden ones answer channel_not_found; those in
        # ext_shared_channels are externally shared.
        self.channel_names: dict[str, str] = {}
        self.hidden_channels: set[str] = set()
        self.ext_shared_channels: set[str] = set()  # Slack Connect: people from other organisations are in them
        self.time_zones: dict[str, str] = {}  # users.info's `tz` by user id (else UTC)
        self._threads: dict[tuple[str, str], list[dict[str, Any]]] = {}
        # OAuth installs: codes waiting for oauth.v2.access, and the bot tokens it issued (token → team id).
        self._codes: dict[str, dict[str, Any]] = {}
        self.issued_tokens: dict[str, str] = {}
        self.token_lifetime: int | None = 43200  # expires_in of issued tokens (rotation on); None: no rotation

    # ---- lifecycle ---------------------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response_url/{hook}", self._response_url)

    @property
    def base_url(self) -> str:
        """What SLACK_API_URL should be: the web client appends the method name."""
        return f"{self.origin}/api/"

    def new_response_url(self) -> str:
        return f"{self.origin}/response_url/{uuid.uuid4().hex}"

    @staticmethod
    def dm_channel(user_id: str) -> str:
        """The id conversations.open returns for the bot's DM with `user_id`."""
        return f"D{user_id}"

    # ---- what the app did --------------------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        return list(self._calls)

    def calls_to(self, method: str, *, since: int = 0) -> list[Call]:
        return [call for call in self._calls[since:] if call.method == method]

    def mark(self) -> int:
        """A position in the call history, for `since=`: only calls recorded after it are considered."""
        return len(self._calls)

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        *,
        since: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109 - a test's one-liner reads better than an asyncio.timeout block
    ) -> Call:
        """The first call (after `since`) to `method` that satisfies `predicate`, waiting up to `timeout` for it."""

        def matches(call: Call) -> bool:
            return call.method == method and (predicate is None or predicate(call))

        return await self._first(matches, since, timeout, f"matching {method} call")

    async def wait_for_answer(self, needle: str, *, since: int = 0, timeout: float = 5.0) -> Call:  # noqa: ASYNC109
        """The call that completed a message showing `needle`: a stream's chat.stopStream, or a chat.update."""

        def shows(call: Call) -> bool:
            if call.method == "chat.stopStream":
                return call.ok and needle in self.stream_text(str(call.args.get("ts")))
            return call.method == "chat.update" and call.contains(needle)

        return await self._first(shows, since, timeout, f"answer showing {needle!r}")

    async def _first(self, matches: Callable[[Call], bool], since: int, within: float, what: str) -> Call:
        """The first recorded call after `since` that `matches`, waiting up to `within` seconds for it to arrive."""

        def first() -> Call | None:
            return next((c for c in self._calls[since:] if matches(c)), None)

        async with self._changed:
            try:
                async with asyncio.timeout(within):
                    await self._changed.wait_for(lambda: first() is not None)
            except TimeoutError:
                seen = ", ".join(c.method for c in self._calls[since:]) or "none"
                raise AssertionError(f"no {what} within {within}s (calls: {seen})") from None
            found = first()
        assert found is not None
        return found

    def fail_next(
        self, method: str, *, status: int = 429, retry_after: int | None = 1, error: str | None = None
    ) -> None:
        """Make the next call to `method` fail: 429 (with Retry-After), a 5xx, or status 200 with `ok: false`."""
        default_error = {429: "ratelimited", 200: "internal_error"}.get(status, "fatal_error")
        self._faults[method].append(_Fault(status, error or default_error, retry_after if status == 429 else None))

    def oauth_code(
        self, team_id: str | None, user_id: str, *, enterprise_id: str | None = None, org_wide: bool = False
    ) -> str:
        """A code Slack would put on the OAuth redirect after `user_id` installed the app in `team_id` (or, org-wide,
        in every workspace of the Enterprise Grid organisation `enterprise_id`)."""
        code = f"code-{uuid.uuid4().hex[:12]}"
        grant = {"team_id": None if org_wide else team_id, "user_id": user_id, "enterprise_id": enterprise_id}
        self._codes[code] = {**grant, "org_wide": org_wide}
        return code

    def _oauth_access(self, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("grant_type") == "refresh_token":
            team_id = self.issued_tokens.get(f"refresh:{args.get('refresh_token')}")
            if team_id is None:
                return {"ok": False, "error": "invalid_refresh_token"}
            grant: dict[str, Any] | None = {
                "team_id": team_id,
                "user_id": None,
                "enterprise_id": None,
                "org_wide": False,
            }
        else:
            grant = self._codes.pop(str(args.get("code")), None)
        if grant is None:
            return {"ok": False, "error": "invalid_code"}
        owner = grant["team_id"] or grant["enterprise_id"]
        token = f"xoxb-{owner}-{uuid.uuid4().hex[:12]}"
        self.issued_tokens[token] = owner
        answer: dict[str, Any] = {
            "ok": True,
            "app_id": "A0FAKE",
            "authed_user": {"id": grant["user_id"]},
            "scope": ",".join(self.scopes or ("commands", "chat:write")),
            "token_type": "bot",
            "access_token": token,
            "bot_user_id": self.bot_user_id,
            "team": {"id": grant["team_id"], "name": f"Workspace {grant['team_id']}"} if grant["team_id"] else None,
            "enterprise": {"id": grant["enterprise_id"], "name": "Org"} if grant["enterprise_id"] else None,
            "is_enterprise_install": grant["org_wide"],
        }
        if self.token_lifetime is not None:
            refresh = f"xoxe-1-{uuid.uuid4().hex}"
            self.issued_tokens[f"refresh:{refresh}"] = owner
            answer |= {"refresh_token": refresh, "expires_in": self.token_lifetime}
        return answer

    def clear(self) -> None:
        """Forget recorded calls, pending faults, streams and threads (between tests sharing one fake)."""
        self._calls.clear()
        self._faults.clear()
        self._streams.clear()
        self._threads.clear()

    # ---- streamed messages -------------------------------------------------------------------------------------

    def stream_chunks(self, ts: str) -> list[dict[str, Any]]:
        """Every chunk the streamed message `ts` received, in order (startStream, appendStream…, stopStream)."""
        stream = self._streams.get(ts)
        return list(stream.chunks) if stream else []

    def stream_text(self, ts: str) -> str:
        """The Markdown the streamed message `ts` shows: its markdown_text chunks (and markdown_text args) joined."""
        return "".join(str(c.get("text") or "") for c in self.stream_chunks(ts) if c.get("type") == "markdown_text")

    def stream_stopped(self, ts: str) -> bool:
        stream = self._streams.get(ts)
        return bool(stream and stream.stopped)

    # ---- threads people wrote ----------------------------------------------------------------------------------

    def add_thread(self, channel: str, messages: Iterable[dict[str, Any]]) -> str:
        """A thread in `channel` for conversations.replies: its first message is the parent; returns the thread ts.

        Each message needs at least `text`; `ts` (ascending), `user`, `bot_id`, `subtype`, `team` are as Slack sends.
        """
        stored = []
        for message in messages:
            entry = {"type": "message", **message}
            entry.setdefault("ts", self._next_ts())
            stored.append(entry)
        thread_ts = str(stored[0]["ts"])
        for entry in stored:
            entry["thread_ts"] = thread_ts
        self._threads[(channel, thread_ts)] = stored
        return thread_ts

    def add_replies(self, channel: str, thread_ts: str, messages: Iterable[dict[str, Any]]) -> None:
        """More replies in a thread made with add_thread."""
        for message in messages:
            entry = {"type": "message", "thread_ts": thread_ts, **message}
            entry.setdefault("ts", self._next_ts())
            self._threads[(channel, thread_ts)].append(entry)

    # ---- HTTP --------------------------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _read_args(request)
        token = args.pop("token", None) or _bearer(request.headers.get("Authorization", ""))
        if method == "auth.test" and token in self.issued_tokens:
            args["_team"] = self.issued_tokens[token]  # an installed workspace's token: auth.test names that workspace
        fault = self._take_fault(method)
        headers: dict[str, str] = {}
        if fault is not None:
            status, body = fault.status, {"ok": False, "error": fault.error}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
        elif method == "oauth.v2.access":  # authenticated by the app's client id and secret, not a token
            status, body = 200, self._oauth_access(args)
        elif self._bot_token is not None and token != self._bot_token and token not in self.issued_tokens:
            status, body = 200, {"ok": False, "error": "invalid_auth"}
        else:
            status, body = 200, self._answer(method, args)
            if self.scopes is not None:  # Slack reports the scopes of any token it accepted
                headers["x-oauth-scopes"] = ",".join(self.scopes)
        await self._record(method, args, body, status=status, request=request, token=token)
        return web.json_response(body, status=status, headers=headers or None)

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        args = body if isinstance(body, dict) else {"body": body}
        args["response_url_id"] = request.match_info["hook"]
        fault = self._take_fault(RESPONSE_URL_METHOD)
        if fault is not None:
            failed = {"ok": False, "error": fault.error}
            await self._record(RESPONSE_URL_METHOD, args, failed, status=fault.status, request=request)
            return web.Response(status=fault.status, text=fault.error)
        await self._record(RESPONSE_URL_METHOD, args, {"ok": True}, status=200, request=request)
        return web.Response(text="ok")

    def _take_fault(self, method: str) -> _Fault | None:
        pending = self._faults.get(method)
        return pending.popleft() if pending else None

    async def _record(
        self,
        method: str,
        args: dict[str, Any],
        response: dict[str, Any],
        *,
        status: int,
        request: web.Request,
        token: str | None = None,
    ) -> None:
        ok = status == 200 and response.get("ok") is True
        peer = request.transport.get_extra_info("peername") if request.transport is not None else None
        connection = f"{peer[0]}:{peer[1]}" if peer else ""
        async with self._changed:
            self._calls.append(Call(len(self._calls) + 1, method, args, ok, status, response, connection, token))
            self._changed.notify_all()

    # ---- answers -----------------------------------------------------------------------------------------------

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        missing = [name for name in _REQUIRED.get(method, ()) if not args.get(name)]
        if missing:
            return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": missing}}
        match method:
            case "auth.test":
                return {
                    "ok": True,
                    "url": "https://fake.slack.test/",
                    "team": "Fake workspace",
                    "user": "rollout",
                    "team_id": args.pop("_team", self.team_id),
                    "user_id": self.bot_user_id,
                    "bot_id": self.bot_id,
                    "is_enterprise_install": False,
                }
            case "chat.postMessage":
                return self._post_message(args)
            case "chat.postEphemeral":
                return {"ok": True, "message_ts": self._next_ts()}
            case "chat.update":
                return {"ok": True, "channel": args["channel"], "ts": args["ts"], "text": args.get("text", "")}
            case "chat.getPermalink":
                channel, ts = args["channel"], str(args["message_ts"])
                permalink = f"https://fake.slack.test/archives/{channel}/p{ts.replace('.', '')}"
                return {"ok": True, "channel": channel, "permalink": permalink}
            case "conversations.open":
                return {"ok": True, "channel": {"id": self.dm_channel(str(args["users"]).split(",")[0])}}
            case "views.open" | "views.push" | "views.update" | "views.publish":
                return self._view(method, args)
            case "users.info":
                user = _user(str(args["user"]), self.team_id)
                user["tz"] = self.time_zones.get(user["id"], user["tz"])
                return {"ok": True, "user": user}
            case "assistant.threads.setStatus" | "assistant.threads.setSuggestedPrompts" | "assistant.threads.setTitle":
                return {"ok": True}
            case "chat.startStream" | "chat.appendStream" | "chat.stopStream":
                return self._stream(method, args)
            case "conversations.replies":
                return self._replies(args)
            case "conversations.info":
                channel = str(args["channel"])
                if channel in self.hidden_channels:
                    return {"ok": False, "error": "channel_not_found"}
                name = self.channel_names.get(channel, f"channel-{channel.lower()}")
                shared = channel in self.ext_shared_channels
                return {
                    "ok": True,
                    "channel": {"id": channel, "name": name, "is_member": True, "is_ext_shared": shared},
                }
            case _:
                return {"ok": False, "error": "unknown_method"}

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        blocks = args.get("blocks")
        if not args.get("text") and not blocks:
            return {"ok": False, "error": "no_text"}
        if isinstance(blocks, list) and len(blocks) > _MESSAGE_BLOCKS:
            return {"ok": False, "error": "invalid_blocks"}
        channel = str(args["channel"])
        if channel[:1] in ("U", "W"):  # posting to a user id lands in the bot's DM with them
            channel = self.dm_channel(channel)
        ts = self._next_ts()
        message = {"type": "message", "text": args.get("text", ""), "ts": ts, "bot_id": self.bot_id}
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _view(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        view = args["view"]
        if not isinstance(view, dict) or len(view.get("blocks") or []) > _VIEW_BLOCKS:
            return {"ok": False, "error": "invalid_arguments"}
        expected_type = "home" if method == "views.publish" else "modal"
        if view.get("type") != expected_type:
            return {"ok": False, "error": "invalid_arguments"}
        if method == "views.update":
            view_id = args.get("view_id")
            if view_id not in self._views:
                return {"ok": False, "error": "not_found"}
        else:
            view_id = f"V{next(self._counter):08d}"
        stored = {
            **view,
            "id": view_id,
            "team_id": self.team_id,
            "hash": uuid.uuid4().hex,
            "state": {"values": {}},
        }
        self._views[str(view_id)] = stored
        return {"ok": True, "view": stored}

    def _stream(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        chunks = list(args.get("chunks") or [])
        if args.get("markdown_text"):
            chunks.insert(0, {"type": "markdown_text", "text": args["markdown_text"]})
        if any(not isinstance(c, dict) or c.get("type") not in _CHUNK_TYPES for c in chunks):
            return {"ok": False, "error": "invalid_chunks"}
        if method == "chat.startStream":
            ts = self._next_ts()
            self._streams[ts] = _Stream(str(args["channel"]), chunks)
            return {"ok": True, "channel": args["channel"], "ts": ts}
        stream = self._streams.get(str(args["ts"]))
        if stream is None or stream.channel != args["channel"]:
            return {"ok": False, "error": "message_not_found"}
        if stream.stopped:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        stream.chunks.extend(chunks)
        if method == "chat.stopStream":
            stream.stopped = True
            stream.blocks = list(args.get("blocks") or [])
        return {"ok": True, "channel": args["channel"], "ts": args["ts"]}

    def _replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """One page of a thread, oldest first, with Slack's cursor pagination."""
        thread = self._threads.get((str(args["channel"]), str(args["ts"])))
        if thread is None:
            return {"ok": False, "error": "thread_not_found"}
        limit = min(int(args.get("limit") or 1000), self.replies_page_limit)
        oldest = float(args.get("oldest") or 0)
        start = int(args.get("cursor") or 0)
        matching = [m for m in thread if float(m["ts"]) >= oldest or m["ts"] == thread[0]["ts"]]
        page = matching[start : start + limit]
        # As Slack does, the parent says how many replies the thread has.
        page = [{**m, "reply_count": len(thread) - 1} if m is thread[0] else m for m in page]
        more = start + limit < len(matching)
        metadata = {"next_cursor": str(start + limit) if more else ""}
        return {"ok": True, "messages": page, "has_more": more, "response_metadata": metadata}

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._counter):06d}"


async def _read_args(request: web.Request) -> dict[str, Any]:
    args: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                args.update(body)
        else:
            args.update(await request.post())
    for name in _JSON_ARGS & args.keys():
        if isinstance(args[name], str):
            with contextlib.suppress(ValueError):  # left as sent: the test sees the raw string
                args[name] = json.loads(args[name])
    return args


def _bearer(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _user(user_id: str, team_id: str) -> dict[str, Any]:
    name = f"user-{user_id.lower()}"
    return {
        "id": user_id,
        "team_id": team_id,
        "name": name,
        "real_name": f"User {user_id}",
        "tz": "UTC",
        "tz_offset": 0,
        "is_bot": False,
        "profile": {"display_name": name, "real_name": f"User {user_id}", "email": f"{name}@example.com"},
    }


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)
