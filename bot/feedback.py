"""Helpful / not helpful on agent answers, counted for the metrics endpoint (the click itself goes to activity)."""

from __future__ import annotations

from prometheus_client import Counter

from bot.blocks.feedback import Verdict
from bot.metrics import REGISTRY

ANSWER_FEEDBACK = Counter(
    "rollout_bot_answer_feedback", "Feedback clicks on agent answers, by verdict", ["verdict"], registry=REGISTRY
)


def count(verdict: Verdict) -> None:
    ANSWER_FEEDBACK.labels(verdict=verdict).inc()
