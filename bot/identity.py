"""The identity everything below the Slack handlers is keyed by."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SlackUser:
    team_id: str
    user_id: str

    @property
    def default_subject(self) -> str:
        """A stable Rollout `sub` for this user: opaque, so Slack ids are not leaked to Rollout."""
        digest = hashlib.sha256(f"{self.team_id}:{self.user_id}".encode()).hexdigest()[:32]
        return f"slack-{digest}"

    def __str__(self) -> str:
        return f"{self.team_id}/{self.user_id}"
