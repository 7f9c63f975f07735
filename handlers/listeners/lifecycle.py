"""The app's life in a workspace: uninstalled, or its tokens revoked. Either way the workspace's data goes."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.identity import SlackUser

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.services import Services

log = logging.getLogger(__name__)


def register(app: AsyncApp, services: Services) -> None:
    async def uninstalled(body: dict[str, Any]) -> None:
        # Events are acked before listeners run; the deletion is work after the ack, so shutdown waits for it.
        services.background.spawn(forget_team(services, body, "app_uninstalled"), "forget workspace")

    async def revoked(event: dict[str, Any], body: dict[str, Any]) -> None:
        found = event.get("tokens")
        tokens: dict[str, Any] = found if isinstance(found, dict) else {}
        if tokens.get("bot"):
            # Without its bot token the app can do nothing there: the same as an uninstall.
            services.background.spawn(forget_team(services, body, "tokens_revoked"), "forget workspace")
            return
        team_id = str(body.get("team_id") or "")
        for user_id in tokens.get("oauth") or []:
            user = SlackUser(team_id, str(user_id))
            services.background.spawn(forget_user(services, user, body.get("enterprise_id")), "forget user")

    app.event("app_uninstalled")(uninstalled)
    app.event("tokens_revoked")(revoked)


async def forget_team(services: Services, body: dict[str, Any], why: str) -> None:
    team_id = str(body.get("team_id") or "")
    enterprise_id = _org_wide_install(body)
    if not team_id and enterprise_id is None:
        return
    # Under an org-wide install people are keyed by their organisation (bot.identity.slack_user), so it goes too.
    tenants = [t for t in (team_id, enterprise_id) if t]
    for tenant in tenants:
        forgotten = await services.store.teams.forget(tenant, enterprise_id=enterprise_id)
        for user_id in forgotten.user_ids:
            services.tokens.forget(SlackUser(tenant, user_id))  # this process's copy of their Rollout token
        log.info("%s: forgot %s: %s", why, tenant, forgotten.counts())


async def forget_user(services: Services, user: SlackUser, enterprise_id: Any) -> None:
    """A person revoked the app's user token: drop it, and what the bot keeps for them, as `disconnect` would."""
    if services.installations is not None:
        await services.installations.async_delete_installation(
            enterprise_id=enterprise_id if isinstance(enterprise_id, str) else None,
            team_id=user.team_id,
            user_id=user.user_id,
        )
    done = await services.crm.disconnect(user)
    log.info(
        "tokens_revoked: forgot %s: token %s, default account %s, %d conversations",
        user,
        done.token,
        done.default_account,
        done.conversations,
    )


def _org_wide_install(body: dict[str, Any]) -> str | None:
    """The Enterprise Grid organisation, when the app is installed org-wide there (as Bolt reads it)."""
    authorizations = body.get("authorizations")
    first = authorizations[0] if isinstance(authorizations, list) and authorizations else None
    source = first if isinstance(first, dict) and "is_enterprise_install" in first else body
    if source.get("is_enterprise_install") not in (True, "true"):
        return None
    organisation = source.get("enterprise_id") or body.get("enterprise_id")
    return organisation if isinstance(organisation, str) and organisation else None
