"""The one email rule, wherever the bot reads an email: the parser, the CRM service, thread saves, cards."""

from __future__ import annotations

import pytest

from bot.emails import first_email, is_email


@pytest.mark.parametrize(
    "text", ["ada@example.com", "ada.lovelace@analytical-engines.example", "o'brien+crm@x.co.uk", "josé@exämple.org"]
)
def test_what_is_an_email(text: str) -> None:
    assert is_email(text)


@pytest.mark.parametrize("text", ["ada", "ada@", "@example.com", "ada@example", "a b@example.com", "<ada@x.example>"])
def test_what_is_not_an_email(text: str) -> None:
    assert not is_email(text)


def test_the_first_email_in_text_leaves_the_punctuation_around_it() -> None:
    assert first_email("Kick-off with Ada (ada@example.com).") == "ada@example.com"
    assert first_email("nobody here") is None
