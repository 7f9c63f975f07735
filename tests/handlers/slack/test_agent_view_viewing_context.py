"""Which channel each person last looked at: bounded, the least recently seen forgotten first."""

from __future__ import annotations

from bot.identity import SlackUser
from handlers.slack.agent_view import ViewingContext

ALICE, BOB, CAROL = (SlackUser("T1", user) for user in ("UALICE", "UBOB", "UCAROL"))


def test_the_least_recently_seen_person_is_forgotten_first() -> None:
    viewing = ViewingContext(limit=2)
    viewing.seen(ALICE, "C1")
    viewing.seen(BOB, "C2")
    assert viewing.channel_of(ALICE) == "C1"  # asked for: Alice is now the more recent
    viewing.seen(CAROL, "C3")

    assert viewing.channel_of(BOB) is None
    assert (viewing.channel_of(ALICE), viewing.channel_of(CAROL)) == ("C1", "C3")


def test_leaving_every_channel_forgets_the_person() -> None:
    viewing = ViewingContext()
    viewing.seen(ALICE, "C1")
    viewing.seen(ALICE, None)
    assert viewing.channel_of(ALICE) is None
