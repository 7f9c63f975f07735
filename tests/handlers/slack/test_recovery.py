"""Taking over acked work another process left (handlers/slack/recovery.py), in the running app: the request as
recorded is handled again where that is safe, and where it is not the person is told."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import sqlalchemy as sa

from bot.identity import SlackUser
from bot.ids import SLASH_COMMAND
from bot.store.deliveries import Delivery, Lease, digest_of
from bot.store.schema import deliveries
from handlers.slack.recovery import INTERRUPTED_WRITE, recoverer
from tests.harness import APP_ID, CHANNEL_ID, AppHarness

ADA = "ada.lovelace@analytical-engines.example"


async def _left_behind(harness: AppHarness, user: SlackUser, text: str, *, age: timedelta, **facts: object) -> str:
    """A slash command another process acked, recorded and then died on; returns its response_url (whose last part
    is also the key the work was claimed with)."""
    response_url = harness.slack.new_response_url()
    form = {
        "team_id": user.team_id,
        "channel_id": CHANNEL_ID,
        "user_id": user.user_id,
        "command": SLASH_COMMAND,
        "text": text,
        "api_app_id": APP_ID,
        "response_url": response_url,
        "trigger_id": f"trigger-{uuid.uuid4().hex}",
    }
    key = f"command:{response_url.rsplit('/', 1)[-1]}"
    delivery = Delivery(urlencode(form), "application/x-www-form-urlencoded")
    store = harness.services.store
    assert await store.deliveries.claim(key, (delivery, Lease("a-dead-process", datetime.now(UTC) - age)))
    if facts:
        await store.deliveries.note(digest_of(key), dict(facts))
    async with store._database.engine.begin() as connection:
        await connection.execute(
            sa.update(deliveries)
            .where(deliveries.c.key_digest == digest_of(key))
            .values(claimed_at=datetime.now(UTC) - age)
        )
    return response_url


async def _state(harness: AppHarness, response_url: str) -> str | None:
    digest = digest_of(f"command:{response_url.rsplit('/', 1)[-1]}")
    async with harness.services.store._database.engine.begin() as connection:
        return (
            await connection.execute(sa.select(deliveries.c.state).where(deliveries.c.key_digest == digest))
        ).scalar_one()


async def _take_over(harness: AppHarness) -> None:
    await harness.services.work.round(recoverer(harness.app, harness.services))
    await harness.settle()


def _hook(response_url: str) -> str:
    return response_url.rsplit("/", 1)[-1]


async def test_a_read_left_behind_is_answered_through_its_response_url(app_harness: AppHarness) -> None:
    harness, user = app_harness, app_harness.new_user()
    response_url = await _left_behind(harness, user, f"overview {ADA}", age=timedelta(minutes=1))

    await _take_over(harness)

    answers = [c for c in harness.slack.calls_to("response_url") if c.args["response_url_id"] == _hook(response_url)]
    assert len(answers) == 1 and answers[0].contains("Ada Lovelace")
    assert await _state(harness, response_url) == "done"  # once answered
    await _take_over(harness)  # done now: nobody takes it again
    assert (
        len([c for c in harness.slack.calls_to("response_url") if c.args["response_url_id"] == _hook(response_url)])
        == 1
    )


async def test_work_older_than_a_response_url_lives_is_answered_another_way(app_harness: AppHarness) -> None:
    harness, user = app_harness, app_harness.new_user()
    response_url = await _left_behind(harness, user, f"overview {ADA}", age=timedelta(minutes=31))

    await _take_over(harness)

    assert not [c for c in harness.slack.calls_to("response_url") if c.args["response_url_id"] == _hook(response_url)]
    shown = [c for c in harness.slack.calls if c.ok and c.contains("Ada Lovelace")]
    assert len(shown) == 1 and shown[0].method in ("chat.postEphemeral", "chat.postMessage")
    assert shown[0].args.get("user", user.user_id) == user.user_id


async def test_a_write_that_may_have_reached_the_crm_is_not_sent_again(app_harness: AppHarness) -> None:
    harness, user = app_harness, app_harness.new_user()
    ada = harness.crm_person(user, ADA)
    before = len(harness.crm_notes(user, ada))
    response_url = await _left_behind(harness, user, f"note {ADA} Renewal signed", age=timedelta(minutes=1), write=True)

    await _take_over(harness)

    assert len(harness.crm_notes(user, ada)) == before
    (told,) = [c for c in harness.slack.calls_to("response_url") if c.args["response_url_id"] == _hook(response_url)]
    assert told.contains(INTERRUPTED_WRITE)


async def test_a_write_that_never_started_runs_once(app_harness: AppHarness) -> None:
    harness, user = app_harness, app_harness.new_user()
    ada = harness.crm_person(user, ADA)
    before = len(harness.crm_notes(user, ada))
    await _left_behind(harness, user, f"note {ADA} Renewal signed", age=timedelta(minutes=1))

    await _take_over(harness)
    await _take_over(harness)

    assert [n.content for n in harness.crm_notes(user, ada)[: len(harness.crm_notes(user, ada)) - before]] == [
        "Renewal signed"
    ]
