"""An agent answer streamed into Slack (chat.startStream / appendStream / stopStream), with the tool steps as tasks.

The agent reports progress through the `Progress` protocol; here each report only queues chunks and wakes one writer
task. The writer sends at most one chat.appendStream per interval (the method is rate limited per workspace, so text
is batched), and a 429 is waited out there — by the web client's Retry-After handler — never inside the agent's turn,
whose time budget keeps running only for the model and the CRM.

Not slack_sdk's `AsyncWebClient.chat_stream` (Bolt's `say_stream` only builds one of those): its AsyncChatStream sends
from inside the caller's await, so the agent's turn would wait on every append; it batches by buffered length
(`buffer_size`), not by time, so a fast model appends several times a second against a per-workspace limit; each
task_update chunk is sent at once, one call per tool step; it neither joins adjacent chunks nor splits text past the
12,000-character chunk limit; it starts the stream lazily at its first flush, so Slack refusing a stream would surface
mid-turn rather than before it, where agent_output.py picks the placeholder instead; and it has no notion of
a stream Slack stopped taking, nor puts chunks back after a 429. What it would replace is three direct calls
(chat.startStream, chat.appendStream, chat.stopStream), so those stay direct and the batching and task bookkeeping
here stay ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.text import clean, truncate_plain

log = logging.getLogger(__name__)

APPEND_INTERVAL_SECONDS = 1.0  # chat.appendStream is Tier 4 (100+ a minute per workspace): one append a second each
MARKDOWN_CHUNK = 12_000  # Slack's limit for the text of one markdown_text chunk
TASK_TITLE = 200
WAITING_FOR_APPROVAL = "Waiting for your approval"
_NEUTRAL = "<\u200b"  # "<" followed by a zero-width space: no `<!channel>` or `<@U…>` can form from model text

Chunk = dict[str, Any]


def neutral(text: str) -> str:
    """Model text with Slack's special `<…>` syntax (mentions, @channel) made inert."""
    return text.replace("<", _NEUTRAL)


def _split(text: str) -> list[Chunk]:
    starts = range(0, len(text), MARKDOWN_CHUNK)
    return [{"type": "markdown_text", "text": text[start : start + MARKDOWN_CHUNK]} for start in starts]


class AnswerStream:
    """One streaming message: `Progress` for the agent, then `close` hands what is left to chat.stopStream."""

    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        ts: str,
        clock: Callable[[], float],
        *,
        interval: float = APPEND_INTERVAL_SECONDS,
    ) -> None:
        self.client, self.channel, self.ts = client, channel, ts
        self.broken = False  # Slack refused an append: the final answer replaces the message instead
        self.text = ""  # all answer text queued so far (Markdown, made inert)
        self._clock = clock
        self._interval = interval
        self._queue: list[Chunk] = []
        self._open: dict[str, str] = {}  # task id → title, for steps still running
        self._ids = itertools.count(1)
        self._call_text = ""  # what the model call in flight has written so far
        self._new_call = False
        self._last_sent = float("-inf")
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._writer = asyncio.create_task(self._write(), name="answer stream")

    # ---- Progress ----------------------------------------------------------------------------------------------

    async def status(self, text: str) -> None:
        """A tool round starts: the previous steps are done, each line of this one is a task in progress."""
        self._complete_open()
        for line in text.splitlines():
            title = truncate_plain(clean(line, single_line=True), TASK_TITLE)
            if title:
                task_id = f"step-{next(self._ids)}"
                self._open[task_id] = title
                self._queue.append(_task(task_id, title, "in_progress"))
        self._call_text, self._new_call = "", True  # the next text comes from a new model call
        self._wake.set()

    async def partial(self, text: str) -> None:
        """The current model call's text so far: only what is new is queued."""
        self._complete_open()
        if text.startswith(self._call_text):
            delta = text[len(self._call_text) :]
        else:  # the model started over (a new call without tools in between): keep both, apart
            delta, self._new_call = text, True
        if self._new_call and delta:
            delta = ("\n\n" if self.text else "") + delta
            self._new_call = False
        self._call_text = text
        self._queue_text(delta)

    # ---- the end -----------------------------------------------------------------------------------------------

    def remainder(self, answer: str) -> str:
        """What of the final answer was not streamed yet (all of it when the stream holds other words)."""
        if self._call_text and answer.startswith(self._call_text):
            return answer[len(self._call_text) :]
        shown = neutral(answer).rstrip()
        if not shown or self.text.rstrip().endswith(shown):  # streamed before the last tool round
            return ""
        return ("\n\n" if self.text else "") + answer

    async def close(self, rest: str, *, waiting: bool = False) -> list[Chunk]:
        """Stop the writer; the chunks not sent yet (steps ended, `rest` of the answer) for chat.stopStream."""
        self._complete_open()
        if waiting:
            self._queue.append(_task(f"step-{next(self._ids)}", WAITING_FOR_APPROVAL, "pending"))
        self._queue_text(rest)
        self._closing.set()
        self._wake.set()
        await self._writer
        left, self._queue = self._queue, []
        return _merged(left)

    # ---- sending -----------------------------------------------------------------------------------------------

    def _complete_open(self) -> None:
        for task_id, title in self._open.items():
            self._queue.append(_task(task_id, title, "complete"))
        self._open.clear()

    def _queue_text(self, text: str) -> None:
        if not text:
            return
        text = neutral(text)
        self.text += text
        self._queue.append({"type": "markdown_text", "text": text})
        self._wake.set()

    async def _write(self) -> None:
        while True:
            await self._wake.wait()
            if self._closing.is_set():
                return
            wait = self._last_sent + self._interval - self._clock()
            if wait > 0:  # batch: whatever arrives meanwhile goes in the same append
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), wait)
                if self._closing.is_set():
                    return
            self._wake.clear()
            await self._send()

    async def _send(self) -> None:
        chunks, self._queue = _merged(self._queue), []
        if not chunks or self.broken:
            return
        self._last_sent = self._clock()
        try:
            await self.client.chat_appendStream(channel=self.channel, ts=self.ts, chunks=chunks)
        except SlackApiError as error:
            if error.response is not None and error.response.status_code == 429:
                self._queue[:0] = chunks  # still rate limited after the client's retries: they go with the next one
                return
            self.broken = True
            log.warning("streaming an answer failed: %s", error.response.get("error") if error.response else "?")
        except (aiohttp.ClientError, TimeoutError) as error:  # Slack unreachable: the final answer replaces it
            self.broken = True
            log.warning("streaming an answer failed: %s", type(error).__name__)


def _task(task_id: str, title: str, status: str) -> Chunk:
    return {"type": "task_update", "id": task_id, "title": title, "status": status}


def _merged(chunks: Sequence[Chunk]) -> list[Chunk]:
    """Adjacent text chunks joined (within Slack's size limit), the rest in order."""
    merged: list[Chunk] = []
    for chunk in chunks:
        if chunk["type"] == "markdown_text":
            if merged and merged[-1]["type"] == "markdown_text":
                merged[-1] = {"type": "markdown_text", "text": merged[-1]["text"] + chunk["text"]}
            else:
                merged.append(dict(chunk))
        else:
            merged.append(chunk)
    out: list[Chunk] = []
    for chunk in merged:
        out.extend(_split(chunk["text"]) if chunk["type"] == "markdown_text" else [chunk])
    return out
