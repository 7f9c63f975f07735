from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bot.blocks.follows import (
    MAX_PEOPLE_LISTED,
    digest_message,
    digest_switch,
    digest_switched_message,
    follow_limit_message,
    followed_message,
    following_list,
    name_of,
    not_following_message,
    reminder_dismissed_message,
    reminder_gone_message,
    reminder_message,
    reminder_snoozed_message,
    unfollowed_message,
)
from bot.blocks.values import decode_value
from bot.ids import Action
from bot.rollout.outcomes import (
    Digest,
    DigestSwitched,
    DueTask,
    FieldChange,
    Followed,
    FollowedPerson,
    Following,
    FollowLimit,
    GonePerson,
    NotFollowing,
    PersonNews,
    Reminder,
    ReminderDismissed,
    ReminderGone,
    ReminderSnoozed,
    TaskLine,
    Unfollowed,
)

from . import slack_checks as check
from .strategies import FAST, hostile_text, ids, optional_text, urls

ADA = FollowedPerson("cred_1", "per_1", "Ada & <Lovelace>", "ada@example.com", "https://crm.example/people/1")
GRACE = FollowedPerson("", "per_2", "Grace Hopper")

followed_people = st.builds(
    FollowedPerson, account_id=ids, person_id=ids, name=hostile_text, email=optional_text, url=urls
)
task_lines = st.builds(TaskLine, title=hostile_text, due=st.none() | st.sampled_from(["2026-12-01", "soon"]))
news = st.builds(
    PersonNews,
    person=followed_people,
    notes=st.lists(hostile_text, max_size=5).map(tuple),
    opened=st.lists(task_lines, max_size=7).map(tuple),
    closed=st.lists(task_lines, max_size=7).map(tuple),
    fields=st.lists(
        st.builds(FieldChange, label=st.sampled_from(["Title", "Stage"]), before=optional_text, after=optional_text),
        max_size=4,
    ).map(tuple),
)
digests = st.builds(
    Digest,
    news=st.lists(news, max_size=45).map(tuple),
    due=st.lists(st.builds(DueTask, person=followed_people, task=task_lines, overdue=st.booleans()), max_size=35).map(
        tuple
    ),
    gone=st.lists(
        st.builds(GonePerson, person=followed_people, reason=st.sampled_from(["not_found", "account"])), max_size=25
    ).map(tuple),
    following=st.integers(0, 60),
    unchecked=st.integers(0, 5),
    digest_on=st.booleans(),
)


def test_a_followed_persons_name_links_to_their_crm_page_escaped_once() -> None:
    assert name_of(ADA) == "<https://crm.example/people/1|Ada &amp; &lt;Lovelace&gt;>"
    assert name_of(GRACE) == "*Grace Hopper*"


def test_followed_says_what_the_digest_will_do_and_offers_unfollow() -> None:
    blocks = check.message(followed_message(Followed(ADA, digest_on=True)).blocks)
    assert "morning digest" in check.all_text(blocks)
    [unfollow] = check.by_action(blocks, Action.PERSON_UNFOLLOW)
    assert decode_value(unfollow["value"]) == {"p": "per_1", "c": "cred_1"}  # as the card's own Follow carries them

    off = check.all_text(check.message(followed_message(Followed(GRACE, digest_on=False)).blocks))
    assert "digest on" in off
    again = check.all_text(check.message(followed_message(Followed(GRACE, already=True)).blocks))
    assert "already follow" in again


def test_the_list_marks_its_unfollow_buttons_and_ends_with_the_digest_switch() -> None:
    blocks = check.message(following_list(Following((ADA, GRACE), digest_on=True)).blocks)
    values = [decode_value(button["value"]) for button in check.by_action(blocks, Action.PERSON_UNFOLLOW)]
    assert values == [{"p": "per_1", "c": "cred_1", "l": "1"}, {"p": "per_2", "l": "1"}]
    [switch] = check.by_action(blocks, Action.DIGEST_SWITCH)
    assert switch["value"] == "off" and blocks[-1]["accessory"] == switch


def test_a_long_list_says_how_many_more() -> None:
    people = tuple(FollowedPerson("c", f"per_{n}", f"Person {n}") for n in range(MAX_PEOPLE_LISTED + 7))
    blocks = check.message(following_list(Following(people, digest_on=False)).blocks)
    assert len(check.by_action(blocks, Action.PERSON_UNFOLLOW)) == MAX_PEOPLE_LISTED
    assert "…and 7 more." in check.all_text(blocks)
    assert [switch["value"] for switch in check.by_action(blocks, Action.DIGEST_SWITCH)] == ["on"]


def test_an_empty_list_says_how_to_follow() -> None:
    blocks = check.message(following_list(Following(())).blocks)
    assert "don't follow anyone yet" in check.all_text(blocks) and not list(check.elements(blocks))


def test_the_digest_switch_flips_to_the_other_state() -> None:
    [on] = check.message(digest_switch(True))
    [off] = check.message(digest_switch(False))
    assert on["accessory"]["value"] == "off" and "*on*" in on["text"]["text"]
    assert off["accessory"]["value"] == "on" and "*off*" in off["text"]["text"]


def test_the_digest_shows_news_due_tasks_and_who_is_gone_with_card_buttons() -> None:
    digest = Digest(
        news=(
            PersonNews(ADA, notes=("Called about the renewal",), fields=(FieldChange("Stage", "Lead", "Customer"),)),
        ),
        due=(DueTask(GRACE, TaskLine("Send proposal", "2026-01-02"), overdue=True),),
        gone=(GonePerson(GRACE, "not_found"),),
        following=2,
    )
    blocks = check.message(digest_message(digest).blocks)
    text = check.all_text(blocks)
    assert "New note: “Called about the renewal”" in text and "Stage: Lead → Customer" in text
    assert "overdue since" in text and "no longer in your CRM" in text
    [card] = check.by_action(blocks, Action.PERSON_PICK)
    assert decode_value(card["value"]) == {"p": "per_1", "c": "cred_1", "e": "ada@example.com"}


def test_a_digest_of_someone_gone_alone_does_not_say_nothing_changed_for_them() -> None:
    alone = Digest(gone=(GonePerson(ADA, "account"),), following=1)
    text = check.all_text(check.message(digest_message(alone).blocks))
    assert "Nothing changed" not in text and "no longer connected" in text
    with_another = Digest(gone=(GonePerson(ADA, "account"),), following=2)
    assert "Nothing changed for the 1 person you follow." in check.all_text(
        check.message(digest_message(with_another).blocks)
    )


def test_the_reminder_offers_the_card_snooze_and_done_carrying_its_key() -> None:
    blocks = check.message(reminder_message(Reminder("k" * 64, ADA, TaskLine("Send proposal", "2026-01-02"))).blocks)
    assert [element["action_id"] for element in check.elements(blocks)] == [
        Action.PERSON_PICK,
        Action.REMINDER_SNOOZE,
        Action.REMINDER_DONE,
    ]
    assert [element["value"] for element in check.elements(blocks)][1:] == ["k" * 64, "k" * 64]
    unchecked = reminder_message(Reminder("k", GRACE, TaskLine("x"), checked=False))
    assert "couldn't check" in check.all_text(check.message(unchecked.blocks))


def test_after_a_reminder_click() -> None:
    until = datetime(2026, 1, 3, 9, tzinfo=UTC)
    snoozed = check.all_text(check.message(reminder_snoozed_message(ReminderSnoozed(TaskLine("Call"), until)).blocks))
    assert f"<!date^{int(until.timestamp())}^" in snoozed
    done = check.all_text(check.message(reminder_dismissed_message(ReminderDismissed(TaskLine("Call"), ADA)).blocks))
    assert "Rollout can't close tasks from Slack" in done and "<https://crm.example/people/1|your CRM>" in done
    gone = check.all_text(check.message(reminder_gone_message(ReminderGone()).blocks))
    assert "no longer kept" in gone


@FAST
@given(people=st.lists(followed_people, max_size=50), on=st.booleans(), query=st.none() | hostile_text)
def test_any_list_is_valid_block_kit(people: list[FollowedPerson], on: bool, query: str | None) -> None:
    message = following_list(Following(tuple(people), on, query))
    check.message(message.blocks)
    assert message.text


@FAST
@given(digest=digests, on_demand=st.booleans())
def test_any_digest_is_valid_block_kit(digest: Digest, on_demand: bool) -> None:
    message = digest_message(digest, on_demand=on_demand)
    check.message(message.blocks)
    assert message.text


@FAST
@given(person=followed_people, task=task_lines, key=ids, already=st.booleans(), on=st.booleans(), text=hostile_text)
def test_any_answer_is_valid_block_kit(
    person: FollowedPerson, task: TaskLine, key: str, already: bool, on: bool, text: str
) -> None:
    for message in (
        followed_message(Followed(person, already, on)),
        unfollowed_message(Unfollowed(person)),
        not_following_message(NotFollowing(text)),
        follow_limit_message(FollowLimit(50)),
        digest_switched_message(DigestSwitched(on, 3)),
        reminder_message(Reminder(key, person, task, on)),
        reminder_snoozed_message(ReminderSnoozed(task, datetime(2026, 1, 1, tzinfo=UTC))),
        reminder_dismissed_message(ReminderDismissed(task, person)),
    ):
        check.message(message.blocks)
        assert message.text
