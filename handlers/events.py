"""Placeholder: filled in by its issue."""

from __future__ import annotations

from typing import Any


def register(app: Any, services: Any) -> None:
    return None
