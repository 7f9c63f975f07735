"""Following people: the answers to follow/unfollow, the list of people followed, the morning digest and task
reminders. Pure builders: data in, Block Kit out."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ButtonElement

from bot.blocks.elements import Message, actions, button, context, divider, header, section
from bot.blocks.text import (
    BUTTON_VALUE,
    clean,
    escape_inline,
    escape_mrkdwn,
    link,
    slack_date,
    slack_len,
    truncate_mrkdwn,
    truncate_plain,
)
from bot.blocks.values import encode_value
from bot.ids import SLASH_COMMAND, Action
from bot.rollout.outcomes import (
    Digest,
    DigestSwitched,
    Followed,
    FollowedPerson,
    Following,
    FollowLimit,
    NotFollowing,
    PersonNews,
    Reminder,
    ReminderDismissed,
    ReminderGone,
    ReminderSnoozed,
    TaskLine,
    Unfollowed,
)

NAME_PREVIEW = 100
NOTE_PREVIEW = 200
TASK_PREVIEW = 150
FIELD_PREVIEW = 80
MAX_PEOPLE_LISTED = 40  # a message holds 50 blocks; the rest is said in one line
DIGEST_WHEN = "at 9:00 on working days, your time"


def name_of(person: FollowedPerson) -> str:
    """The person's name as a link to their CRM page when there is one; escaped (once) and short either way."""
    name = truncate_plain(clean(person.name, single_line=True), NAME_PREVIEW) or "Unnamed person"
    linked = link(person.url, name) if person.url else ""
    return linked if linked.startswith("<") else f"*{truncate_mrkdwn(escape_inline(name), NAME_PREVIEW)}*"


def person_ids(person: FollowedPerson) -> str | None:
    """The value of a button about this person: ids only, as the card's own buttons carry them."""
    return encode_value(p=person.person_id, c=person.account_id or None, e=person.email)


def followed_message(followed: Followed) -> Message:
    who = name_of(followed.person)
    if followed.already:
        said = f"You already follow {who}."
    elif followed.digest_on:
        said = f"Following {who}: your morning digest ({DIGEST_WHEN}) will tell you what changes for them."
    else:
        said = f"Following {who}. Your morning digest is off — `{SLASH_COMMAND} digest on` turns it back on."
    blocks: list[Block] = [section(said)]
    unfollow = unfollow_button(followed.person)
    blocks += actions([unfollow] if unfollow else [])
    blocks.append(
        context(
            f"`{SLASH_COMMAND} following` lists everyone you follow; `{SLASH_COMMAND} digest` shows what changed now."
        )
    )
    return Message(blocks, f"Following {clean(followed.person.name, single_line=True)}.")


def follow_limit_message(limit: FollowLimit) -> Message:
    said = (
        f"You already follow {limit.limit} people, as many as a digest can read each morning. "
        f"Unfollow someone first (`{SLASH_COMMAND} following`)."
    )
    return Message([section(said)], said)


def unfollowed_message(unfollowed: Unfollowed) -> Message:
    said = f"You no longer follow {name_of(unfollowed.person)}."
    return Message([section(said)], f"Unfollowed {clean(unfollowed.person.name, single_line=True)}.")


def not_following_message(outcome: NotFollowing) -> Message:
    if outcome.query:
        said = f"You don't follow anyone matching ‘{truncate_mrkdwn(escape_inline(outcome.query), 80)}’."
    else:
        said = "You weren't following them (any more)."
    return Message([section(said), context(f"`{SLASH_COMMAND} following` lists everyone you follow.")], said)


def following_list(following: Following) -> Message:
    """The people followed, each with Unfollow; the digest's state with its switch."""
    if not following.people:
        said = (
            "You don't follow anyone yet. Follow a person from their card, or with "
            f"`{SLASH_COMMAND} follow ada@example.com`: the morning digest then tells you what changed for them."
        )
        return Message([section(said)], "You don't follow anyone yet.")
    if following.query:
        title = f"Several people you follow match ‘{truncate_mrkdwn(escape_inline(following.query), 80)}’:"
    else:
        title = f"You follow {_count(len(following.people))}:"
    blocks: list[Block] = [section(title)]
    for person in following.people[:MAX_PEOPLE_LISTED]:
        blocks.append(section(name_of(person), accessory=unfollow_button(person, listed=True)))
    more = len(following.people) - MAX_PEOPLE_LISTED
    if more > 0:
        blocks.append(context(f"…and {more} more."))
    blocks += digest_switch(following.digest_on)
    return Message(blocks, title)


def digest_switch(on: bool) -> list[Block]:
    """The digest's state in one line, with the button that flips it."""
    if on:
        said = f"Morning digest: *on* — {DIGEST_WHEN}, when something changed."
        flip = button("Turn digest off", Action.DIGEST_SWITCH, value="off")
    else:
        said = "Morning digest: *off*."
        flip = button("Turn digest on", Action.DIGEST_SWITCH, value="on", style="primary")
    return [section(said, accessory=flip)]


def digest_switched_message(switched: DigestSwitched) -> Message:
    if switched.on:
        said = f"Morning digest on: {DIGEST_WHEN}, when something changed for the people you follow."
        if not switched.following:
            said += " You don't follow anyone yet."
    else:
        said = f"Morning digest off. `{SLASH_COMMAND} digest` still shows what changed, whenever you ask."
    return Message([section(said)], said)


def digest_message(digest: Digest, *, on_demand: bool = False) -> Message:
    """What changed for each person followed, then tasks due today or overdue, then who is no longer followed."""
    if not digest.following:
        return following_list(Following((), digest.digest_on))
    blocks: list[Block] = [header("What changed in your CRM")]
    for news in digest.news[:MAX_PEOPLE_LISTED]:
        blocks.append(section(_news_text(news), accessory=_card_button(news.person)))
    if len(digest.news) > MAX_PEOPLE_LISTED:
        blocks.append(context(f"…and changes for {len(digest.news) - MAX_PEOPLE_LISTED} more people."))
    still_followed = digest.following - len(digest.gone)
    if not digest.news and still_followed > 0:
        blocks.append(section(f"Nothing changed for the {_count(still_followed)} you follow."))
    if digest.due:
        lines = [_due_line(due.person, due.task, due.overdue) for due in digest.due[:30]]
        more = len(digest.due) - len(lines)
        blocks.append(divider())
        blocks.append(
            section("*Due today or overdue*\n" + "\n".join(lines) + (f"\n…and {more} more" if more > 0 else ""))
        )
    if digest.gone:
        lines = [
            f"• {name_of(gone.person)} — "
            + ("no longer in your CRM" if gone.reason == "not_found" else "their CRM account is no longer connected")
            for gone in digest.gone[:20]
        ]
        blocks.append(section("*No longer followed*\n" + "\n".join(lines)))
    notes = []
    if digest.unchecked:
        notes.append(f"{_count(digest.unchecked)} couldn't be checked this time.")
    if not on_demand:
        notes.append(f"`{SLASH_COMMAND} following` to change who; `{SLASH_COMMAND} digest off` to stop these.")
    if notes:
        blocks.append(context(" ".join(notes)))
    changed = len(digest.news)
    text = f"What changed for {_count(changed)} you follow." if changed else "Your CRM digest."
    return Message(blocks[:50], text)


def reminder_message(reminder: Reminder) -> Message:
    task = _task_text(reminder.task)
    due = slack_date(reminder.task.due)
    said = f"⏰ Reminder: {task} for {name_of(reminder.person)}" + (f" is due {due}." if due else " is due.")
    blocks: list[Block] = [section(said)]
    if not reminder.checked:
        blocks.append(context("I couldn't check your CRM just now, so it may be done already."))
    buttons: list[ButtonElement] = []
    card = person_ids(reminder.person)
    if card is not None:
        buttons.append(button("Show card", Action.PERSON_PICK, value=card))
    if slack_len(reminder.key) <= BUTTON_VALUE:  # a key digest always fits; anything else goes without the buttons
        buttons.append(button("Snooze 1 day", Action.REMINDER_SNOOZE, value=reminder.key))
        buttons.append(button("Done", Action.REMINDER_DONE, value=reminder.key, style="primary"))
    blocks += actions(buttons)
    return Message(blocks, f"Reminder: {clean(reminder.task.title, single_line=True)} is due.")


def reminder_snoozed_message(snoozed: ReminderSnoozed) -> Message:
    until = f"<!date^{int(snoozed.until.timestamp())}^{{date_short_pretty}} at {{time}}|tomorrow>"
    said = f"Snoozed: I'll remind you of {_task_text(snoozed.task)} again {until}."
    return Message([section(said)], "Snoozed for a day.")


def reminder_dismissed_message(dismissed: ReminderDismissed) -> Message:
    crm = link(dismissed.person.url, "your CRM") if dismissed.person.url else "your CRM"
    said = (
        f"Done — I won't remind you of {_task_text(dismissed.task)} again. Rollout can't close tasks from Slack, so "
        f"mark it done in {crm}."
    )
    return Message([section(said)], "Reminder dismissed.")


def reminder_gone_message(_: ReminderGone) -> Message:
    said = "That reminder is no longer kept, so there is nothing to change."
    return Message([section(said)], said)


def _news_text(news: PersonNews) -> str:
    lines = [name_of(news.person)]
    for note in news.notes[:3]:
        lines.append(f"• New note: “{truncate_mrkdwn(escape_mrkdwn(clean(note, single_line=True)), NOTE_PREVIEW)}”")
    if len(news.notes) > 3:
        lines.append(f"• …and {len(news.notes) - 3} more notes")
    lines += [f"• Task opened: {_task_text(task)}" + _due_suffix(task) for task in news.opened[:5]]
    lines += [f"• Task closed: {_task_text(task)}" for task in news.closed[:5]]
    for change in news.fields:
        before = _field_value(change.before)
        after = _field_value(change.after)
        lines.append(f"• {change.label}: {before} → {after}")
    return "\n".join(lines)


def _field_value(value: str | None) -> str:
    return truncate_mrkdwn(escape_mrkdwn(clean(value, single_line=True)), FIELD_PREVIEW) or "_none_"


def _task_text(task: TaskLine) -> str:
    title = truncate_mrkdwn(escape_mrkdwn(clean(task.title, single_line=True)), TASK_PREVIEW) or "an untitled task"
    return f"“{title}”"


def _due_suffix(task: TaskLine) -> str:
    due = slack_date(task.due)
    return f" — due {due}" if due else ""


def _due_line(person: FollowedPerson, task: TaskLine, overdue: bool) -> str:
    when = slack_date(task.due)
    state = f"overdue since {when}" if overdue else "due today"
    return f"• {_task_text(task)} for {name_of(person)} — {state}"


def _card_button(person: FollowedPerson) -> ButtonElement | None:
    ids = person_ids(person)
    return None if ids is None else button("Show card", Action.PERSON_PICK, value=ids)


def unfollow_button(person: FollowedPerson, *, listed: bool = False) -> ButtonElement | None:
    """Unfollow, carrying the ids the card's Follow button carries; `listed`: in the list of people followed (l=1),
    so the click refreshes that list rather than answering beside it."""
    ids = encode_value(p=person.person_id, c=person.account_id or None, l="1" if listed else None)
    return None if ids is None else button("Unfollow", Action.PERSON_UNFOLLOW, value=ids)


def _count(people: int) -> str:
    return f"{people} {'person' if people == 1 else 'people'}"
