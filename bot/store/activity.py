"""The "recent actions" list on a user's App Home."""

from __future__ import annotations

from sqlalchemy import select

from bot.identity import SlackUser
from bot.store.database import Database
from bot.store.records import ActivityRecord
from bot.store.schema import activity, utc_now


class ActivityRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def record(self, user: SlackUser, text: str) -> None:
        async with self._database.write() as connection:
            await connection.execute(
                activity.insert().values(team_id=user.team_id, user_id=user.user_id, text=text, created_at=utc_now())
            )

    async def recent(self, user: SlackUser, limit: int = 5) -> list[ActivityRecord]:
        """Newest first."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        query = (
            select(activity.c.text, activity.c.created_at)
            .where((activity.c.team_id == user.team_id) & (activity.c.user_id == user.user_id))
            # The id breaks ties between entries recorded within the same clock tick.
            .order_by(activity.c.created_at.desc(), activity.c.id.desc())
            .limit(limit)
        )
        async with self._database.read() as connection:
            rows = (await connection.execute(query)).all()
        return [ActivityRecord(text=row.text, created_at=row.created_at) for row in rows]
