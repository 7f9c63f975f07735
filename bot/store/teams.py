"""Everything the bot keeps about one workspace, forgotten at once when the workspace uninstalls the app."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Executable, delete, select, update

from bot.store.database import Database
from bot.store.schema import (
    activity,
    answer_feedback,
    approvals,
    conversation_messages,
    conversations,
    digest_settings,
    follows,
    llm_usage,
    parked_requests,
    rollout_read_budget,
    scheduled_work,
    slack_bots,
    slack_installations,
    thread_saves,
    users,
    utc_now,
)


@dataclass(frozen=True, slots=True)
class TeamForgotten:
    """Counts only: what an uninstall deleted (or cancelled), for the log."""

    installations: int
    bots: int
    users: int
    conversations: int
    messages: int
    parked_requests: int
    approvals_cancelled: int
    activity: int
    thread_saves: int
    follows: int = 0
    scheduled: int = 0  # digests and reminders not yet sent, and sent reminders' texts
    user_ids: tuple[str, ...] = field(default=(), repr=False)  # whose in-memory state to drop as well

    def counts(self) -> str:
        return (
            f"{self.installations} installations, {self.bots} bots, {self.users} users, "
            f"{self.conversations} conversations ({self.messages} messages), {self.parked_requests} parked requests, "
            f"{self.approvals_cancelled} approvals cancelled, {self.activity} activity entries, "
            f"{self.thread_saves} saved-thread marks, {self.follows} people followed, "
            f"{self.scheduled} scheduled digests and reminders"
        )


class TeamRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def forget(self, team_id: str, *, enterprise_id: str | None = None) -> TeamForgotten:
        """In one transaction: the team's installation and bot tokens, its users (their Rollout tokens and default
        accounts), conversations, parked requests, activity, answer feedback, the people they follow and their
        digests and reminders; its pending approvals become cancelled, so a late click writes nothing. With
        `enterprise_id`, an org-wide installation of that organisation goes too. Nothing of any other team is
        touched."""
        installs = slack_installations.c.team_id == team_id
        bots = slack_bots.c.team_id == team_id
        if enterprise_id is not None:
            installs |= (slack_installations.c.enterprise_id == enterprise_id) & slack_installations.c.team_id.is_(None)
            bots |= (slack_bots.c.enterprise_id == enterprise_id) & slack_bots.c.team_id.is_(None)
        async with self._database.write() as connection:

            async def run(statement: Executable) -> int:
                return (await connection.execute(statement)).rowcount

            await run(delete(llm_usage).where(llm_usage.c.team_id == team_id))
            await run(delete(answer_feedback).where(answer_feedback.c.team_id == team_id))
            await run(delete(digest_settings).where(digest_settings.c.team_id == team_id))
            await run(delete(rollout_read_budget).where(rollout_read_budget.c.team_id == team_id))
            team_users = select(users.c.user_id).where(users.c.team_id == team_id)
            known = tuple((await connection.execute(team_users)).scalars())
            return TeamForgotten(
                installations=await run(delete(slack_installations).where(installs)),
                bots=await run(delete(slack_bots).where(bots)),
                users=await run(delete(users).where(users.c.team_id == team_id)),
                messages=await run(delete(conversation_messages).where(conversation_messages.c.team_id == team_id)),
                conversations=await run(delete(conversations).where(conversations.c.team_id == team_id)),
                parked_requests=await run(delete(parked_requests).where(parked_requests.c.team_id == team_id)),
                approvals_cancelled=await run(
                    update(approvals)
                    .where((approvals.c.team_id == team_id) & (approvals.c.status == "pending"))
                    .values(status="cancelled", updated_at=utc_now())
                ),
                activity=await run(delete(activity).where(activity.c.team_id == team_id)),
                thread_saves=await run(delete(thread_saves).where(thread_saves.c.team_id == team_id)),
                follows=await run(delete(follows).where(follows.c.team_id == team_id)),
                scheduled=await run(delete(scheduled_work).where(scheduled_work.c.team_id == team_id)),
                user_ids=known,
            )
