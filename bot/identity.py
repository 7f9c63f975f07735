"""The identity everything below the Slack handlers is keyed by."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


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


def slack_user(context: Mapping[str, Any], body: Mapping[str, Any]) -> SlackUser:
    """The person behind any Slack request — command, click, submission, shortcut or event — from Bolt's context.

    One rule, so a person has one Rollout subject whatever they click: under an org-wide Enterprise Grid install the
    organisation is their tenant (its user ids are org-wide, and requests arrive from any of its workspaces); else
    their own workspace, which in a Slack Connect channel is not the one the app is installed in.
    """
    user_id = str(context.get("actor_user_id") or context.get("user_id") or "")
    if context.get("is_enterprise_install"):
        organisation = context.get("actor_enterprise_id") or context.get("enterprise_id")
        if organisation:
            return SlackUser(str(organisation), user_id)
    # Interactions name the clicker's own workspace; Bolt's actor team is the payload's team, which can be the host's.
    user = body.get("user")
    own_team = user.get("team_id") if isinstance(user, Mapping) else None
    team = own_team or context.get("actor_team_id") or context.get("team_id") or ""
    return SlackUser(str(team), user_id)
