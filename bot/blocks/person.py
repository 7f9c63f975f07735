"""A person from the CRM, the pick list when several match, and what happens after a miss or a write."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from slack_sdk.models.blocks import Block, ButtonElement, Option, StaticSelectElement

from bot.blocks.elements import (
    actions,
    button,
    context,
    fields_sections,
    header,
    pt,
    section,
)
from bot.blocks.text import (
    OPTION_TEXT,
    OPTION_VALUE,
    PLACEHOLDER,
    SECTION_TEXT,
    SELECT_OPTIONS,
    clean,
    email_link,
    escape_inline,
    escape_mrkdwn,
    is_plausible_email,
    link,
    safe_url,
    slack_date,
    slack_len,
    truncate_mrkdwn,
    truncate_plain,
)
from bot.blocks.values import encode_value
from bot.ids import Action
from bot.rollout.outcomes import Created, Credential, Note, Person, PersonSummary, Task

RECENT_NOTES = 3
OPEN_TASKS = 5
NOTE_PREVIEW = 300
TASK_PREVIEW = 200
QUERY_PREVIEW = 100
MATCH_ROWS = 10  # up to this many matches get a row and a button each; more become one select menu


def _present(value: str | None) -> bool:
    return bool(clean(value))


def _sort_key_desc(when: str | None) -> tuple[int, float | str]:
    """Newest first; unparseable dates after parseable ones, unknown dates last."""
    if not when:
        return (2, 0.0)
    try:
        parsed = datetime.fromisoformat(when.strip().replace("Z", "+00:00"))
    except ValueError:
        return (1, when)
    aware = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return (0, -aware.timestamp())


def _note_line(note: Note) -> str:
    content = truncate_mrkdwn(escape_mrkdwn(clean(note.content, single_line=True)), NOTE_PREVIEW)
    parts = [slack_date(note.created_at), escape_mrkdwn(clean(note.author, single_line=True))]
    meta = " · ".join(part for part in parts if part)
    return f"• {content or '(empty note)'}" + (f"  ({meta})" if meta else "")


def _task_line(task: Task) -> str:
    title = truncate_mrkdwn(escape_mrkdwn(clean(task.title, single_line=True)), TASK_PREVIEW) or "(untitled task)"
    due = slack_date(task.due_date)
    return f"• {title}" + (f" — due {due}" if due else "")


def _due_key(task: Task) -> tuple[int, str]:
    return (0, task.due_date) if task.due_date else (1, "")


def _detail_fields(person: Person) -> list[str]:
    labelled = (
        ("Title", person.title),
        ("Company", person.company),
        ("Phone", person.phone),
        ("Owner", person.owner),
        ("Stage", person.stage),
    )
    fields = [f"*{label}*\n{escape_mrkdwn(value)}" for label, value in labelled if _present(value)]
    if _present(person.last_activity):
        fields.append(f"*Last activity*\n{slack_date(person.last_activity)}")
    if _present(person.email):
        fields.insert(min(2, len(fields)), f"*Email*\n{email_link(person.email)}")
    return fields


def credential_line(credential: Credential) -> str:
    """ "Acme HubSpot · hubspot", escaped."""
    # Inline-escaped: callers may put it between bold markers.
    label = truncate_mrkdwn(escape_inline(credential.label), 100) or "CRM account"
    provider = truncate_mrkdwn(escape_inline(credential.provider), 40)
    return f"{label} · {provider}" if provider else label


def person_card(
    person: Person,
    credential: Credential | None,
    *,
    share_to_thread: str | None = None,
    shareable: bool = False,
    shared_by: str | None = None,
    following: bool | None = None,
) -> list[Block]:
    """shareable: the card is shown to its requester alone, with **Share in channel** (into `share_to_thread` when the
    card sits in a thread); shared_by: the Slack user id who shared it into a channel, said under it; following: whether
    the requester follows this person (Unfollow) or not (Follow). None: no such button, as on a shared card, which
    others see."""
    blocks: list[Block] = [header(clean(person.name, single_line=True) or "Unnamed person")]
    blocks += fields_sections(_detail_fields(person))

    notes = sorted(
        (note for note in person.notes if _present(note.content)), key=lambda note: _sort_key_desc(note.created_at)
    )
    if notes:
        lines = [_note_line(note) for note in notes[:RECENT_NOTES]]
        blocks.append(section("*Recent notes*\n" + "\n".join(lines)))

    open_tasks = sorted((task for task in person.tasks if task.is_open), key=_due_key)
    if open_tasks:
        lines = [_task_line(task) for task in open_tasks[:OPEN_TASKS]]
        more = len(open_tasks) - OPEN_TASKS
        if more > 0:
            lines.append(f"…and {more} more")
        blocks.append(section("*Open tasks*\n" + "\n".join(lines)))

    if credential is not None:
        blocks.append(context(f"From {credential_line(credential)}"))
    if shared_by:
        blocks.append(context(f"Shared by <@{escape_inline(shared_by)}>"))

    # The email rides along as the person's key in any account: a write moved to another account finds them by it.
    email = person.email if is_plausible_email(person.email) else None
    ids = encode_value(p=person.id, c=credential.id if credential else None, e=email)
    buttons: list[ButtonElement] = []
    if ids is not None:
        buttons.append(button("Add note", Action.PERSON_ADD_NOTE, value=ids, style="primary"))
        buttons.append(button("Create task", Action.PERSON_CREATE_TASK, value=ids))
    crm_url = safe_url(person.url)
    if crm_url is not None:
        buttons.append(button("Open in CRM", Action.PERSON_OPEN_IN_CRM, url=crm_url, value=ids))
    share = encode_value(p=person.id, c=credential.id if credential else None, t=share_to_thread) if shareable else None
    if share is not None:
        buttons.append(button("Share in channel", Action.PERSON_SHARE, value=share))
    # The card's own button: k=1 says so (the click then redraws this card), t its thread for the redrawn Share.
    follow = (
        encode_value(
            p=person.id, c=credential.id if credential else None, k="1", t=share_to_thread if shareable else None
        )
        if following is not None
        else None
    )
    if follow is not None:
        if following:
            buttons.append(button("Unfollow", Action.PERSON_UNFOLLOW, value=follow))
        else:
            buttons.append(button("Follow", Action.PERSON_FOLLOW, value=follow))
    blocks += actions(buttons)
    return blocks


def share_confirmation(share: str) -> list[Block]:
    """Asked before a card goes into a channel people from outside the workspace are in (Slack Connect)."""
    return [
        section(
            "This channel includes *people outside your workspace*: they will see this person's CRM details too. "
            "Share it anyway?"
        ),
        *actions(
            [
                button("Share anyway", Action.PERSON_SHARE_CONFIRM, value=share, style="primary"),
                button("Cancel", Action.PERSON_SHARE_CANCEL, value=share),
            ]
        ),
    ]


SHARE_CONFIRMATION_TEXT = "This channel includes people outside your workspace. Share the card anyway?"


def person_card_text(person: Person) -> str:
    """Notification fallback: "Ada Lovelace — CTO at Analytical Engines", escaped and short."""
    name = escape_mrkdwn(clean(person.name, single_line=True)) or "Unnamed person"
    title = escape_mrkdwn(clean(person.title, single_line=True))
    company = escape_mrkdwn(clean(person.company, single_line=True))
    role = f"{title} at {company}" if title and company else title or company
    return truncate_mrkdwn(f"{name} — {role}" if role else name, 300)


def _summary_line(person: PersonSummary) -> str:
    name = escape_inline(person.name) or "Unnamed person"
    details = [
        escape_mrkdwn(clean(part, single_line=True)) for part in (person.title, person.company, person.email) if part
    ]
    return f"*{truncate_mrkdwn(name, 200)}*" + ("\n" + truncate_mrkdwn(" · ".join(details), 500) if details else "")


def _quoted_query(query: str) -> str:
    return truncate_mrkdwn(escape_inline(query), QUERY_PREVIEW)


def match_picker(query: str, people: Sequence[PersonSummary], credential_id: str | None) -> list[Block]:
    blocks: list[Block] = [section(f"Several people match ‘{_quoted_query(query)}’ — which one?")]
    if len(people) <= MATCH_ROWS:
        for person in people:
            ids = encode_value(p=person.id, c=credential_id)
            show = button("Show", Action.PERSON_PICK, value=ids) if ids is not None else None
            blocks.append(section(_summary_line(person), accessory=show))
        return blocks

    options: list[Option] = []
    for person in people:
        ids = encode_value(limit=OPTION_VALUE, p=person.id, c=credential_id)
        if ids is not None:
            options.append(Option(text=pt(_option_text(person), OPTION_TEXT), value=ids))
    shown = options[:SELECT_OPTIONS]
    if shown:
        picker = StaticSelectElement(
            action_id=Action.PERSON_PICK.value,
            placeholder=pt("Choose a person", PLACEHOLDER),
            options=shown,
        )
        blocks.append(section(f"{len(people)} people found.", accessory=picker))
    if len(people) > len(shown):
        blocks.append(context("Not everyone is listed — add more to your search to narrow it down."))
    return blocks


def _option_text(person: PersonSummary) -> str:
    name = clean(person.name, single_line=True) or "Unnamed person"
    company = clean(person.company, single_line=True)
    return truncate_plain(f"{name} — {company}" if company else name, OPTION_TEXT)


def person_options(people: Sequence[PersonSummary]) -> list[Option]:
    """Options for the external person select: value is the person id, text "Name — Company"."""
    options = [
        Option(text=pt(_option_text(person), OPTION_TEXT), value=person.id)
        for person in people
        if person.id and slack_len(person.id) <= OPTION_VALUE
    ]
    return options[:SELECT_OPTIONS]


def unrecognised_card(query: str, text: str) -> list[Block]:
    """What Rollout answered about a person when its shape is new to the bot: shown as it came, escaped and cut."""
    intro = f"Rollout answered about ‘{_quoted_query(query)}’ in a form I can't show as a card. Here is what it sent:"
    body = truncate_mrkdwn(escape_mrkdwn(clean(text)), SECTION_TEXT) or "(nothing)"
    return [section(intro), section(body)]


def not_found_message(query: str) -> list[Block]:
    blocks: list[Block] = [section(f"No one in your CRM matches ‘{_quoted_query(query)}’.")]
    # The query travels so the "Create person" modal can be prefilled; cut it until the value fits.
    typed = clean(query, single_line=True)[:500]
    value = encode_value(q=typed)
    while value is None:
        typed = typed[: len(typed) // 2]
        value = encode_value(q=typed)
    blocks += actions([button("Create person", Action.PERSON_CREATE, value=value)])
    return blocks


def created_message(created: Created, person_name: str | None = None) -> list[Block]:
    """ "✅ Task 'Call Ada' due 2026-12-01 created for Ada Lovelace", with a CRM link when there is one."""
    summary = escape_mrkdwn(clean(created.summary, single_line=True)) or created.kind.capitalize()
    text = f"✅ {truncate_mrkdwn(summary, 1000)} created"
    name = clean(person_name or created.person_name, single_line=True)
    if name:
        text += f" for {truncate_mrkdwn(escape_mrkdwn(name), 200)}"
    if safe_url(created.url) is not None:
        text += f" · {link(created.url, 'Open in CRM')}"
    blocks: list[Block] = [section(text)]
    if created.credential is not None:
        blocks.append(context(f"In {credential_line(created.credential)}"))
    return blocks
