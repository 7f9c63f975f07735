"""Doubles for work due at a time (bot/schedule.py): a clock the tests move by hand, and Slack as scheduled work sees
it, recording each DM and answering each time zone as the test says."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import Block

from bot.identity import SlackUser


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def to(self, moment: datetime) -> None:
        assert moment >= self.now, "time only moves forward"
        self.now = moment


@dataclass
class Messenger:
    """bot.schedule.Messenger: DMs are recorded (unless `refuse`), time zones are `zones`' (None: Slack can't say)."""

    zones: dict[SlackUser, str | None] = field(default_factory=dict)
    sent: list[tuple[SlackUser, str, list[dict[str, Any]]]] = field(default_factory=list)
    refuse: bool = False
    asked: list[SlackUser] = field(default_factory=list)

    async def dm(self, user: SlackUser, blocks: Sequence[Block], text: str) -> bool:
        if self.refuse:
            return False
        self.sent.append((user, text, [block.to_dict() for block in blocks]))
        return True

    async def time_zone(self, user: SlackUser) -> str | None:
        self.asked.append(user)
        return self.zones.get(user)

    def to(self, user: SlackUser) -> list[str]:
        """The DMs `user` got, each its text and blocks as one string."""
        return [text + " " + str(blocks) for who, text, blocks in self.sent if who == user]
