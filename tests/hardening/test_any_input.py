"""Whatever people type after /rollout: the parser always returns a command, the app always answers sensibly."""

from __future__ import annotations

import typing
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.commands import Command, parse
from tests.harness import AppHarness

VERBS = ["", "overview ", "show ", "note ", "task ", "todo ", "person ", "credentials", "connect", "help ", "who "]
SLACK_MARKUP = st.sampled_from(
    ["<@U123|ada>", "<mailto:ada@example.com|ada@example.com>", "<https://x.example|link>", "<#C1|general>", "<!here>"]
)
WORDS = st.sampled_from(['"Ada Lovelace"', "ada@example.com", "due", "friday", "2026-12-01", "in 3 days", ":", '"'])
ANY_TEXT = st.one_of(
    st.text(),
    st.builds(
        lambda verb, parts: verb + " ".join(parts),
        st.sampled_from(VERBS),
        st.lists(st.one_of(st.text(max_size=30), SLACK_MARKUP, WORDS), max_size=8),
    ),
)
COMMAND_TYPES = typing.get_args(Command)
# Where an answer to a slash command can go, and the most blocks each takes.
ANSWERS = {"response_url": 50, "chat.postEphemeral": 50, "chat.postMessage": 50, "views.open": 100}


@given(text=ANY_TEXT, today=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)))
def test_the_parser_returns_a_command_for_any_text(text: str, today: date) -> None:
    command = parse(text, today=today)
    assert isinstance(command, COMMAND_TYPES)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=ANY_TEXT)
async def test_any_command_text_is_acked_and_answered_with_valid_block_kit(
    shared_app_harness: AppHarness, text: str
) -> None:
    harness = shared_app_harness
    user = harness.new_user()
    mark = harness.slack.mark()

    sent = await harness.command(user, text)
    await harness.settle()

    assert sent.status == 200, f"/rollout {text!r} answered HTTP {sent.status}"
    answers = [c for c in harness.slack.calls[mark:] if c.method in ANSWERS]
    assert answers, f"/rollout {text!r} got no answer"
    for answer in answers:
        assert answer.ok, f"Slack refused {answer.method} for /rollout {text!r}: {answer.response}"
        _assert_valid(answer.method, answer.args)


def _assert_valid(method: str, args: dict[str, Any]) -> None:
    if method == "views.open":
        view = View(**args["view"])
        view.validate_json()
        assert 0 < len(view.blocks) <= ANSWERS[method]
        return
    blocks = args.get("blocks") or []
    assert args.get("text") or blocks, f"{method} with neither text nor blocks"
    assert len(blocks) <= ANSWERS[method]
    for block in Block.parse_all(blocks):
        assert block is not None
        block.validate_json()
