"""The fake Slack Web API the handler tests and the bench rely on: answers like Slack, records, waits, fails on cue."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bench.fakes import RESPONSE_URL_METHOD, FakeSlackApi

TOKEN = "xoxb-fake-test"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackApi]:
    async with FakeSlackApi(bot_token=TOKEN) as fake:
        yield fake


def _client(slack: FakeSlackApi, token: str = TOKEN, **options: object) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=slack.base_url, **options)  # type: ignore[arg-type]


async def test_records_calls_in_order_with_json_arguments_decoded(slack: FakeSlackApi) -> None:
    client = _client(slack)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]

    posted = await client.chat_postMessage(channel="C1", text="hi", blocks=blocks)
    opened = await client.conversations_open(users="U1")  # form-encoded, unlike chat.postMessage
    await client.views_publish(user_id="U1", view={"type": "home", "blocks": blocks})

    assert [c.method for c in slack.calls] == ["chat.postMessage", "conversations.open", "views.publish"]
    assert slack.calls[0].blocks == blocks and slack.calls[0].response["ts"] == posted["ts"]
    assert opened["channel"]["id"] == FakeSlackApi.dm_channel("U1")
    assert slack.calls[2].blocks == blocks and slack.calls[2].view["type"] == "home"


async def test_wait_for_returns_a_call_made_later_and_fails_with_what_it_saw(slack: FakeSlackApi) -> None:
    client = _client(slack)
    await client.chat_postMessage(channel="C1", text="first")
    mark = slack.mark()
    await client.chat_postMessage(channel="C1", text="second")

    assert (await slack.wait_for("chat.postMessage", since=mark)).text == "second"
    assert (await slack.wait_for("chat.postMessage", lambda c: c.text == "first")).text == "first"
    with pytest.raises(AssertionError, match=re.escape("chat.postMessage, chat.postMessage")):
        await slack.wait_for("views.open", timeout=0.05)


async def test_slack_errors_look_like_slack_s(slack: FakeSlackApi) -> None:
    with pytest.raises(SlackApiError) as wrong_token:
        await _client(slack, token="xoxb-wrong").auth_test()
    with pytest.raises(SlackApiError) as missing:
        await _client(slack).views_open(trigger_id="", view={"type": "modal", "blocks": []})
    slack.fail_next("views.open", status=200, error="expired_trigger_id")
    with pytest.raises(SlackApiError) as expired:
        await _client(slack).views_open(trigger_id="t", view={"type": "modal", "blocks": []})

    assert wrong_token.value.response["error"] == "invalid_auth"
    assert missing.value.response["error"] == "invalid_arguments"
    assert expired.value.response["error"] == "expired_trigger_id"
    assert [c.ok for c in slack.calls] == [False, False, False]


async def test_fail_next_rate_limits_once_then_answers(slack: FakeSlackApi) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=0)
    client = _client(slack, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])

    await client.chat_postMessage(channel="C1", text="hi")

    assert [(c.status, c.ok) for c in slack.calls] == [(429, False), (200, True)]


async def test_server_errors_reach_the_client(slack: FakeSlackApi) -> None:
    slack.fail_next("chat.postEphemeral", status=503)

    with pytest.raises(SlackApiError):
        await _client(slack).chat_postEphemeral(channel="C1", user="U1", text="hi")
    await _client(slack).chat_postEphemeral(channel="C1", user="U1", text="hi")

    assert [c.status for c in slack.calls] == [503, 200]


async def test_response_urls_are_recorded_and_can_fail(slack: FakeSlackApi) -> None:
    url = slack.new_response_url()
    slack.fail_next(RESPONSE_URL_METHOD, status=404)

    refused = await AsyncWebhookClient(url).send_dict({"text": "first"})
    accepted = await AsyncWebhookClient(url).send_dict({"text": "second", "response_type": "in_channel"})

    assert (refused.status_code, accepted.status_code) == (404, 200)
    call = await slack.wait_for(RESPONSE_URL_METHOD, lambda c: c.ok)
    assert call.text == "second" and call.args["response_url_id"] == url.rsplit("/", 1)[-1]
