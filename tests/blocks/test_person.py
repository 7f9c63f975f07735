from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from bot.blocks import (
    created_message,
    match_picker,
    not_found_message,
    person_card,
    person_card_text,
    person_options,
    to_dicts,
)
from bot.blocks.text import slack_date
from bot.ids import Action
from bot.rollout.outcomes import Created, Credential, Note, Person, PersonSummary, Task

from . import slack_checks as check
from .strategies import FAST, credentials, hostile_text, ids, people, summaries

ACME = Credential(id="cred_hubspot_1", provider="hubspot", label="Acme HubSpot")

ADA = Person(
    id="per_1",
    name="Ada Lovelace",
    email="ada@example.com",
    title="CTO",
    company="Analytical Engines",
    phone="+44 20 7946 0000",
    owner="Charles",
    stage="Customer",
    last_activity="2026-01-05",
    url="https://crm.example/people/1",
    notes=(
        Note("n1", "Oldest", "2025-01-01T10:00:00Z"),
        Note("n2", "Newest", "2026-01-03T10:00:00+00:00", author="Charles"),
        Note("n3", "No date"),
        Note("n4", "Middle", "2025-06-01"),
        Note("n5", "   "),
    ),
    tasks=(
        Task("t1", "Send contract", "2026-12-01"),
        Task("t2", "Done already", "2026-01-01", status="completed"),
        Task("t3", "Call Ada", "2026-11-01", status="open"),
        Task("t4", "Someday"),
        *(Task(f"t{n}", f"Follow-up {n}", f"2027-01-{n:02d}") for n in range(5, 10)),
    ),
)


def _texts(blocks: list[dict]) -> list[str]:
    return [text for _, text in check.strings(blocks)]


def test_dates_become_slack_date_tokens_on_the_same_calendar_day() -> None:
    assert slack_date("2026-01-05") == "<!date^1767614400^{date_short_pretty}|2026-01-05>"  # noon UTC
    assert slack_date("2026-10-29T09:30:00Z") == "<!date^1793266200^{date_short_pretty}|2026-10-29>"
    assert slack_date("next <!channel> week") == "next &lt;!channel&gt; week"
    assert slack_date(None) == ""


def test_person_card_shows_details_notes_tasks_account_and_actions() -> None:
    blocks = check.message(person_card(ADA, ACME))

    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "Ada Lovelace", "emoji": True}}
    fields = [field["text"] for field in blocks[1]["fields"]]
    assert fields == [
        "*Title*\nCTO",
        "*Company*\nAnalytical Engines",
        "*Email*\n<mailto:ada@example.com|ada@example.com>",
        "*Phone*\n+44 20 7946 0000",
        "*Owner*\nCharles",
        "*Stage*\nCustomer",
        "*Last activity*\n<!date^1767614400^{date_short_pretty}|2026-01-05>",  # in each reader's locale
    ]

    text = check.all_text(blocks)
    notes = text[text.index("*Recent notes*") : text.index("*Open tasks*")]
    assert notes.index("Newest") < notes.index("Middle") < notes.index("Oldest")
    assert "No date" not in notes  # only three, newest first
    tasks = text[text.index("*Open tasks*") :]
    assert "Done already" not in tasks
    assert tasks.index("Call Ada — due <!date^") < tasks.index("Send contract — due <!date^")
    assert "|2026-11-01>" in tasks and "|2026-12-01>" in tasks
    assert "Someday" not in tasks and "…and 3 more" in tasks
    assert "From Acme HubSpot · hubspot" in text

    for action in (Action.PERSON_ADD_NOTE, Action.PERSON_CREATE_TASK):
        [button] = check.by_action(blocks, action)
        assert json.loads(button["value"]) == {"p": "per_1", "c": "cred_hubspot_1", "e": "ada@example.com"}
    [open_in_crm] = check.by_action(blocks, Action.PERSON_OPEN_IN_CRM)
    assert open_in_crm["url"] == "https://crm.example/people/1"


def test_person_card_leaves_out_what_is_missing() -> None:
    blocks = check.message(person_card(Person(id="per_2", name="Grace", url="javascript:alert(1)"), None))

    assert [block["type"] for block in blocks] == ["header", "actions"]
    assert [element["action_id"] for element in check.elements(blocks)] == [
        Action.PERSON_ADD_NOTE,
        Action.PERSON_CREATE_TASK,
    ]
    assert json.loads(check.by_action(blocks, Action.PERSON_ADD_NOTE)[0]["value"]) == {"p": "per_2"}


def test_person_card_escapes_crm_text_and_shows_plain_text_as_is() -> None:
    hostile = Person(
        id="per_3",
        name="<!channel> Eve",
        title="<@U123> & co",
        email="eve@example.com>|<!here>",
        notes=(Note("n", "<https://evil.example|click> &amp;"),),
    )
    blocks = check.message(person_card(hostile, Credential("c", "<!here>", "<@U1>")))
    mrkdwn = [obj["text"] for obj in _text_objects(blocks) if obj["type"] == "mrkdwn"]
    joined = "\n".join(mrkdwn)
    assert "&lt;@U123&gt; &amp; co" in joined
    assert "&lt;https://evil.example|click&gt; &amp;amp;" in joined
    assert "mailto" not in joined  # not a plausible address, so not linked
    assert "From &lt;@U1&gt; · &lt;!here&gt;" in joined
    assert blocks[0]["text"]["text"] == "<!channel> Eve"  # plain_text is never parsed for mentions


def _text_objects(blocks: list[dict]) -> list[dict]:
    found: list[dict] = []

    def visit(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text"):
                found.append(node)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(blocks)
    return found


def test_person_card_without_usable_ids_has_no_value_buttons() -> None:
    blocks = check.message(person_card(Person(id="x" * 3000, name="Long id", url="https://crm.example/p"), ACME))
    assert [element["action_id"] for element in check.elements(blocks)] == [Action.PERSON_OPEN_IN_CRM]


def test_person_card_offers_follow_or_unfollow_to_its_requester_only() -> None:
    following = check.message(person_card(ADA, ACME, following=True))
    not_yet = check.message(person_card(ADA, ACME, following=False))
    shared = to_dicts(person_card(ADA, ACME, shared_by="U1"))  # what others see: no following state of theirs

    [unfollow] = check.by_action(following, Action.PERSON_UNFOLLOW)
    [follow] = check.by_action(not_yet, Action.PERSON_FOLLOW)
    ids = {"p": "per_1", "c": "cred_hubspot_1", "k": "1"}  # k: the card's own button, so the click redraws it
    assert json.loads(unfollow["value"]) == json.loads(follow["value"]) == ids
    in_thread = check.message(person_card(ADA, ACME, following=False, shareable=True, share_to_thread="1700.1"))
    [follow_in_thread] = check.by_action(in_thread, Action.PERSON_FOLLOW)
    assert json.loads(follow_in_thread["value"]) == {**ids, "t": "1700.1"}  # the redrawn card shares into its thread
    assert not check.by_action(following, Action.PERSON_FOLLOW)
    assert not check.by_action(not_yet, Action.PERSON_UNFOLLOW)
    assert not check.by_action(shared, Action.PERSON_FOLLOW) and not check.by_action(shared, Action.PERSON_UNFOLLOW)
    without_account = check.message(person_card(ADA, None, following=False))
    assert json.loads(check.by_action(without_account, Action.PERSON_FOLLOW)[0]["value"]) == {"p": "per_1", "k": "1"}


@FAST
@given(person=people, credential=st.none() | credentials, following=st.none() | st.booleans())
def test_person_card_is_valid_for_hostile_data(
    person: Person, credential: Credential | None, following: bool | None
) -> None:
    blocks = check.message(person_card(person, credential, shareable=True, following=following))
    for action in (Action.PERSON_ADD_NOTE, Action.PERSON_CREATE_TASK):
        for button in check.by_action(blocks, action):
            value = json.loads(button["value"])
            assert value["p"] == person.id
            assert value.get("c") == (credential.id if credential else None)
    for button in check.by_action(blocks, Action.PERSON_OPEN_IN_CRM):
        assert button["url"].startswith(("http://", "https://"))


def test_person_card_text_is_short_and_escaped() -> None:
    assert person_card_text(ADA) == "Ada Lovelace — CTO at Analytical Engines"
    assert person_card_text(Person(id="p", name="<!here>", company="A&B")) == "&lt;!here&gt; — A&amp;B"
    long = person_card_text(Person(id="p", name="n" * 10000))
    assert len(long) <= 300 and long.endswith("…")


def _people(count: int) -> list[PersonSummary]:
    return [PersonSummary(f"per_{n}", f"Ada {n}", f"ada{n}@example.com", "CTO", "Acme") for n in range(count)]


def test_match_picker_lists_up_to_ten_people_with_a_show_button_each() -> None:
    blocks = check.message(match_picker("ada", _people(10), "cred_1"))

    assert "Several people match ‘ada’" in blocks[0]["text"]["text"]
    rows = blocks[1:]
    assert len(rows) == 10
    assert rows[0]["text"]["text"] == "*Ada 0*\nCTO · Acme · ada0@example.com"
    values = [json.loads(row["accessory"]["value"]) for row in rows]
    assert values == [{"p": f"per_{n}", "c": "cred_1"} for n in range(10)]
    assert {row["accessory"]["action_id"] for row in rows} == {Action.PERSON_PICK}


def test_match_picker_uses_a_select_menu_for_more_than_ten() -> None:
    blocks = check.message(match_picker("ada", _people(11), None))

    [select] = check.by_action(blocks, Action.PERSON_PICK)
    assert select["type"] == "static_select"
    assert [json.loads(option["value"]) for option in select["options"]] == [{"p": f"per_{n}"} for n in range(11)]
    assert select["options"][0]["text"]["text"] == "Ada 0 — Acme"


def test_match_picker_caps_the_select_at_a_hundred_and_says_so() -> None:
    blocks = check.message(match_picker("ada", _people(150), "cred_1"))
    [select] = check.by_action(blocks, Action.PERSON_PICK)
    assert len(select["options"]) == 100
    assert "Not everyone is listed" in check.all_text(blocks)


@FAST
@given(query=hostile_text, found=st.lists(summaries, max_size=14), credential_id=st.none() | ids)
def test_match_picker_is_valid_for_hostile_data(
    query: str, found: list[PersonSummary], credential_id: str | None
) -> None:
    blocks = check.message(match_picker(query, found, credential_id))
    for element in check.by_action(blocks, Action.PERSON_PICK):
        for value in [element.get("value")] + [option["value"] for option in element.get("options", [])]:
            if value is not None:
                assert json.loads(value)["p"] in {person.id for person in found}


def test_not_found_message_offers_to_create_the_person_with_the_query() -> None:
    blocks = check.message(not_found_message("Ada <!here>"))
    assert "No one in your CRM matches ‘Ada &lt;!here&gt;’" in blocks[0]["text"]["text"]
    [create] = check.by_action(blocks, Action.PERSON_CREATE)
    assert json.loads(create["value"]) == {"q": "Ada <!here>"}


@FAST
@given(query=hostile_text)
def test_not_found_message_value_always_fits(query: str) -> None:
    blocks = check.message(not_found_message(query))
    [create] = check.by_action(blocks, Action.PERSON_CREATE)
    assert len(create["value"]) <= 2000
    assert isinstance(json.loads(create["value"])["q"], str)


def test_created_message_confirms_with_link_and_account() -> None:
    created = Created(
        kind="task",
        id="task_1",
        summary="Task 'Call Ada' due 2026-12-01",
        person_id="per_1",
        url="https://crm.example/tasks/1",
        credential=ACME,
    )
    blocks = check.message(created_message(created, "Ada Lovelace"))
    assert blocks[0]["text"]["text"] == (
        "✅ Task 'Call Ada' due 2026-12-01 created for Ada Lovelace · <https://crm.example/tasks/1|Open in CRM>"
    )
    assert blocks[1]["elements"][0]["text"] == "In Acme HubSpot · hubspot"


def test_created_message_without_link_name_or_summary() -> None:
    blocks = check.message(created_message(Created(kind="note", id="n1", summary="", url="javascript:x")))
    assert [block["text"]["text"] for block in blocks] == ["✅ Note created"]


@FAST
@given(summary=hostile_text, name=st.none() | hostile_text, url=st.none() | hostile_text)
def test_created_message_is_valid_for_hostile_data(summary: str, name: str | None, url: str | None) -> None:
    check.message(created_message(Created(kind="person", id="p", summary=summary, url=url), name))


def test_person_options_show_name_and_company_with_the_id_as_value() -> None:
    found = [
        PersonSummary("per_1", "Ada Lovelace", company="Analytical Engines"),
        PersonSummary("per_2", "Grace <b>"),
        PersonSummary("x" * 151, "Too long an id"),
        PersonSummary("per_3", "N" * 200, company="C"),
    ]
    options = to_dicts(person_options(found))
    assert [option["value"] for option in options] == ["per_1", "per_2", "per_3"]
    assert options[0]["text"] == {"type": "plain_text", "text": "Ada Lovelace — Analytical Engines", "emoji": True}
    assert options[1]["text"]["text"] == "Grace <b>"
    assert len(options[2]["text"]["text"]) == 75 and options[2]["text"]["text"].endswith("…")


def test_person_options_are_capped_at_a_hundred() -> None:
    assert len(person_options(_people(120))) == 100
