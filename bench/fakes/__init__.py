"""Loopback stand-ins for services the app talks to, shared by the tests and `rollout-bot bench`."""

from __future__ import annotations

from bench.fakes.slack_api import RESPONSE_URL_METHOD, Call, FakeSlackApi

__all__ = ["RESPONSE_URL_METHOD", "Call", "FakeSlackApi"]
