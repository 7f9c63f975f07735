"""Helpful / not helpful on agent answers, counted for the metrics endpoint (the verdict itself is stored).

A person has one verdict per answer, the one from their last click, and may change their mind. Counters cannot go
down, and a gauge of current verdicts would only know what this process saw since it started. So two counters:

- `rollout_bot_answer_feedback_total{verdict}`: each person's first verdict on an answer, once per person and answer.
- `rollout_bot_answer_feedback_changed_total{verdict}`: a person replacing their verdict by `verdict` (from the other).

People whose verdict is now helpful: `first{helpful} + changed{helpful} - changed{not_helpful}` (over any window
with `increase()`, summed over processes); the same with the verdicts swapped for not helpful. Clicking the same
verdict again, a double click or a click older than the stored one counts nothing.
"""

from __future__ import annotations

from prometheus_client import Counter

from bot.blocks.feedback import VERDICTS, Verdict
from bot.metrics import REGISTRY
from bot.store.feedback import FeedbackChange

ANSWER_FEEDBACK = Counter(
    "rollout_bot_answer_feedback",
    "People's first verdict on an agent answer (one per person and answer), by verdict",
    ["verdict"],
    registry=REGISTRY,
)
ANSWER_FEEDBACK_CHANGED = Counter(
    "rollout_bot_answer_feedback_changed",
    "People replacing their verdict on an agent answer, by the new verdict",
    ["verdict"],
    registry=REGISTRY,
)
for _verdict in VERDICTS:  # every series exists from the start, so increase() sees the first one
    ANSWER_FEEDBACK.labels(verdict=_verdict)
    ANSWER_FEEDBACK_CHANGED.labels(verdict=_verdict)


def count(verdict: Verdict, change: FeedbackChange) -> None:
    if change == "first":
        ANSWER_FEEDBACK.labels(verdict=verdict).inc()
    elif change == "changed":
        ANSWER_FEEDBACK_CHANGED.labels(verdict=verdict).inc()
