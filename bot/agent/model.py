"""The one way to the model, for the agent's turns and for drafting thread notes alike.

Every call is checked against the daily budgets before it is made, and every response's usage is spent against them
and counted in the metrics, so no feature can reach the model around the budget.
"""

from __future__ import annotations

from typing import Any

import anthropic
from anthropic.lib.streaming import AsyncMessageStreamManager

from bot import metrics
from bot.agent.budget import TokenBudget, Usage
from bot.blocks.messages import Notice
from bot.identity import SlackUser


class ModelClient:
    def __init__(self, client: anthropic.AsyncAnthropic, *, name: str, budget: TokenBudget | None = None) -> None:
        self._client = client
        self.name = name
        self.budget = budget

    async def refusal(self, user: SlackUser) -> Notice | None:
        """Why `user` may not call the model now (their own or their workspace's budget is used up), if so."""
        if self.budget is None or (whose := await self.budget.exhausted(user)) is None:
            return None
        metrics.LLM_REFUSED_BUDGET.labels(whose).inc()
        return Notice.LLM_BUDGET if whose == "user" else Notice.LLM_BUDGET_TEAM

    def stream(self, **request: Any) -> AsyncMessageStreamManager:
        """A streamed call: hand its final message to `spend` once it is complete."""
        return self._client.messages.stream(model=self.name, **request)

    async def create(self, user: SlackUser, **request: Any) -> anthropic.types.Message:
        """One call, waited for whole; its usage is spent for `user`."""
        message: anthropic.types.Message = await self._client.messages.create(model=self.name, **request)
        await self.spend(user, message)
        return message

    async def spend(self, user: SlackUser, message: anthropic.types.Message) -> None:
        usage = Usage.of(message.usage)
        metrics.llm_call(message.stop_reason, usage)
        if self.budget is not None:
            await self.budget.spend(user, usage)

    async def close(self) -> None:
        await self._client.close()
