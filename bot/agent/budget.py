"""Daily model-token budgets per user and per workspace, counted from the API's usage fields.

Tokens are weighted by what they cost relative to an uncached input token, so a budget means the same spend whether
the prompt was read from cache or not. A turn that starts within the budget runs to its end; the next one is refused
until the UTC day changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal

import anthropic

from bot.identity import SlackUser
from bot.store import UsageRepository

# Relative to one uncached input token, after Anthropic's price list: cache writes cost 1.25 times as much, cache
# reads 0.1 times, output 5 times.
INPUT_WEIGHT = 1.0
CACHE_WRITE_WEIGHT = 1.25
CACHE_READ_WEIGHT = 0.1
OUTPUT_WEIGHT = 5.0

Exhausted = Literal["user", "team"]


@dataclass(frozen=True, slots=True)
class Usage:
    """One response's `usage`, as the API reports it."""

    input: int = 0
    cache_write: int = 0
    cache_read: int = 0
    output: int = 0

    @classmethod
    def of(cls, usage: anthropic.types.Usage) -> Usage:
        def count(name: str) -> int:
            return int(getattr(usage, name, None) or 0)

        return cls(
            input=count("input_tokens"),
            cache_write=count("cache_creation_input_tokens"),
            cache_read=count("cache_read_input_tokens"),
            output=count("output_tokens"),
        )

    @property
    def weighted(self) -> int:
        total = (
            self.input * INPUT_WEIGHT
            + self.cache_write * CACHE_WRITE_WEIGHT
            + self.cache_read * CACHE_READ_WEIGHT
            + self.output * OUTPUT_WEIGHT
        )
        return int(-(-total // 1))  # rounded up: a call always costs something


class TokenBudget:
    def __init__(
        self,
        usage: UsageRepository,
        *,
        per_user: int | None,
        per_team: int | None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._usage = usage
        self._per_user = per_user
        self._per_team = per_team
        self._clock = clock

    @property
    def limited(self) -> bool:
        return self._per_user is not None or self._per_team is not None

    async def exhausted(self, user: SlackUser) -> Exhausted | None:
        """Whose budget for today is used up, if any: the user's own, or their workspace's."""
        if not self.limited:
            return None
        used = await self._usage.used(user, self._clock().date())
        if self._per_user is not None and used.user >= self._per_user:
            return "user"
        if self._per_team is not None and used.team >= self._per_team:
            return "team"
        return None

    async def spend(self, user: SlackUser, usage: Usage) -> None:
        # Counted even without a limit: setting one later then starts from the day's true spend.
        await self._usage.add(user, self._clock().date(), usage.weighted)

    def resets_at(self) -> datetime:
        """The next UTC midnight."""
        tomorrow = self._clock().astimezone(UTC).date() + timedelta(days=1)
        return datetime.combine(tomorrow, time(0), tzinfo=UTC)
