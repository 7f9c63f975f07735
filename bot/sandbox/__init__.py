"""A Rollout-compatible MCP server over an in-memory CRM, for local development, the demo, the bench and tests."""

from __future__ import annotations

from bot.sandbox.admin import ADMIN_CHANGE_PATH
from bot.sandbox.app import PROTOCOLS, Protocol, SandboxStats, build_sandbox_app
from bot.sandbox.crm import CrmAccount, CrmNote, CrmPerson, CrmTask, SandboxCrm
from bot.sandbox.server import RunningSandbox, SandboxPortUnavailable, serve_sandbox_forever, start_sandbox

__all__ = [
    "ADMIN_CHANGE_PATH",
    "PROTOCOLS",
    "CrmAccount",
    "CrmNote",
    "CrmPerson",
    "CrmTask",
    "Protocol",
    "RunningSandbox",
    "SandboxCrm",
    "SandboxPortUnavailable",
    "SandboxStats",
    "build_sandbox_app",
    "serve_sandbox_forever",
    "start_sandbox",
]
