"""What a turn of the agent produces, for the Slack layer to render, and how it reports progress while working."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.agent.writes import WriteDescription
from bot.approvals import Status
from bot.blocks.messages import Notice
from bot.rollout.outcomes import ChooseCredential, ConnectNeeded, Failure, PersonOverview
from bot.store import ApprovalRecord

CredentialProblem = ChooseCredential | ConnectNeeded | Failure


class EarlyStop(StrEnum):
    """Why a turn ended before the model said it was done."""

    STEPS = "steps"  # agent_max_steps model calls used up
    TIME = "time"  # agent_timeout_seconds wall clock used up
    MAX_TOKENS = "max_tokens"  # the answer hit agent_max_tokens
    CONTEXT = "context"  # the model's context window is full


@dataclass(frozen=True, slots=True)
class PendingApproval:
    record: ApprovalRecord
    description: WriteDescription


@dataclass(frozen=True, slots=True)
class TurnResult:
    text: str = ""  # the model's answer, Markdown
    people: tuple[PersonOverview, ...] = ()  # overviews fetched on the way, shown as person cards
    approval: PendingApproval | None = None  # a write waiting for the requester's click
    problem: CredentialProblem | None = None  # pick an account / connect one / Rollout failed: the Slack flows
    stopped: EarlyStop | None = None
    refused: bool = False  # the model declined the request
    error: Notice | None = None  # why the model could not be reached (or may not be, over budget)


@dataclass(frozen=True, slots=True)
class Decided:
    """What came of an Approve / Cancel click."""

    status: Status
    record: ApprovalRecord | None = None
    description: WriteDescription | None = None
    result_text: str | None = None  # shown on the card: the CRM's words on a failure
    problem: CredentialProblem | None = None
    tool_output: str | None = None  # what the write tool returned, for the model
    tool_failed: bool = False

    @property
    def continues(self) -> bool:
        """Whether the conversation goes on with the model (it reports the write's result)."""
        return self.status in ("done", "failed") and self.record is not None and self.record.conversation is not None


@dataclass(frozen=True, slots=True)
class Edited:
    status: Status  # "edited" when it was saved
    record: ApprovalRecord | None = None
    description: WriteDescription | None = None


class Progress(Protocol):
    """Where a turn reports what it is doing, so the user never stares at silence."""

    async def status(self, text: str) -> None:
        """A short line such as "Looking up “Ada” in your CRM…"."""

    async def partial(self, text: str) -> None:
        """The answer as streamed so far in the current model call (Markdown, may be cut mid-sentence)."""


class SilentProgress:
    async def status(self, text: str) -> None:
        return None

    async def partial(self, text: str) -> None:
        return None
