"""Slack's feedback buttons (👍 / 👎) under an agent answer."""

from __future__ import annotations

from typing import Literal

from slack_sdk.models.blocks import Block, ContextActionsBlock, FeedbackButtonObject, FeedbackButtonsElement

from bot.ids import Action

Verdict = Literal["helpful", "not_helpful"]
VERDICTS: tuple[Verdict, ...] = ("helpful", "not_helpful")


def feedback_buttons() -> list[Block]:
    """The buttons carry only the verdict: the click itself says which answer (message) and who."""
    element = FeedbackButtonsElement(
        action_id=Action.ANSWER_FEEDBACK.value,
        positive_button=FeedbackButtonObject(
            text="Helpful", value="helpful", accessibility_label="Mark this answer as helpful"
        ),
        negative_button=FeedbackButtonObject(
            text="Not helpful", value="not_helpful", accessibility_label="Mark this answer as not helpful"
        ),
    )
    return [ContextActionsBlock(elements=[element])]


def verdict_of(value: str | None) -> Verdict | None:
    return next((verdict for verdict in VERDICTS if verdict == value), None)
