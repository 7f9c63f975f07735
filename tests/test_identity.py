"""One person, one identity: every kind of Slack request resolves to the same Rollout subject, through Bolt's own
reading of the payload (its context) and then bot.identity.slack_user."""

from __future__ import annotations

from typing import Any

import pytest
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.internals import build_context

from bot.identity import SlackUser, slack_user

HOST, PARTNER, ORG = "T0HOST", "T0PARTNER", "E0ORG"


def resolved(body: dict[str, Any]) -> SlackUser:
    context = build_context(AsyncBoltContext(), body)
    assert isinstance(context, AsyncBoltContext)
    return slack_user(context, body)


def requests(team: str, user: str, *, enterprise: str | None = None, org_wide: bool = False) -> dict[str, dict]:
    """A slash command, a button click, a modal submission, a message shortcut and a mention by the same person.

    `team` is the person's own workspace; the app is installed in HOST (or org-wide in ORG).
    """
    installed_team = None if org_wide else HOST
    shared = team != HOST and not org_wide
    user_object = {"id": user, "team_id": team, "name": "someone"}
    team_object = {"id": team, "domain": "x", **({"enterprise_id": enterprise} if enterprise else {})}
    org = {"enterprise": {"id": enterprise, "name": "Org"}} if enterprise else {}
    flag = {"is_enterprise_install": org_wide}
    return {
        "command": {
            "team_id": team,
            "user_id": user,
            "command": "/rollout",
            "text": "help",
            **({"enterprise_id": enterprise} if enterprise else {}),
            "is_enterprise_install": "true" if org_wide else "false",
        },
        "click": {"type": "block_actions", "user": user_object, "team": team_object, "actions": [], **org, **flag},
        "submission": {
            "type": "view_submission",
            "user": user_object,
            "team": team_object,
            "view": {"id": "V1", "team_id": team, **({"app_installed_team_id": HOST} if shared else {})},
            **org,
            **flag,
        },
        "shortcut": {"type": "message_action", "user": user_object, "team": team_object, **org, **flag},
        "mention": {
            "type": "event_callback",
            "team_id": installed_team or team,
            **({"enterprise_id": enterprise} if enterprise else {}),
            "is_ext_shared_channel": shared,
            "event": {"type": "app_mention", "user": user, "user_team": team, "team": team, "text": "hi"},
            "authorizations": [
                {
                    "team_id": installed_team,
                    "enterprise_id": enterprise,
                    "user_id": "U0BOT",
                    "is_bot": True,
                    "is_enterprise_install": org_wide,
                }
            ],
        },
    }


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        (requests(HOST, "U0LOCAL"), SlackUser(HOST, "U0LOCAL")),
        (requests(PARTNER, "U0GUEST"), SlackUser(PARTNER, "U0GUEST")),  # Slack Connect: their own workspace
        (requests("T0WEST", "W0ORGUSER", enterprise=ORG, org_wide=True), SlackUser(ORG, "W0ORGUSER")),
        (requests("T0EAST", "W0ORGUSER", enterprise=ORG, org_wide=True), SlackUser(ORG, "W0ORGUSER")),
    ],
    ids=["same workspace", "slack connect", "org-wide install, one workspace", "org-wide install, another"],
)
def test_every_kind_of_request_is_the_same_person(who: dict[str, dict], expected: SlackUser) -> None:
    assert {kind: resolved(body) for kind, body in who.items()} == dict.fromkeys(who, expected)
    assert len({resolved(body).default_subject for body in who.values()}) == 1


def test_people_of_different_workspaces_with_one_user_id_stay_apart() -> None:
    here, there = requests(HOST, "U0SAME")["click"], requests(PARTNER, "U0SAME")["click"]
    assert resolved(here).default_subject != resolved(there).default_subject
