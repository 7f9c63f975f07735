"""The agent: a bounded tool loop over the user's Rollout tools, with thread memory and approvals for writes.

One turn: load the thread, add the user's words, then up to `max_steps` model calls within `timeout_seconds`. Tool
calls of one response run concurrently; reads run at once, a write is parked behind an approval card. The turn is
persisted when it ends, however it ends, so the thread stays a valid conversation for the next turn or process.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import anthropic
import mcp_types as types

from bot import metrics, work
from bot.agent.approvals import ApprovalDesk
from bot.agent.budget import TokenBudget
from bot.agent.conversation import ONE_AT_A_TIME, ConversationLocks, closing_results, pending_marker, resolution
from bot.agent.history import CHARS_PER_TOKEN, Block, Message, for_request, text_of, tool_result
from bot.agent.model import ModelClient
from bot.agent.prompt import SYSTEM_PROMPT, system_blocks
from bot.agent.results import (
    CredentialProblem,
    Decided,
    EarlyStop,
    PendingApproval,
    Progress,
    SilentProgress,
    TurnResult,
)
from bot.agent.toolset import Classify, Toolbox, build_toolbox, model_arguments
from bot.agent.writes import SOMEONE, Proposed, WhoFor, describe, people_seen, person_of, with_proposal
from bot.blocks.messages import Notice, user_message
from bot.config import Settings
from bot.crm import CrmService
from bot.identity import SlackUser
from bot.rollout import parse
from bot.rollout.client import RolloutClient
from bot.rollout.outcomes import (
    ChooseCredential,
    ConnectNeeded,
    Failure,
    FailureReason,
    Matches,
    NotFound,
    PersonOverview,
)
from bot.rollout.tools import Capability
from bot.store import ConversationKey, Store

log = logging.getLogger(__name__)

MAX_RESULT_CHARS = 16_000  # one tool result; a huge CRM record must not crowd out the conversation
SDK_MAX_RETRIES = 3  # the SDK backs off on 429/529/5xx/timeouts, honouring retry-after
STOPPED_REPLY = "(I stopped before finishing this request.)"
NEEDS_ACCOUNT = "Not done: the user must first choose or connect a CRM account in Slack."
PROBLEM_REPLY = "(I need the user to sort out their CRM account first; they can ask again afterwards.)"


@dataclass(frozen=True, slots=True)
class AgentConfig:
    model: str
    max_steps: int
    max_tokens: int
    timeout_seconds: float
    history_tokens: int
    approval_ttl: timedelta
    system_prompt: str = SYSTEM_PROMPT

    @classmethod
    def from_settings(cls, settings: Settings, *, system_prompt: str = SYSTEM_PROMPT) -> AgentConfig:
        return cls(
            model=settings.anthropic_model,
            max_steps=settings.agent_max_steps,
            max_tokens=settings.agent_max_tokens,
            timeout_seconds=settings.agent_timeout_seconds,
            history_tokens=settings.agent_history_tokens,
            approval_ttl=timedelta(seconds=settings.approval_ttl_seconds),
            system_prompt=system_prompt,
        )


def build_agent(
    settings: Settings, store: Store, crm: CrmService, rollout: RolloutClient, *, system_prompt: str | None = None
) -> Agent:
    if settings.anthropic_api_key is None:
        raise ValueError("build_agent needs ANTHROPIC_API_KEY")
    prompt = system_prompt or settings.agent_system_prompt or SYSTEM_PROMPT
    config = AgentConfig.from_settings(settings, system_prompt=prompt)
    client = anthropic.AsyncAnthropic(
        api_key=settings.anthropic_api_key.get_secret_value(),
        base_url=settings.anthropic_base_url,
        max_retries=SDK_MAX_RETRIES,
        timeout=config.timeout_seconds,
    )
    budget = TokenBudget(
        store.usage,
        per_user=settings.agent_daily_tokens_per_user,
        per_team=settings.agent_daily_tokens_per_team,
    )
    model = ModelClient(client, name=config.model, budget=budget)
    return Agent(model, store=store, crm=crm, classify=rollout.capabilities, config=config)


@dataclass(slots=True)
class _Turn:
    """What one turn has gathered so far, kept when a bound stops it."""

    people: dict[str, str]  # person id → name, for approval cards
    overviews: dict[str, PersonOverview] = field(default_factory=dict)
    last_text: str = ""  # the latest complete text the model wrote in this turn
    streamed: str = ""  # the text of the model call in flight

    def answer(self) -> str:
        return self.last_text or self.streamed


@dataclass(slots=True)
class _Ending:
    result: TurnResult
    messages: list[Message]  # what to persist
    closing: str | None = None  # assistant text to end the stored turn with, when the model didn't


@dataclass(slots=True)
class _ToolRound:
    results: list[Block]
    problem: CredentialProblem | None = None
    approval: PendingApproval | None = None
    marker: dict[str, Any] | None = None


class Agent:
    def __init__(
        self,
        model: ModelClient,
        *,
        store: Store,
        crm: CrmService,
        classify: Classify,
        config: AgentConfig,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self.model = model
        self._store = store
        self._crm = crm
        self._classify = classify
        self._config = config
        self._today = today
        self._locks = ConversationLocks()
        self.approvals = CountedApprovalDesk(
            store, crm, classify, self._locks, history_chars=config.history_tokens * CHARS_PER_TOKEN
        )

    @property
    def budget(self) -> TokenBudget | None:
        return self.model.budget

    @budget.setter
    def budget(self, budget: TokenBudget | None) -> None:
        self.model.budget = budget

    async def close(self) -> None:
        await self.model.close()

    # ---- entry points -------------------------------------------------------------------------------------------

    async def answer(
        self, user: SlackUser, conversation: ConversationKey, text: str, progress: Progress | None = None
    ) -> TurnResult:
        """One user message in a conversation (a Slack thread, a DM, or a one-off slash command)."""
        async with self._locks.hold(conversation):
            history = await self._load(conversation)
            # A write still awaiting approval leaves a tool_use open: answer it before the new words.
            opening = closing_results(history)
            message: Message = {"role": "user", "content": [*opening, {"type": "text", "text": text}]}
            return await self._run(user, conversation, history, [message], progress or SilentProgress())

    async def continue_after(self, decided: Decided, progress: Progress | None = None) -> TurnResult | None:
        """After an approved write ran (or failed), let the model carry on with its result."""
        record = decided.record
        if not decided.continues or record is None or record.conversation is None:
            return None
        key = record.conversation
        async with self._locks.hold(key):
            history = await self._load(key)
            output = decided.tool_output or "(no output)"
            news = resolution(history, record.id, record.summary, output, failed=decided.tool_failed)
            return await self._run(record.requester, key, history, [news], progress or SilentProgress())

    # ---- the loop -----------------------------------------------------------------------------------------------

    async def _run(
        self,
        user: SlackUser,
        conversation: ConversationKey,
        history: list[Message],
        new: list[Message],
        progress: Progress,
    ) -> TurnResult:
        if (refused := await self.model.refusal(user)) is not None:
            # Checked before anything else: an over-budget request costs neither a model call nor a Rollout call.
            return TurnResult(error=refused)
        tools = await self._crm.tools(user)
        if isinstance(tools, Failure):
            return TurnResult(problem=tools)
        toolbox = build_toolbox(tools, self._crm.write_tools(tools), self._classify)
        turn = _Turn(people=people_seen(history))
        deadline = asyncio.get_running_loop().time() + self._config.timeout_seconds
        try:
            async with asyncio.timeout_at(deadline):
                ending = await self._steps(user, conversation, history, new, toolbox, turn, progress)
        except TimeoutError:
            # `new` only ever grows by whole tool rounds, so what it holds is a valid prefix to keep.
            ending = _Ending(self._result(turn, stopped=EarlyStop.TIME), new, STOPPED_REPLY)
        except anthropic.APIError as error:
            log.warning("model call failed for %s: %s %s", user, type(error).__name__, _status(error))
            return TurnResult(error=_error_code(error))
        await self._persist(user, conversation, ending)
        return ending.result

    async def _steps(
        self,
        user: SlackUser,
        conversation: ConversationKey,
        history: list[Message],
        new: list[Message],
        toolbox: Toolbox,
        turn: _Turn,
        progress: Progress,
    ) -> _Ending:
        for _ in range(self._config.max_steps):
            response = await self._ask(user, [*history, *new], toolbox, turn, progress)
            content = [_block_param(b) for b in response.content]
            assistant: Message = {"role": "assistant", "content": content}
            turn.last_text = text_of(assistant) or turn.last_text
            turn.streamed = ""
            reason = response.stop_reason
            if reason == "tool_use":
                round_ = await self._use_tools(user, conversation, toolbox, content, turn, progress)
                if round_.approval is not None:
                    assistant["pending"] = round_.marker
                    new.append(assistant)
                    return _Ending(self._result(turn, approval=round_.approval), new)
                new += [assistant, {"role": "user", "content": round_.results}]
                if round_.problem is not None:
                    return _Ending(self._result(turn, problem=round_.problem), new, PROBLEM_REPLY)
                continue
            if reason == "pause_turn":  # the API paused a long turn: sending it back as is lets it go on
                new.append(assistant)
                continue
            if reason == "refusal":
                # Keep nothing of a refused turn: replaying it would only invite the next refusal.
                return _Ending(TurnResult(refused=True), [])
            if reason in ("max_tokens", "model_context_window_exceeded"):
                # A cut-off tool call has incomplete input: it must not run, and must not stay in the history.
                assistant["content"] = [b for b in content if b.get("type") != "tool_use"]
                new.append(assistant)
                stop = EarlyStop.MAX_TOKENS if reason == "max_tokens" else EarlyStop.CONTEXT
                return _Ending(self._result(turn, stopped=stop), new, STOPPED_REPLY)
            new.append(assistant)  # end_turn, stop_sequence
            return _Ending(self._result(turn, text=text_of(assistant)), new)
        return _Ending(self._result(turn, stopped=EarlyStop.STEPS), new, STOPPED_REPLY)

    async def _ask(
        self, user: SlackUser, messages: list[Message], toolbox: Toolbox, turn: _Turn, progress: Progress
    ) -> anthropic.types.Message:
        request: dict[str, Any] = {
            "max_tokens": self._config.max_tokens,
            "system": system_blocks(self._config.system_prompt, self._today()),
            "messages": for_request(messages, self._config.history_tokens),
        }
        if toolbox.definitions:
            request["tools"] = list(toolbox.definitions)
        async with self.model.stream(**request) as stream:
            async for event in stream:
                if event.type == "text":
                    turn.streamed = _text_so_far(stream.current_message_snapshot)
                    await progress.partial(turn.streamed)
            message = await stream.get_final_message()
        await self.model.spend(user, message)
        usage = message.usage
        log.debug(
            "model step: stop=%s in=%s cache_write=%s cache_read=%s out=%s",
            message.stop_reason,
            usage.input_tokens,
            usage.cache_creation_input_tokens,
            usage.cache_read_input_tokens,
            usage.output_tokens,
        )
        return message

    async def _use_tools(
        self,
        user: SlackUser,
        conversation: ConversationKey,
        toolbox: Toolbox,
        content: list[Block],
        turn: _Turn,
        progress: Progress,
    ) -> _ToolRound:
        calls = [b for b in content if b.get("type") == "tool_use"]
        writes = [c for c in calls if toolbox.is_write(c["name"])]
        reads = [c for c in calls if not toolbox.is_write(c["name"])]
        await progress.status(_status_line(calls, toolbox))
        # Reads are independent lookups: run them together.
        outcomes = await asyncio.gather(*(self._read(user, toolbox, call, turn) for call in reads))
        results: dict[str, Block] = {call["id"]: block for call, (block, _) in zip(reads, outcomes, strict=True)}
        problem = next((p for _, p in outcomes if p is not None), None)
        if problem is not None or not writes:
            for call in writes:
                results[call["id"]] = tool_result(call["id"], NEEDS_ACCOUNT, is_error=True)
            return _ToolRound([results[c["id"]] for c in calls], problem=problem)
        proposed, *others = writes
        for call in others:
            results[call["id"]] = tool_result(call["id"], ONE_AT_A_TIME, is_error=True)
        approval = await self._propose(user, conversation, toolbox, proposed, turn)
        siblings = [results[c["id"]] for c in calls if c["id"] != proposed["id"]]
        marker = pending_marker(approval.record.id, proposed["id"], siblings)
        return _ToolRound([], approval=approval, marker=marker)

    async def _read(
        self, user: SlackUser, toolbox: Toolbox, call: Block, turn: _Turn
    ) -> tuple[Block, CredentialProblem | None]:
        call_id, name = call["id"], call["name"]
        tool = toolbox.tools.get(name)
        if tool is None:
            return tool_result(call_id, f"There is no tool named {name!r}.", is_error=True), None
        result = await self._crm.call_tool(user, tool, model_arguments(call.get("input")), is_write=False)
        if isinstance(result, ChooseCredential | ConnectNeeded):
            return tool_result(call_id, NEEDS_ACCOUNT, is_error=True), result
        if isinstance(result, Failure):
            if result.reason is FailureReason.CREDENTIAL_GONE:
                return tool_result(call_id, "Not done: the CRM account is no longer connected.", is_error=True), result
            return tool_result(call_id, user_message(result.reason, result.detail), is_error=True), None
        if isinstance(result, NotFound):
            return tool_result(call_id, "Nothing matched.", is_error=True), None
        text = _result_text(result)
        if not result.is_error and toolbox.capability(name) is Capability.PERSON_OVERVIEW:
            self._note_people(result, turn)
        return tool_result(call_id, text, is_error=bool(result.is_error)), None

    async def _propose(
        self, user: SlackUser, conversation: ConversationKey, toolbox: Toolbox, call: Block, turn: _Turn
    ) -> PendingApproval:
        arguments = model_arguments(call.get("input"))
        tool = toolbox.tools.get(call["name"])
        pinned = await self._account_of(user, arguments, turn)
        takes_account = tool is not None and "credentialId" in (tool.input_schema or {}).get("properties", {})
        if pinned is not None and takes_account:
            # The person id the model chose belongs to the account it was read from: the write goes there, even if
            # the user's default changes before they approve.
            arguments["credentialId"] = pinned
        proposed = Proposed(toolbox.capability(call["name"]), await self._who_for(user, arguments, turn))
        description = describe(proposed.capability, call["name"], arguments, proposed.who)
        expires_at = datetime.now(UTC) + self._config.approval_ttl
        stored = with_proposal(arguments, proposed)
        record = await self._store.approvals.create(
            user, call["name"], stored, description.summary, conversation, expires_at
        )
        await work.note(approval=record.id)  # if this turn is cut off, its card is the answer: no second proposal
        return PendingApproval(record, description)

    # ---- helpers ------------------------------------------------------------------------------------------------

    async def _who_for(self, user: SlackUser, arguments: dict[str, Any], turn: _Turn) -> WhoFor | None:
        """Who a write is for, as its card names them: from an overview this turn read, else one read of the person in
        the write's account; a name the conversation saw when that read fails, else nobody (never the id)."""
        named = person_of(arguments)
        if named is None:
            return None
        person_id = named[1]
        found = turn.overviews.get(person_id)
        if found is None:
            read = await self._crm.person(user, person_id, credential_id=arguments.get("credentialId"))
            found = read if isinstance(read, PersonOverview) and read.person.id == person_id else None
        if found is not None:
            account = found.credential
            shown = f"{account.label} ({account.provider})" if account and account.provider else None
            return WhoFor(
                found.person.name or turn.people.get(person_id) or SOMEONE,
                found.person.email,
                shown or (account.label if account else None),
            )
        name = turn.people.get(person_id)
        return WhoFor(name) if name else None

    async def _account_of(self, user: SlackUser, arguments: dict[str, Any], turn: _Turn) -> str | None:
        """The CRM account a write's person was read from: the overview's own, else the default the reads used."""
        named = person_of(arguments)
        overview = turn.overviews.get(named[1]) if named else None
        if overview is not None and overview.credential is not None:
            return overview.credential.id
        return await self._crm.default_credential(user) if named else None

    def _note_people(self, result: types.CallToolResult, turn: _Turn) -> None:
        found = parse.overview(parse.payload(result), "")
        if isinstance(found, PersonOverview):
            turn.overviews[found.person.id] = found
            turn.people[found.person.id] = found.person.name
        elif isinstance(found, Matches):
            for person in found.people:
                turn.people[person.id] = person.name

    def _result(self, turn: _Turn, *, text: str | None = None, **fields: Any) -> TurnResult:
        return TurnResult(text=turn.answer() if text is None else text, people=tuple(turn.overviews.values()), **fields)

    async def _load(self, conversation: ConversationKey) -> list[Message]:
        # Only what the history budget can use: a long thread costs a turn no more reading than a short one.
        return await self._store.conversations.load(
            conversation, max_chars=self._config.history_tokens * CHARS_PER_TOKEN
        )

    async def _persist(self, user: SlackUser, conversation: ConversationKey, ending: _Ending) -> None:
        messages = list(ending.messages)
        if not messages:
            return
        if ending.closing is not None:
            messages.append({"role": "assistant", "content": [{"type": "text", "text": ending.closing}]})
        await self._store.conversations.append(conversation, messages, user=user)


class CountedApprovalDesk(ApprovalDesk):
    """The approval desk, counting each click's outcome for /metrics."""

    async def decide(self, *args: Any, **kwargs: Any) -> Decided:
        decided = await super().decide(*args, **kwargs)
        metrics.APPROVALS.labels(decided.status).inc()
        return decided


def _block_param(block: anthropic.types.ContentBlock) -> Block:
    if block.type == "text":
        return {"type": "text", "text": block.text}
    if block.type == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    return block.model_dump(mode="json", exclude_none=True)


def _text_so_far(snapshot: anthropic.types.Message) -> str:
    return "".join(b.text for b in snapshot.content if b.type == "text")


def _result_text(result: types.CallToolResult) -> str:
    text = parse.result_text(result)
    if not text and result.structured_content:
        text = json.dumps(result.structured_content, ensure_ascii=False)
    if len(text) > MAX_RESULT_CHARS:
        text = text[:MAX_RESULT_CHARS] + f"\n[cut: {len(text) - MAX_RESULT_CHARS} more characters]"
    return text


def _status_line(calls: Sequence[Block], toolbox: Toolbox) -> str:
    lines = []
    for call in calls:
        capability = toolbox.capability(call["name"])
        found = call.get("input")
        arguments: dict[str, Any] = found if isinstance(found, dict) else {}
        if capability is Capability.PERSON_OVERVIEW:
            who = next((str(arguments[k]) for k in ("query", "email", "name") if arguments.get(k)), "")
            lines.append(f"Looking up “{who[:60]}” in your CRM…" if who else "Looking in your CRM…")
        elif capability is Capability.LIST_CREDENTIALS:
            lines.append("Checking your CRM accounts…")
        elif toolbox.is_write(call["name"]):
            lines.append("Preparing a change for you to approve…")
        else:
            lines.append(f"Using {call['name']}…")
    return "\n".join(dict.fromkeys(lines)) or "Working…"


def _error_code(error: anthropic.APIError) -> Notice:
    if isinstance(error, anthropic.RateLimitError | anthropic.OverloadedError):
        return Notice.LLM_RATE_LIMITED
    body = getattr(error, "body", None)
    kind = body.get("error", {}).get("type") if isinstance(body, dict) else None
    if kind in ("overloaded_error", "rate_limit_error"):  # arrived as an error event mid-stream
        return Notice.LLM_RATE_LIMITED
    return Notice.LLM_UNAVAILABLE


def _status(error: anthropic.APIError) -> str:
    return str(getattr(error, "status_code", "")) if isinstance(error, anthropic.APIStatusError) else ""
