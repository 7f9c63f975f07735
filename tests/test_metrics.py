"""GET /metrics after a scripted run, parsed with prometheus_client's own parser; and JSON logs whose request id
follows a Slack delivery into the work done after its ack."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.logs import JsonFormatter, RequestIdFilter
from bot.metrics import request_id_of_trigger
from tests.harness import AppHarness

ADA = "ada.lovelace@analytical-engines.example"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def _scrape(harness: AppHarness) -> tuple[Samples, str]:
    url = harness.url.replace("/slack/events", "/metrics")
    async with harness.http.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples, text


def _delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_metrics_count_a_scripted_run_without_naming_anyone(app_harness: AppHarness) -> None:
    before, _ = await _scrape(app_harness)
    user = app_harness.new_user()

    await app_harness.command(user, f"overview {ADA}")
    await app_harness.slack.wait_for("response_url", lambda call: "Ada Lovelace" in call.text)
    await app_harness.command(user, "help")
    await app_harness.command(user, "Forget")  # an alias: counted as what it means
    await app_harness.command(user, "whatever happened to zebra-7")  # free text: the words never become a label
    app_harness.slack.fail_next("views.publish", status=429, retry_after=0)  # retried, then published
    await app_harness.event({"type": "app_home_opened", "user": user.user_id, "channel": "D1", "tab": "home"})
    await app_harness.slack.wait_for("views.publish", lambda call: call.ok)
    app_harness.slack.fail_next("views.publish", status=200, error="invalid_blocks")
    await app_harness.event({"type": "app_home_opened", "user": user.user_id, "channel": "D1", "tab": "home"})
    await app_harness.settle()

    after, text = await _scrape(app_harness)
    assert _delta(before, after, "rollout_bot_commands_total", kind="overview", outcome="ok") == 1
    assert _delta(before, after, "rollout_bot_commands_total", kind="help", outcome="ok") == 1
    assert _delta(before, after, "rollout_bot_commands_total", kind="disconnect", outcome="ok") == 1
    # No model configured here: the free text is answered with the usage help, which is not the question answered.
    assert _delta(before, after, "rollout_bot_commands_total", kind="free_text", outcome="ok") == 0
    assert _delta(before, after, "rollout_bot_commands_total", kind="free_text", outcome="not_configured") == 1
    assert _delta(before, after, "rollout_bot_slack_requests_total", kind="command") == 4
    assert _delta(before, after, "rollout_bot_slack_requests_total", kind="event:app_home_opened") == 2
    assert _delta(before, after, "rollout_bot_slack_ack_seconds_count", kind="command") == 4
    assert _delta(before, after, "rollout_bot_after_ack_seconds_count", work="slash_command") == 4
    assert _delta(before, after, "rollout_bot_after_ack_work_total", work="slash_command", outcome="ok") == 3
    assert _delta(before, after, "rollout_bot_mcp_calls_total", tool="get_person_overview", outcome="ok") >= 1
    assert _delta(before, after, "rollout_bot_mcp_calls_total", tool="list_credentials", outcome="ok") >= 0
    assert _delta(before, after, "rollout_bot_rollout_tokens_minted_total") >= 1  # a new user's first token
    assert _delta(before, after, "rollout_bot_slack_api_rate_limited_total", method="views.publish") == 1
    assert (
        _delta(before, after, "rollout_bot_slack_api_errors_total", method="views.publish", error="invalid_blocks") == 1
    )
    assert after[("rollout_bot_mcp_pool_sessions", ())] >= 1
    assert _delta(before, after, "rollout_bot_mcp_http_requests_total") > 0
    assert _delta(before, after, "rollout_bot_mcp_sessions_opened_total") >= 1  # a new user's first session
    # Kinds, tools and outcomes only: no user, team or CRM content anywhere in the scrape.
    for needle in (user.user_id, user.team_id, "Ada", "Lovelace", "analytical-engines", "zebra", "whatever"):
        assert needle not in text


async def test_metrics_follow_prometheus_conventions(app_harness: AppHarness) -> None:
    user = app_harness.new_user()
    await app_harness.command(user, f"overview {ADA}")  # so the labelled families have samples
    await app_harness.slack.wait_for("response_url", lambda call: "Ada Lovelace" in call.text)
    await app_harness.settle()
    url = app_harness.url.replace("/slack/events", "/metrics")
    async with app_harness.http.get(url) as response:
        text = await response.text()
    families = {family.name: family for family in text_string_to_metric_families(text)}

    # What counts since start is a counter, and its samples are `…_total`.
    for name in ("rollout_bot_mcp_http_requests", "rollout_bot_mcp_sessions_opened", "rollout_bot_slack_requests"):
        assert families[name].type == "counter", name
    assert families["rollout_bot_mcp_pool_sessions"].type == "gauge"
    for family in families.values():
        if family.type == "counter":
            assert all(sample.name.endswith("_total") for sample in family.samples), family.name
    # No `_created` series beside the counters and histograms.
    assert "_created" not in text
    # The process and the platform are described as on prometheus_client's default registry.
    assert families["process_cpu_seconds"].type == "counter"
    assert families["process_resident_memory_bytes"].samples[0].value > 0
    assert "python_info" in families
    # Label values are single words.
    values = [value for family in families.values() for sample in family.samples for value in sample.labels.values()]
    assert values and not [value for value in values if " " in value]


async def test_metrics_negotiate_openmetrics_and_compression(app_harness: AppHarness) -> None:
    """prometheus_client's own handler: OpenMetrics for a scraper that asks for it, gzip when accepted."""
    url = app_harness.url.replace("/slack/events", "/metrics")
    headers = {"Accept": "application/openmetrics-text; version=1.0.0", "Accept-Encoding": "gzip"}
    async with app_harness.http.get(url, headers=headers) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        assert response.headers["Content-Encoding"] == "gzip"
        text = await response.text()
    assert text.rstrip().endswith("# EOF")


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The root logger writing JSON lines into a buffer, as LOG_FORMAT=json configures it."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root, http_client = logging.getLogger(), logging.getLogger("httpx2")
    levels = root.level, http_client.level
    root.addHandler(handler)
    # The HTTP client's request lines are what the failing Rollout calls log; configure_logging (run by other tests
    # in this process) quiets them.
    root.setLevel(logging.INFO)
    http_client.setLevel(logging.INFO)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        http_client.setLevel(levels[1])


async def test_json_logs_carry_the_delivery_id_into_after_ack_work(app_harness: AppHarness, json_lines) -> None:
    user = app_harness.new_user()
    app_harness.sandbox.set_failure("500")  # so the work after the ack has something to log

    sent = await app_harness.command(user, f"overview {ADA}")
    await app_harness.settle()
    app_harness.sandbox.set_failure(None)

    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    assert lines, "the failing Rollout call logged nothing"
    assert all(set(line) >= {"time", "level", "logger", "message", "request_id"} for line in lines)
    ours = [line for line in lines if line["request_id"] == request_id_of_trigger(sent.trigger_id)]
    # The HTTP client's lines about the failing Rollout requests, written long after the ack, carry the command's id.
    assert any(line["logger"] == "httpx2" and "500" in line["message"] for line in ours), lines
    assert sent.trigger_id not in json_lines.getvalue()
