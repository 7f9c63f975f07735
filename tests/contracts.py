"""A Rollout-like MCP server with a contract a test writes: its own tool names, annotations and result shapes.

The real Rollout documents none of these, so the bot is tested against plausible alternatives: a destructive tool named
like a read and listed first, no annotations at all, the credentials link in a normal result, errors that echo the
query, an overview shape the parser has never seen. Every call is recorded, so a test can say what was (not) run.
"""

from __future__ import annotations

import contextlib
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.sandbox.server import _bind, _uvicorn  # the sandbox's loopback serving, reused as is

# A handler may be a coroutine function: it can then wait, e.g. for the client to drop while its answer is pending.
Handler = Callable[[dict[str, Any]], types.CallToolResult | Awaitable[types.CallToolResult]]
# Changes a JSON-RPC result on its way out, after the SDK built it: (method, result) -> the result sent instead.
Rewrite = Callable[[str, dict[str, Any]], dict[str, Any]]

READ = types.ToolAnnotations(read_only_hint=True)
WRITE = types.ToolAnnotations(read_only_hint=False, destructive_hint=False)
DESTRUCTIVE = types.ToolAnnotations(read_only_hint=False, destructive_hint=True)

ADA = {"id": "p-ada", "name": "Ada Lovelace", "email": "ada@example.com", "company": "Analytical Engines"}


def result(payload: Mapping[str, Any] | str, *, error: bool = False) -> types.CallToolResult:
    """A tool answer as Rollout-like servers send it: JSON (or prose) text, optionally marked as an error."""
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=error)


def schema(*properties: str) -> dict[str, Any]:
    return {"type": "object", "properties": {name: {"type": "string"} for name in properties}}


@dataclass
class ContractTool:
    name: str
    handler: Handler
    properties: tuple[str, ...] = ()
    annotations: types.ToolAnnotations | None = None
    description: str = ""
    output_schema: dict[str, Any] | None = None

    def listed(self) -> types.Tool:
        return types.Tool(
            name=self.name,
            description=self.description or self.name.replace("_", " "),
            input_schema=schema(*self.properties),
            output_schema=self.output_schema,
            annotations=self.annotations,
        )


@dataclass
class ContractServer:
    url: str
    tools: list[ContractTool]
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def called(self, name: str) -> list[dict[str, Any]]:
        return [arguments for called, arguments in self.calls if called == name]


def standard_tools(**replacing: Handler) -> list[ContractTool]:
    """Rollout's five tools with answers about one person, Ada; `replacing` swaps a handler by tool name."""
    handlers: dict[str, Handler] = {
        "list_credentials": lambda _: result({"credentials": [{"id": "cred-1", "appKey": "hubspot", "label": "Acme"}]}),
        "get_person_overview": lambda _: result({"person": ADA, "notes": [], "tasks": []}),
        "create_person": lambda args: result({"person": {**ADA, "email": args.get("email")}}),
        "create_note": lambda args: result({"note": {"id": "n-1", "content": args.get("content")}}),
        "create_task": lambda args: result({"task": {"id": "t-1", "title": args.get("title")}}),
        **replacing,
    }
    return [
        ContractTool("list_credentials", handlers["list_credentials"], (), READ),
        ContractTool(
            "get_person_overview",
            handlers["get_person_overview"],
            ("credentialId", "personId", "email", "query"),
            READ,
        ),
        ContractTool(
            "create_person", handlers["create_person"], ("credentialId", "firstName", "lastName", "email"), WRITE
        ),
        ContractTool("create_note", handlers["create_note"], ("credentialId", "personId", "content"), WRITE),
        ContractTool("create_task", handlers["create_task"], ("credentialId", "personId", "title", "dueDate"), WRITE),
    ]


@contextlib.asynccontextmanager
async def serve_contract(tools: list[ContractTool], *, rewrite: Rewrite | None = None) -> AsyncIterator[ContractServer]:
    """Serve `tools` over Streamable HTTP on a loopback port until the block exits. Bearer tokens are not checked.

    `rewrite` changes results as they leave, for answers the SDK's server would never send (e.g. no `resultType`).
    """
    listener = _bind("127.0.0.1", 0)
    port = listener.getsockname()[1]
    served = ContractServer(f"http://127.0.0.1:{port}/mcp", tools)

    async def list_tools(_ctx: Any, _params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[t.listed() for t in served.tools])

    async def call_tool(_ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        arguments = dict(params.arguments or {})
        served.calls.append((params.name, arguments))
        tool = next((t for t in served.tools if t.name == params.name), None)
        if tool is None:
            return result({"error": "unknown_tool", "message": f"No tool {params.name}"}, error=True)
        answer = tool.handler(arguments)
        return await answer if inspect.isawaitable(answer) else answer

    server: Server[Any] = Server("rollout-contract", on_list_tools=list_tools, on_call_tool=call_tool)
    guard = TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=["127.0.0.1:*"], allowed_origins=["http://127.0.0.1:*"]
    )
    app = server.streamable_http_app(transport_security=guard)
    if rewrite is not None:
        app.add_middleware(_RewriteResults, rewrite=rewrite)
    async with _uvicorn(app, listener, handle_signals=False):
        yield served


class _RewriteResults:
    """Passes each POST's answer (JSON or an event stream) through `rewrite`; the answer is buffered to do so."""

    def __init__(self, app: ASGIApp, *, rewrite: Rewrite) -> None:
        self._app = app
        self._rewrite = rewrite

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        sent_body = False

        async def replay() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        request = json.loads(body)
        method = request.get("method", "") if isinstance(request, dict) else ""
        start: Message | None = None
        answer = b""

        async def capture(message: Message) -> None:
            nonlocal start, answer
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                answer += message.get("body", b"")

        await self._app(scope, replay, capture)
        assert start is not None
        answer = self._rewritten(method, answer)
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(answer)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": answer, "more_body": False})

    def _rewritten(self, method: str, answer: bytes) -> bytes:
        def one(raw: str) -> str:
            frame = json.loads(raw)
            if isinstance(frame, dict) and isinstance(frame.get("result"), dict):
                frame["result"] = self._rewrite(method, frame["result"])
            return json.dumps(frame)

        text = answer.decode()
        if text.lstrip().startswith("{"):
            return one(text).encode()
        lines = [f"data: {one(line[6:])}" if line.startswith("data: {") else line for line in text.split("\n")]
        return "\n".join(lines).encode()
