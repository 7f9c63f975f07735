"""The one rule for what an email address looks like, wherever the bot reads one."""

from __future__ import annotations

import re

# Letters of any script, the specials RFC 5322 allows, a domain with a dot: what people type and CRMs hold.
EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


def is_email(text: str) -> bool:
    return len(text) <= 254 and EMAIL.fullmatch(text) is not None


def first_email(text: str) -> str | None:
    found = EMAIL.search(text)
    return found.group(0) if found else None
