"""A fake Anthropic Messages API on a loopback port, scripted per test: JSON and SSE answers, errors, cache accounting.

    async with FakeAnthropic() as model:
        model.script(Reply(tool_calls=(ToolCall("get_person_overview", {"query": "Ada"}),)), Reply(text="Done."))
        ...  # point ANTHROPIC_BASE_URL at model.base_url and drive the app
        assert model.requests[0].body["tools"][-1]["cache_control"] == {"type": "ephemeral"}

Every request body is recorded with the usage it was billed: input tokens are estimated (4 characters a token) per
block, and prompt caching is simulated from the request's cache_control breakpoints — a prefix ending at a breakpoint
is written on first sight and read afterwards — so a benchmark can compare tokens with and without caching.

Requests are checked the way the real API checks them (tool_use answered by tool_result first thing in the next
message, at most four breakpoints, no empty text): a malformed history gets a 400, as it would in production.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bench.fakes.server import LoopbackServer

CHARS_PER_TOKEN = 4
MAX_BREAKPOINTS = 4
LOOKBACK_BLOCKS = 20


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    input: dict[str, Any] = field(default_factory=dict)
    id: str = ""  # filled in with a fresh id when empty


@dataclass(frozen=True, slots=True)
class Reply:
    """One model response. stop_reason defaults to "tool_use" when there are tool calls, else "end_turn"."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    stop_reason: str | None = None
    hold: asyncio.Event | None = None  # answer only once this is set (wall-clock tests)
    error_mid_stream: str | None = None  # streaming only: an `error` event of this type after message_start


@dataclass(frozen=True, slots=True)
class Fail:
    """An HTTP error, e.g. Fail(429, "rate_limit_error") or Fail(529, "overloaded_error")."""

    status: int
    error_type: str
    message: str = "scripted failure"
    retry_after_ms: int | None = 1  # the SDK honours retry-after-ms: keeps retried tests fast


Scripted = Reply | Fail | Callable[[dict[str, Any]], "Reply | Fail"]


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    output_tokens: int

    @property
    def total_input(self) -> int:
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    def as_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "output_tokens": self.output_tokens,
        }


@dataclass(frozen=True, slots=True)
class Recorded:
    body: dict[str, Any]
    status: int
    usage: Usage | None  # None for refused or failed requests
    at: float  # event-loop time it arrived, for tests about concurrency

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def tool_names(self) -> list[str]:
        return [t.get("name", "") for t in self.body.get("tools") or []]

    def tool_results(self) -> list[dict[str, Any]]:
        """tool_result blocks of the last message (what the previous step's tools returned)."""
        last = self.messages[-1] if self.messages else {}
        found = last.get("content")
        content: list[Any] = found if isinstance(found, list) else []
        return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]

    def text(self) -> str:
        return json.dumps(self.body, ensure_ascii=False)


class FakeAnthropic(LoopbackServer):
    label = "fake Anthropic API"

    def __init__(
        self, *, api_key: str = "sk-ant-test", host: str = "127.0.0.1", min_cacheable_tokens: int = 1024
    ) -> None:
        super().__init__(host)
        self.api_key = api_key
        self._min_cacheable = min_cacheable_tokens
        self._script: deque[Scripted] = deque()
        self._cached_prefixes: set[str] = set()
        self._recorded: list[Recorded] = []
        self._changed = asyncio.Condition()
        self._ids = itertools.count(1)
        self._holds: set[asyncio.Event] = set()

    # ---- lifecycle ---------------------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._messages)

    async def close(self) -> None:
        for hold in self._holds:  # a held answer must not keep the server's shutdown waiting
            hold.set()
        await super().close()

    @property
    def base_url(self) -> str:
        return self.origin

    # ---- scripting and observing -------------------------------------------------------------------------------

    def script(self, *items: Scripted) -> None:
        """Queue responses, answered in order. A callable gets the request body and returns the response."""
        self._script.extend(items)

    @property
    def unused(self) -> int:
        return len(self._script)

    @property
    def requests(self) -> list[Recorded]:
        return list(self._recorded)

    def total_usage(self) -> Usage:
        answered = [r.usage for r in self._recorded if r.usage is not None]
        return Usage(
            sum(u.input_tokens for u in answered),
            sum(u.cache_creation_input_tokens for u in answered),
            sum(u.cache_read_input_tokens for u in answered),
            sum(u.output_tokens for u in answered),
        )

    def reset(self) -> None:
        self._script.clear()
        self._recorded.clear()
        self._cached_prefixes.clear()

    async def wait_for_requests(self, count: int, *, within: float = 5.0) -> list[Recorded]:
        async with self._changed:
            async with asyncio.timeout(within):
                await self._changed.wait_for(lambda: len(self._recorded) >= count)
            return list(self._recorded)

    # ---- HTTP --------------------------------------------------------------------------------------------------

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        if self.api_key not in (request.headers.get("x-api-key"), _bearer(request.headers.get("Authorization", ""))):
            return await self._refuse(request, {}, 401, "authentication_error", "invalid x-api-key")
        try:
            body = await request.json()
        except ValueError:
            return await self._refuse(request, {}, 400, "invalid_request_error", "body is not JSON")
        problem = validate(body)
        if problem is not None:
            return await self._refuse(request, body, 400, "invalid_request_error", problem)
        if not self._script:
            return await self._refuse(request, body, 500, "api_error", "fake: no scripted response left")
        item = self._script.popleft()
        scripted = item(body) if callable(item) else item
        if isinstance(scripted, Fail):
            headers = {"retry-after-ms": str(scripted.retry_after_ms)} if scripted.retry_after_ms is not None else {}
            return await self._refuse(request, body, scripted.status, scripted.error_type, scripted.message, headers)
        content = self._content(scripted)
        stop_reason = scripted.stop_reason or ("tool_use" if scripted.tool_calls else "end_turn")
        usage = self._bill(body, content)
        await self._record(Recorded(body, 200, usage, _now()))
        if scripted.hold is not None:
            self._holds.add(scripted.hold)
            await scripted.hold.wait()
        message = {
            "id": f"msg_fake_{next(self._ids)}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "fake"),
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage.as_dict(),
        }
        if body.get("stream"):
            return await self._stream(request, message, scripted.error_mid_stream)
        return web.json_response(message)

    async def _refuse(
        self,
        request: web.Request,
        body: dict[str, Any],
        status: int,
        error_type: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        await self._record(Recorded(body, status, None, _now()))
        payload = {"type": "error", "error": {"type": error_type, "message": message}}
        return web.json_response(payload, status=status, headers=headers)

    async def _stream(self, request: web.Request, message: dict[str, Any], error: str | None) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)

        async def send(event: str, data: dict[str, Any]) -> None:
            await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())

        usage = message["usage"]
        start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
        await send("message_start", {"type": "message_start", "message": start})
        if error is not None:
            await send("error", {"type": "error", "error": {"type": error, "message": "scripted stream error"}})
            await response.write_eof()
            return response
        await send("ping", {"type": "ping"})
        for index, block in enumerate(message["content"]):
            if block["type"] == "text":
                await send("content_block_start", _block_start(index, {"type": "text", "text": ""}))
                for piece in _pieces(block["text"]):
                    await send("content_block_delta", _delta(index, {"type": "text_delta", "text": piece}))
            else:
                opening = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
                await send("content_block_start", _block_start(index, opening))
                for piece in _pieces(json.dumps(block["input"])):
                    await send(
                        "content_block_delta", _delta(index, {"type": "input_json_delta", "partial_json": piece})
                    )
            await send("content_block_stop", {"type": "content_block_stop", "index": index})
        delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
        await send("message_delta", {"type": "message_delta", "delta": delta, "usage": usage})
        await send("message_stop", {"type": "message_stop"})
        await response.write_eof()
        return response

    async def _record(self, recorded: Recorded) -> None:
        async with self._changed:
            self._recorded.append(recorded)
            self._changed.notify_all()

    def _content(self, reply: Reply) -> list[dict[str, Any]]:
        content: list[dict[str, Any]] = []
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        for call in reply.tool_calls:
            call_id = call.id or f"toolu_fake_{next(self._ids)}"
            content.append({"type": "tool_use", "id": call_id, "name": call.name, "input": call.input})
        return content

    # ---- token accounting ----------------------------------------------------------------------------------------

    def _bill(self, body: dict[str, Any], content: list[dict[str, Any]]) -> Usage:
        """Tokens of each prompt block in order (tools, system, messages); a breakpoint caches the prefix up to it.

        Like the real API, a breakpoint also finds a prefix cached earlier at any of the 20 block boundaries before
        it, so a conversation whose breakpoint moved on still reads what the previous request wrote.
        """
        digest = hashlib.sha256(str(body.get("model")).encode())
        position = 0
        boundaries: list[tuple[int, str]] = []  # after each block: (tokens so far, prefix digest)
        marked: list[int] = []  # indexes of blocks with a breakpoint
        for block in _prompt_blocks(body):
            unmarked = {k: v for k, v in block.items() if k != "cache_control"} if isinstance(block, dict) else block
            text = json.dumps(unmarked, sort_keys=True, ensure_ascii=False)
            digest.update(text.encode())
            position += _tokens(text)
            if isinstance(block, dict) and "cache_control" in block:
                marked.append(len(boundaries))
            boundaries.append((position, digest.copy().hexdigest()))
        read = 0
        for index in marked:
            for tokens, key in reversed(boundaries[max(0, index - LOOKBACK_BLOCKS) : index + 1]):
                if key in self._cached_prefixes:
                    read = max(read, tokens)
                    break
        cacheable = [boundaries[i] for i in marked if boundaries[i][0] >= self._min_cacheable]
        written_up_to = max((tokens for tokens, _ in cacheable), default=0)
        created = max(0, written_up_to - read)
        self._cached_prefixes.update(key for _, key in cacheable)
        output = sum(_tokens(json.dumps(b, ensure_ascii=False)) for b in content) or 1
        return Usage(position - read - created, created, read, output)


# ---- request checks ----------------------------------------------------------------------------------------------


def validate(body: dict[str, Any]) -> str | None:
    """Why the real API would refuse this body, or None."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    if not isinstance(body.get("max_tokens"), int) or not body.get("model"):
        return "model and max_tokens are required"
    if messages[0].get("role") != "user":
        return "messages: the first message must use the user role"
    if (
        sum(1 for block in _prompt_blocks(body) if isinstance(block, dict) and "cache_control" in block)
        > MAX_BREAKPOINTS
    ):
        return f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided"
    expected: list[str] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if role not in ("user", "assistant"):
            return f"messages.{index}.role: unexpected role {role!r}"
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(blocks, list) or not blocks:
            return f"messages.{index}: content must not be empty"
        for block in blocks:
            if block.get("type") == "text" and not str(block.get("text", "")).strip():
                return f"messages.{index}: text content blocks must be non-empty"
        if expected:
            leading = list(itertools.takewhile(lambda b: b.get("type") == "tool_result", blocks))
            answered = {b.get("tool_use_id") for b in leading}
            if role != "user" or set(expected) - answered:
                return f"messages.{index}: tool_use ids {expected} need tool_result blocks first in the next message"
        results = [b for b in blocks if b.get("type") == "tool_result"]
        if results and (set(b.get("tool_use_id") for b in results) - set(expected)):
            return f"messages.{index}: tool_result without a matching tool_use in the previous message"
        expected = [b["id"] for b in blocks if b.get("type") == "tool_use"] if role == "assistant" else []
    if expected:
        return "the final assistant message has tool_use blocks without results"
    return None


def _prompt_blocks(body: dict[str, Any]) -> list[Any]:
    blocks: list[Any] = list(body.get("tools") or [])
    system = body.get("system")
    blocks += [{"type": "text", "text": system}] if isinstance(system, str) else list(system or [])
    for message in body.get("messages") or []:
        content = message.get("content")
        blocks += [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
    return blocks


def _bearer(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _now() -> float:
    return asyncio.get_running_loop().time()


def _tokens(text: str) -> int:
    return max(1, len(text) // CHARS_PER_TOKEN)


def _pieces(text: str, size: int = 24) -> Sequence[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def _delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}
