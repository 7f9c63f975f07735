"""An agent turn in Slack: streamed with its tool steps where Slack allows it, else a placeholder updated in place.

Shared by @mentions, DMs and the Agent view, the approval buttons (handlers/listeners/agent.py) and
`/rollout <free text>` (`answer_command`). Where the conversation lives decides how it is shown:

- a thread (mention, DM thread, Agent view): streamed (chat.startStream…stopStream, handlers/slack/streaming.py), with
  feedback buttons under the answer; when Slack refuses to start the stream, the placeholder path below;
- a DM's top level: a message posted in it and updated with `chat.update`;
- a slash command: ephemeral, through the command's response_url (which allows only five posts, so no live updates).

Answers are posted with link and media previews off.

The "Thinking…" placeholder stays a message rather than `assistant.threads.setStatus` (Bolt's `set_status`): a status
is a transient line under the thread (cleared after two minutes or by the bot's next message), while the placeholder
carries the tool steps and the partial answer, updated in place, and becomes the answer. It is also used exactly where
a status has nothing to attach to or is least likely to work: a DM's top level (no thread_ts), `/rollout` free text
(ephemeral through a response_url, no thread), and threads where Slack refused to start a stream. Threads that stream
already show "Thinking…" from the first call, as the stream's plan title. Bolt attaches `set_status` to event
deliveries only, not to the approval clicks whose answers are shown here too. tests/handlers/slack/test_streaming.py
(the placeholder fallback) and tests/handlers/listeners/test_agent.py (a free-text command) pin this behaviour.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block

from bot import work
from bot.agent import PendingApproval, Progress, SilentProgress, TurnResult
from bot.blocks.approvals import approval_card
from bot.blocks.elements import context, to_dicts
from bot.blocks.feedback import feedback_buttons
from bot.blocks.markdown import answer_blocks
from bot.blocks.messages import Notice, error_message, stopped_early_note, thinking_message, user_message
from bot.blocks.person import person_card, person_card_text
from bot.blocks.text import MESSAGE_BLOCKS, clean, escape_mrkdwn, truncate_plain
from bot.identity import SlackUser
from bot.rollout.outcomes import ChooseCredential, ConnectNeeded, Failure
from bot.store import ConversationKey
from handlers.slack.replies import Reply, fail, follows_card_person, present, seen_by_others, show_card
from handlers.slack.streaming import AnswerStream

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

# Conversation keys: a thread's ts, or one of these for conversations that are not Slack threads.
DM_CONVERSATION = "dm"  # top-level messages in the bot's DM: one running conversation, trimmed to the token budget
COMMAND_PREFIX = "command:"  # each `/rollout <free text>` is a conversation of its own
_PER_USER = "/"  # "<thread ts>/<user id>": one person's conversation in a shared channel thread

CONFIGURE_HINT = "an admin enables it by setting ANTHROPIC_API_KEY"
REFUSED = "I can't help with that request."
NEEDS_ACCOUNT = "I need to know which CRM account to use first — pick one below, then ask me again."
NEEDS_CONNECTION = "Connect a CRM first — I've sent you a link in a DM. Then ask me again."
CONNECT_LINK_NOT_SENT = (
    "Connect a CRM first — Slack wouldn't take the link I tried to DM you; `/rollout connect` asks again."
)
APPROVAL_INTRO = "Here's the change — nothing is written until you approve it."
NOTHING_TO_SAY = "Done."
_UPDATE_INTERVAL_SECONDS = 1.0  # chat.update is rate limited (about one a second per message)

Run = Callable[[Progress], Awaitable[TurnResult | None]]


@dataclass(frozen=True, slots=True)
class Answer:
    """The end of a turn, for surfaces that show more than rendered blocks: a stream takes the Markdown itself."""

    markdown: str
    footer: Sequence[Block] = ()  # e.g. "I stopped before finishing", under the answer
    feedback: bool = False  # helpful / not helpful buttons under it
    waiting: bool = False  # a write waits for the requester's approval


class AnswerTarget(Protocol):
    reply: Reply

    async def start(self) -> Progress: ...

    async def finish(self, blocks: Sequence[Block], text: str, answer: Answer | None = None) -> None:
        """Show the turn's outcome: `blocks` rendered for a message, `answer` for surfaces that want the Markdown."""

    async def extra(self, blocks: Sequence[Block], text: str) -> str | None:
        """Post one more message (a card); its ts when it is a real message that can be updated later."""


# ---- threads and DMs: one message, updated in place ----------------------------------------------------------


@dataclass
class _LiveMessage:
    """The placeholder message, rewritten as the agent reports progress; partial answers at most once a second."""

    reply: Reply
    channel: str
    ts: str
    clock: Callable[[], float]
    status_line: str = ""
    answer: str = ""
    _last_update: float = field(default=float("-inf"))

    async def status(self, text: str) -> None:
        self.status_line = text
        await self._update()

    async def partial(self, text: str) -> None:
        self.answer = text
        if self.clock() - self._last_update >= _UPDATE_INTERVAL_SECONDS:
            await self._update()

    async def _update(self) -> None:
        self._last_update = self.clock()
        blocks = answer_blocks(self.answer, MESSAGE_BLOCKS - 1) if self.answer else []
        status = escape_mrkdwn(clean(self.status_line, single_line=True)) or "Thinking…"
        blocks.append(context(f"⏳ {status}"))
        try:
            await self.reply.client.chat_update(channel=self.channel, ts=self.ts, blocks=blocks, text=status)
        except SlackApiError as error:  # progress is a courtesy: never let it break the turn
            log.warning("progress update failed for %s: %s", self.reply.user, _slack_error(error))


@dataclass
class ThreadAnswer:
    reply: Reply  # channel_id is the thread's channel (or the DM); thread_ts None for a DM's top level
    clock: Callable[[], float]
    _live: _LiveMessage | None = None

    async def start(self) -> Progress:
        ts = await self._post(thinking_message(), "Thinking…")
        if ts is None or self.reply.channel_id is None:
            return SilentProgress()
        await work.note(answer={"channel": self.reply.channel_id, "ts": ts, "streamed": False})  # to close if cut off
        self._live = _LiveMessage(self.reply, self.reply.channel_id, ts, self.clock)
        return self._live

    async def finish(self, blocks: Sequence[Block], text: str, answer: Answer | None = None) -> None:
        blocks = with_feedback(blocks, answer)
        if self._live is not None:
            try:
                await self.reply.client.chat_update(
                    channel=self._live.channel, ts=self._live.ts, blocks=list(blocks), text=text
                )
                return
            except SlackApiError as error:
                log.warning("answer update failed for %s: %s", self.reply.user, _slack_error(error))
        await self._post(blocks, text)  # as a new message, previews still off

    async def extra(self, blocks: Sequence[Block], text: str) -> str | None:
        return await self._post(blocks, text)

    async def _post(self, blocks: Sequence[Block], text: str) -> str | None:
        if self.reply.channel_id is None:
            await self.reply.dm(blocks, text)
            return None
        try:
            # Previews off: a link the model or the CRM put in the text must not be fetched and shown (or leak data).
            posted = await self.reply.client.chat_postMessage(
                channel=self.reply.channel_id,
                thread_ts=self.reply.thread_ts,
                blocks=list(blocks),
                text=text,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as error:
            log.warning("posting in a thread failed for %s: %s", self.reply.user, _slack_error(error))
            await self.reply.dm(blocks, text)
            return None
        return str(posted.get("ts") or "") or None


# ---- threads: streamed, with the tool steps as tasks ---------------------------------------------------------


@dataclass
class StreamedAnswer:
    """Slack's chat streaming in a thread; where Slack refuses to start a stream, the placeholder path instead."""

    reply: Reply  # channel_id and thread_ts set: a stream is always a reply in a thread
    clock: Callable[[], float]
    _stream: AnswerStream | None = None
    _fallback: ThreadAnswer | None = None

    async def start(self) -> Progress:
        channel, thread_ts = self.reply.channel_id, self.reply.thread_ts
        assert channel and thread_ts, "a stream needs a channel and a thread"
        try:
            started = await self.reply.client.chat_startStream(
                channel=channel,
                thread_ts=thread_ts,
                recipient_team_id=self.reply.user.team_id,
                recipient_user_id=self.reply.user.user_id,
                task_display_mode="plan",
                chunks=[{"type": "plan_update", "title": "Thinking…"}],
            )
            ts = str(started.get("ts") or "")
        except _STREAM_ERRORS as error:
            ts = ""
            log.info(
                "streaming refused for %s (%s): answering by updating a message", self.reply.user, _slack_error(error)
            )
        if not ts:
            self._fallback = ThreadAnswer(self.reply, self.clock)
            return await self._fallback.start()
        await work.note(answer={"channel": channel, "ts": ts, "streamed": True})  # to close if cut off
        self._stream = AnswerStream(self.reply.client, channel, ts, self.clock)
        return self._stream

    async def finish(self, blocks: Sequence[Block], text: str, answer: Answer | None = None) -> None:
        stream = self._stream
        if stream is None:
            await (self._fallback or ThreadAnswer(self.reply, self.clock)).finish(blocks, text, answer)
            return
        answer = answer or Answer(markdown=text)
        chunks = await stream.close(stream.remainder(answer.markdown), waiting=answer.waiting)
        footer = [*answer.footer, *(feedback_buttons() if answer.feedback else [])]
        if not stream.broken:
            try:
                await self.reply.client.chat_stopStream(
                    channel=stream.channel, ts=stream.ts, chunks=chunks or None, blocks=to_dicts(footer) or None
                )
                return
            except _STREAM_ERRORS as error:
                log.warning("ending a stream failed for %s: %s", self.reply.user, _slack_error(error))
        # The streamed message exists but Slack took no more of it: the whole answer replaces it.
        try:
            await self.reply.client.chat_update(
                channel=stream.channel, ts=stream.ts, blocks=list(with_feedback(blocks, answer)), text=text
            )
        except _STREAM_ERRORS as error:
            log.warning("answer update failed for %s: %s", self.reply.user, _slack_error(error))
            await ThreadAnswer(self.reply, self.clock).extra(blocks, text)  # as a new message, previews still off

    async def extra(self, blocks: Sequence[Block], text: str) -> str | None:
        return await ThreadAnswer(self.reply, self.clock).extra(blocks, text)


def thread_answer(reply: Reply, clock: Callable[[], float]) -> AnswerTarget:
    """Streamed where Slack allows it (a reply in a thread), else a message updated in place."""
    if reply.channel_id and reply.thread_ts:
        return StreamedAnswer(reply, clock)
    return ThreadAnswer(reply, clock)


def with_feedback(blocks: Sequence[Block], answer: Answer | None) -> list[Block]:
    if answer is None or not answer.feedback or len(blocks) >= MESSAGE_BLOCKS:
        return list(blocks)
    return [*blocks, *feedback_buttons()]


# ---- slash commands: ephemeral, through the response_url -----------------------------------------------------


@dataclass
class CommandAnswer:
    reply: Reply

    async def start(self) -> Progress:
        if not await self._send(thinking_message(), "Thinking…", replace=False):
            await self.reply.ephemeral(thinking_message(), "Thinking…")
        return SilentProgress()

    async def finish(self, blocks: Sequence[Block], text: str, answer: Answer | None = None) -> None:
        # Replacing the "Thinking…" message keeps the answer where the user is looking. No feedback buttons: an
        # ephemeral answer is gone once read.
        if not await self._send(blocks, text, replace=True):
            await self.reply.ephemeral(blocks, text)

    async def extra(self, blocks: Sequence[Block], text: str) -> str | None:
        await self.reply.ephemeral(blocks, text)
        return None

    async def _send(self, blocks: Sequence[Block], text: str, *, replace: bool) -> bool:
        if not self.reply.response_url:
            return False
        body = {"response_type": "ephemeral", "replace_original": replace, "text": text, "blocks": to_dicts(blocks)}
        return await self.reply.send_to_response_url(body)


# ---- where a conversation is shown ---------------------------------------------------------------------------


def answer_target_for(key: ConversationKey, reply: Reply, clock: Callable[[], float]) -> AnswerTarget:
    """How to show a turn of this conversation. `reply` is the person and, for commands, the response_url to use."""
    if key.thread_ts.startswith(COMMAND_PREFIX):
        return CommandAnswer(reply)
    return thread_answer(Reply(reply.client, reply.user, channel_id=key.channel_id, thread_ts=thread_of(key)), clock)


def mention_conversation(user: SlackUser, channel: str, thread_ts: str) -> ConversationKey:
    """A channel thread can hold several people, each with their own CRM access: each gets their own memory of it,
    so one person's CRM data never reaches the model answering another."""
    return ConversationKey(user.team_id, channel, f"{thread_ts}{_PER_USER}{user.user_id}")


def thread_of(key: ConversationKey) -> str | None:
    """The Slack thread a conversation is shown in (None: a DM's top level). Never the per-person key itself."""
    if key.thread_ts == DM_CONVERSATION or key.thread_ts.startswith(COMMAND_PREFIX):
        return None
    return key.thread_ts.split(_PER_USER, 1)[0]


def command_conversation(reply: Reply) -> ConversationKey:
    return ConversationKey(reply.user.team_id, reply.channel_id or "", f"{COMMAND_PREFIX}{uuid.uuid4().hex}")


# ---- showing a turn ------------------------------------------------------------------------------------------


async def deliver(services: Services, surface: AnswerTarget, run: Run) -> None:
    """Run a turn behind a placeholder and show whatever it produced; the placeholder never stays "Thinking…"."""
    progress = await surface.start()
    try:
        result = await run(progress)
    except Exception as error:  # the user must hear back; the log gets the type, not the text
        log.error("agent turn failed for %s: %s", surface.reply.user, type(error).__name__)
        message = user_message(Notice.INTERNAL)
        await surface.finish(error_message(message), message, Answer(f"⚠️ {message}"))
        return
    if result is None:
        await surface.finish(answer_blocks(NOTHING_TO_SAY), NOTHING_TO_SAY, Answer(NOTHING_TO_SAY))
        return
    await show(services, surface, result)


async def show(services: Services, surface: AnswerTarget, result: TurnResult) -> None:
    if result.error is not None:
        message = user_message(result.error)
        await surface.finish(error_message(message), message, Answer(f"⚠️ {message}"))
        return
    if result.refused:
        await surface.finish(answer_blocks(REFUSED), REFUSED, Answer(REFUSED))
        return
    if isinstance(result.problem, Failure):
        message = user_message(result.problem.reason, result.problem.detail)
        await surface.finish(error_message(message), message, Answer(f"⚠️ {message}"))
        return
    if isinstance(result.problem, ChooseCredential):
        await surface.finish(answer_blocks(NEEDS_ACCOUNT), NEEDS_ACCOUNT, Answer(NEEDS_ACCOUNT))
        await present(result.problem, surface.reply, services)  # the same picker as the slash commands
        return
    if isinstance(result.problem, ConnectNeeded):
        # The link goes first, so the answer says only what happened to it.
        sent = await present(result.problem, surface.reply, services)
        line = NEEDS_CONNECTION if sent else CONNECT_LINK_NOT_SENT
        await surface.finish(answer_blocks(line), line, Answer(line))
        return
    text = result.text or (APPROVAL_INTRO if result.approval else NOTHING_TO_SAY)
    note = stopped_early_note() if result.stopped else []
    blocks = [*answer_blocks(text, MESSAGE_BLOCKS - len(note) - 1), *note]  # one block kept for the feedback buttons
    answer = Answer(text, footer=note, feedback=True, waiting=result.approval is not None)
    await surface.finish(blocks, _fallback(text), answer)
    for overview in result.people:
        if seen_by_others(surface.reply):
            # The answer is the asker's conversation; a card is CRM data, theirs to share into the thread or not.
            await show_card(overview, surface.reply, services)
        else:
            following = await follows_card_person(services, surface.reply.user, overview)
            card = person_card(overview.person, overview.credential, following=following)
            await surface.extra(card, person_card_text(overview.person))
    if result.approval is not None:
        await post_approval(services, surface, result.approval)


async def post_approval(services: Services, surface: AnswerTarget, pending: PendingApproval) -> None:
    record, description = pending.record, pending.description
    card = approval_card(record.id, description.summary, description.label, description.details, "pending")
    text = _fallback(f"Approve? {description.summary}")
    if seen_by_others(surface.reply):
        # It names the person and what would be written: for the requester alone, like a person card. Its buttons
        # rewrite it through their response_url.
        await surface.reply.ephemeral(card, text)
        return
    ts = await surface.extra(card, text)
    channel = surface.reply.channel_id
    if ts is not None and channel is not None:
        await services.store.approvals.set_message(record.id, channel, ts)


async def answer_command(text: str, reply: Reply, services: Services) -> None:
    """`/rollout <free text>`: the same agent, answered to the user alone. Call it after ack (slow)."""
    if services.agent is None:
        await fail(reply, Notice.LLM_NOT_CONFIGURED, CONFIGURE_HINT)
        return
    agent = services.agent
    key = command_conversation(reply)
    await deliver(services, CommandAnswer(reply), lambda progress: agent.answer(reply.user, key, text, progress))


def _fallback(text: str) -> str:
    """The notification text: the answer's start, as plain words."""
    # Escaped like everything else the model writes: a notification must not be able to @channel anyone.
    return escape_mrkdwn(truncate_plain(clean(text, single_line=True), 300)) or NOTHING_TO_SAY


def _slack_error(error: Exception) -> str:
    if isinstance(error, SlackApiError):
        return str(error.response.get("error") if error.response is not None else "unknown")
    return type(error).__name__


# Slack refusing, or not answering at all (connection refused, timeout): for a stream, the same.
_STREAM_ERRORS: tuple[type[Exception], ...] = (SlackApiError, aiohttp.ClientError, TimeoutError)


async def answer_event(
    services: Services, body: Mapping[str, Any], key: ConversationKey, reply: Reply, text: str
) -> None:
    """One answer per event, whatever Slack redelivers: the first to claim the event_id does the work."""
    event_id = body.get("event_id")
    if event_id and not await services.work.claim(f"event:{event_id}"):
        return
    agent = services.agent
    if agent is None:
        await fail(reply, Notice.LLM_NOT_CONFIGURED, CONFIGURE_HINT)
        return
    surface = thread_answer(reply, clock())
    if not text.strip():
        text = "Hi! What can you do?"
    await deliver(services, surface, lambda progress: agent.answer(reply.user, key, text, progress))


def from_a_bot(event: Mapping[str, Any]) -> bool:
    """Bots (this one included) and edits, joins and other message subtypes are not requests."""
    return bool(event.get("bot_id") or event.get("subtype") or event.get("bot_profile") or not event.get("user"))


def clock() -> Callable[[], float]:
    return asyncio.get_running_loop().time
