from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.blocks import (
    USER_MESSAGES,
    error_message,
    help_message,
    home_view,
    stopped_early_note,
    thinking_message,
    user_message,
)
from bot.blocks.home import LISTED_FOLLOWS
from bot.blocks.messages import Notice
from bot.blocks.values import decode_value
from bot.ids import Action
from bot.rollout.outcomes import Credential, FailureReason, FollowedPerson, Following

from . import slack_checks as check
from .strategies import FAST, credentials, hostile_text, ids, urls


def test_every_reason_code_has_a_short_actionable_message() -> None:
    codes = [*FailureReason, *Notice]
    assert set(codes) == set(USER_MESSAGES)
    for code in codes:
        message = USER_MESSAGES[code]
        assert 10 < len(message) <= 160, code
        assert message.endswith("."), code


def test_user_message_adds_the_detail_and_refuses_an_unknown_code() -> None:
    assert user_message("rollout_timeout") == "Rollout didn't answer in time — try again in a moment."
    assert user_message(FailureReason.INVALID_INPUT, "email is\ninvalid").endswith("(email is invalid)")
    with pytest.raises(KeyError):  # a typo is an error, never a silent "internal"
        user_message("no_such_code")  # type: ignore[arg-type]


def test_error_message_escapes_the_text() -> None:
    blocks = check.message(error_message(user_message("invalid_input", "<!channel> & co")))
    assert blocks[0]["text"]["text"].startswith("⚠️ That doesn't look right")
    assert "(&lt;!channel&gt; &amp; co)" in blocks[0]["text"]["text"]


@FAST
@given(text=hostile_text)
def test_error_message_is_valid_for_hostile_data(text: str) -> None:
    check.message(error_message(text))


def test_help_message_lists_every_command() -> None:
    text = check.all_text(check.message(help_message()))
    for usage in (
        "/rollout overview &lt;name or email&gt;",
        "/rollout note &lt;person&gt; &lt;text&gt;",
        "/rollout task &lt;person&gt; &lt;title&gt; [due &lt;date&gt;]",
        "/rollout person &lt;name&gt; &lt;email&gt;",
        "/rollout credentials",
        "/rollout connect",
        "/rollout help",
        "plain words",
    ):
        assert usage in text


def test_small_status_messages_are_valid() -> None:
    assert "Thinking" in check.all_text(check.message(thinking_message()))
    assert "stopped" in check.all_text(check.message(stopped_early_note()))


HUBSPOT = Credential("cred_hubspot_1", "hubspot", "Acme HubSpot")
SALESFORCE = Credential("cred_sf_1", "salesforce", "Acme Salesforce")


def test_home_view_shows_connections_quick_actions_and_recent_actions() -> None:
    moment = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    view = check.view(home_view([HUBSPOT, SALESFORCE], "cred_sf_1", [("Added a note to <@U1> & Ada", moment)]))

    assert view["type"] == "home"
    text = check.all_text(view["blocks"])
    assert "• Acme Salesforce · salesforce  ✅ default" in text
    assert "• Acme HubSpot · hubspot\n" in text
    assert (
        "• Added a note to &lt;@U1&gt; &amp; Ada — "
        f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|2026-01-02 03:04 UTC>"
    ) in text
    assert [element["action_id"] for element in check.elements(view["blocks"])] == [
        Action.HOME_CONNECT,
        Action.HOME_LOOKUP,
    ]


def test_home_view_when_nothing_is_connected_or_done() -> None:
    view = check.view(home_view([], None, []))
    text = check.all_text(view["blocks"])
    assert "No CRM connected yet" in text and "Nothing yet." in text
    [connect] = check.by_action(view["blocks"], Action.HOME_CONNECT)
    assert connect["style"] == "primary"


def test_home_view_lists_people_followed_with_unfollow_and_the_digest_switch() -> None:
    people = tuple(FollowedPerson("cred_1", f"per_{n}", f"Person {n}") for n in range(LISTED_FOLLOWS + 4))
    view = check.view(home_view([HUBSPOT], "cred_1", [], Following(people, digest_on=True)))

    text = check.all_text(view["blocks"])
    assert f"People you follow* ({LISTED_FOLLOWS + 4})" in text and "…and 4 more" in text
    unfollows = check.by_action(view["blocks"], Action.PERSON_UNFOLLOW)
    assert [decode_value(button["value"])["p"] for button in unfollows] == [f"per_{n}" for n in range(LISTED_FOLLOWS)]
    [switch] = check.by_action(view["blocks"], Action.DIGEST_SWITCH)
    assert switch["value"] == "off"


def test_home_view_when_following_no_one_still_has_the_switch() -> None:
    view = check.view(home_view([], None, [], Following((), digest_on=False)))
    assert "No one yet" in check.all_text(view["blocks"])
    assert [button["value"] for button in check.by_action(view["blocks"], Action.DIGEST_SWITCH)] == ["on"]
    assert not check.by_action(check.view(home_view([], None, []))["blocks"], Action.DIGEST_SWITCH)


def test_home_view_takes_naive_and_offset_datetimes() -> None:
    naive = datetime(2026, 1, 2, 3, 4)
    offset = datetime(2026, 1, 2, 5, 4, tzinfo=timezone(timedelta(hours=2)))
    text = check.all_text(check.view(home_view([], None, [("a", naive), ("b", offset)]))["blocks"])
    assert text.count("|2026-01-02 03:04 UTC>") == 2


moments = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))


@FAST
@given(
    connected=st.lists(credentials, max_size=12),
    default=st.none() | ids,
    recent=st.lists(st.tuples(hostile_text, moments), max_size=20),
    followed=st.none() | st.lists(st.builds(FollowedPerson, ids, ids, hostile_text, st.none(), urls), max_size=60),
    on=st.booleans(),
)
def test_home_view_is_valid_for_hostile_data(
    connected: list[Credential],
    default: str | None,
    recent: list[tuple[str, datetime]],
    followed: list[FollowedPerson] | None,
    on: bool,
) -> None:
    following = None if followed is None else Following(tuple(followed), on)
    check.view(home_view(connected, default, recent, following))
