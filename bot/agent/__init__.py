"""The LLM agent: free-text requests answered with the user's Rollout tools, writes only after their approval."""

from bot.agent.agent import Agent, AgentConfig, build_agent
from bot.agent.results import (
    Decided,
    EarlyStop,
    Edited,
    PendingApproval,
    Progress,
    SilentProgress,
    TurnResult,
)
from bot.agent.writes import WriteDescription

__all__ = [
    "Agent",
    "AgentConfig",
    "Decided",
    "EarlyStop",
    "Edited",
    "PendingApproval",
    "Progress",
    "SilentProgress",
    "TurnResult",
    "WriteDescription",
    "build_agent",
]
