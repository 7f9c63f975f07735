"""Model tokens used per user and UTC day: what the daily budgets are checked against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, func, select

from bot.identity import SlackUser
from bot.store.database import Database
from bot.store.schema import llm_usage, utc_now


@dataclass(frozen=True, slots=True)
class UsageToday:
    user: int
    team: int


class UsageRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def add(self, user: SlackUser, day: date, tokens: int) -> None:
        """Add to the user's count for `day`; concurrent adds (any process) all count, none is lost."""
        if tokens <= 0:
            return
        now = utc_now()
        async with self._database.write() as connection:
            await connection.execute(
                self._database.insert(llm_usage)
                .values(team_id=user.team_id, user_id=user.user_id, day=day, tokens=tokens, updated_at=now)
                .on_conflict_do_update(
                    index_elements=[llm_usage.c.team_id, llm_usage.c.user_id, llm_usage.c.day],
                    set_={"tokens": llm_usage.c.tokens + tokens, "updated_at": now},
                )
            )

    async def used(self, user: SlackUser, day: date) -> UsageToday:
        """The user's count and their workspace's total for `day`."""
        mine = func.coalesce(func.sum(llm_usage.c.tokens).filter(llm_usage.c.user_id == user.user_id), 0)
        team = func.coalesce(func.sum(llm_usage.c.tokens), 0)
        query = select(mine, team).where((llm_usage.c.team_id == user.team_id) & (llm_usage.c.day == day))
        async with self._database.read() as connection:
            row = (await connection.execute(query)).one()
        return UsageToday(user=int(row[0]), team=int(row[1]))

    async def prune(self, before: date) -> int:
        """Forget days before `before`: a budget only ever looks at today."""
        async with self._database.write() as connection:
            result = await connection.execute(delete(llm_usage).where(llm_usage.c.day < before))
        return result.rowcount
