"""Helpful / not helpful verdicts on agent answers: one per person and answer, the one from their last click."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import select, update

from bot.identity import SlackUser
from bot.store.database import Database
from bot.store.schema import answer_feedback, as_utc, utc_now

# What a click did to the person's verdict: their first on this answer, a different one than before, or nothing (the
# same verdict again, or a click older than the one the verdict is already from).
FeedbackChange = Literal["first", "changed", "unchanged"]


class FeedbackRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def record(
        self, user: SlackUser, channel_id: str, message_ts: str, verdict: str, clicked_at: datetime
    ) -> FeedbackChange:
        """Keep `verdict` if its click is the person's latest on this answer; say what that changed.

        Clicks are handled after their acks, in any order and in any process: the click's time, not the order of
        arrival, decides which verdict stays. Each statement is atomic and conditional on what is stored when it
        runs, so concurrent clicks never both count as the first, nor a change that did not happen.
        """
        clicked_at, now = as_utc(clicked_at), utc_now()
        mine = (
            (answer_feedback.c.team_id == user.team_id)
            & (answer_feedback.c.channel_id == channel_id)
            & (answer_feedback.c.message_ts == message_ts)
            & (answer_feedback.c.user_id == user.user_id)
            & (answer_feedback.c.clicked_at < clicked_at)
        )
        async with self._database.write() as connection:
            inserted = await connection.execute(
                self._database.insert(answer_feedback)
                .values(
                    team_id=user.team_id,
                    channel_id=channel_id,
                    message_ts=message_ts,
                    user_id=user.user_id,
                    verdict=verdict,
                    clicked_at=clicked_at,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing()
            )
            if inserted.rowcount == 1:
                return "first"
            changed = await connection.execute(
                update(answer_feedback)
                .where(mine & (answer_feedback.c.verdict != verdict))
                .values(verdict=verdict, clicked_at=clicked_at, updated_at=now)
            )
            if changed.rowcount == 1:
                return "changed"
            # The same verdict from a later click: it is now the latest, so an older click still in flight loses.
            await connection.execute(update(answer_feedback).where(mine).values(clicked_at=clicked_at, updated_at=now))
        return "unchanged"

    async def verdict(self, user: SlackUser, channel_id: str, message_ts: str) -> str | None:
        query = select(answer_feedback.c.verdict).where(
            (answer_feedback.c.team_id == user.team_id)
            & (answer_feedback.c.channel_id == channel_id)
            & (answer_feedback.c.message_ts == message_ts)
            & (answer_feedback.c.user_id == user.user_id)
        )
        async with self._database.read() as connection:
            return (await connection.execute(query)).scalar_one_or_none()
