"""The thread save card and its note modal hold whatever a thread said, within Slack's limits and without markup."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.blocks.feedback import feedback_buttons
from bot.blocks.thread_save import person_block_save, saved_in_thread, thread_note_modal, thread_save_card
from bot.commands import PersonRef
from bot.identity import SlackUser
from bot.ids import Action
from bot.thread_saves import DraftTask, ThreadSave

from . import slack_checks as check
from .strategies import FAST, hostile_text

ADA = PersonRef("per_1", "Ada Lovelace", "ada@x.example", "cred_1", "https://crm.example/p/1")


def _save(
    note: str = "A note", tasks: tuple[DraftTask, ...] = (), person: PersonRef | None = ADA, **more: object
) -> ThreadSave:
    values: dict[str, object] = {
        "id": "save_1",
        "requester": SlackUser("T1", "U1"),
        "channel_id": "C1",
        "thread_ts": "1.1",
        "last_ts": "1.9",
        "note": note,
        "tasks": tasks,
        "person": person,
        "messages": 9,
        "since_last": False,
    }
    values.update(more)
    return ThreadSave(**values)  # type: ignore[arg-type]


def test_a_pending_card_has_the_tasks_ticked_and_three_buttons() -> None:
    blocks = check.message(thread_save_card(_save(tasks=(DraftTask("Send quote", "2026-12-04"), DraftTask("Demo")))))

    (boxes,) = check.by_action(blocks, Action.THREAD_SAVE_TASKS)
    assert [o["value"] for o in boxes["initial_options"]] == ["0", "1"]
    assert boxes["options"][0]["text"]["text"] == "Send quote (due 2026-12-04)"
    buttons = [e["action_id"] for e in check.elements(blocks) if e.get("type") == "button"]
    assert buttons == [Action.THREAD_SAVE_APPROVE, Action.THREAD_SAVE_EDIT, Action.THREAD_SAVE_CANCEL]


def test_without_a_person_the_card_asks_for_one_on_a_select_that_knows_its_save() -> None:
    blocks = check.message(thread_save_card(_save(person=None)))

    (select,) = check.by_action(blocks, Action.THREAD_SAVE_PERSON)
    (block,) = [b for b in blocks if select in b.get("elements", [])]
    assert person_block_save(block["block_id"]) == "save_1"


def test_a_finished_card_has_no_buttons_and_links_the_crm() -> None:
    blocks = check.message(thread_save_card(_save(status="done", links=("https://crm.example/n/1",))))

    assert not [e for e in check.elements(blocks) if "action_id" in e]
    assert "https://crm.example/n/1" in check.all_text(blocks)


@FAST
@given(hostile_text, st.lists(hostile_text, max_size=12))
def test_hostile_thread_text_stays_within_limits(note: str, titles: list[str]) -> None:
    save = _save(note=note or "x", tasks=tuple(DraftTask(t or "x") for t in titles), person=PersonRef("p", note))
    check.message(thread_save_card(save))
    check.message(thread_save_card(_save(note=note or "x", person=None)))
    check.message(saved_in_thread(save, titles))
    check.view(thread_note_modal(save, "https://hooks.slack.com/actions/T1/1/abc"))


def test_feedback_buttons_are_valid() -> None:
    (block,) = check.message(feedback_buttons())
    assert block["type"] == "context_actions" and block["elements"][0]["action_id"] == Action.ANSWER_FEEDBACK
