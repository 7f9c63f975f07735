"""Loopback stand-ins for services the app talks to (and temporary PostgreSQL databases), shared by the tests and
the bench; not installed with the product."""

from __future__ import annotations

from bench.fakes.slack_api import RESPONSE_URL_METHOD, Call, FakeSlackApi

__all__ = ["RESPONSE_URL_METHOD", "Call", "FakeSlackApi"]
