"""Every action_id, callback_id and command the app uses, in one place.

handlers/ register listeners with these, bot/blocks/ put them on buttons and modals, and a test checks both (and
manifest.yml) against this module.
"""

from __future__ import annotations

from enum import StrEnum

SLASH_COMMAND = "/rollout"


class Action(StrEnum):
    PERSON_ADD_NOTE = "person.add_note"
    PERSON_CREATE_TASK = "person.create_task"
    PERSON_OPEN_IN_CRM = "person.open_in_crm"  # a link button: Slack still sends the click, we just ack it
    PERSON_PICK = "person.pick"  # one of several matches
    PERSON_CREATE = "person.create"  # "Create person" after a miss
    PERSON_SHARE = "person.share"  # "Share in channel" on a card only its requester sees
    PERSON_SHARE_CONFIRM = "person.share_confirm"  # "Share anyway" when people outside the workspace would see it
    PERSON_SHARE_CANCEL = "person.share_cancel"
    CREDENTIAL_CHOOSE = "credential.choose"
    CREDENTIAL_MAKE_DEFAULT = "credential.make_default"
    CONNECT_OPEN = "connect.open"  # the credential-manager link button in the DM
    CONNECT_RETRY = "connect.retry"  # "Try again" after connecting
    HOME_CONNECT = "home.connect"
    HOME_LOOKUP = "home.lookup"
    APPROVAL_APPROVE = "approval.approve"
    APPROVAL_EDIT = "approval.edit"
    APPROVAL_CANCEL = "approval.cancel"
    PERSON_SELECT = "person.select"  # external select in shortcut modals, backed by the CRM
    ANSWER_FEEDBACK = "answer.feedback"  # helpful / not helpful under an agent answer
    THREAD_SAVE_APPROVE = "thread_save.approve"
    THREAD_SAVE_EDIT = "thread_save.edit"
    THREAD_SAVE_CANCEL = "thread_save.cancel"
    THREAD_SAVE_TASKS = "thread_save.tasks"  # the proposed tasks' checkboxes; read when Approve is clicked
    THREAD_SAVE_PERSON = "thread_save.person"  # pick the person when the thread names nobody the CRM knows
    PERSON_FOLLOW = "person.follow"  # on the card: the morning digest tells what changed for them
    PERSON_UNFOLLOW = "person.unfollow"  # on the card, in the list of people followed, and on the Home tab
    DIGEST_SWITCH = "digest.switch"  # the morning digest on or off (Home tab, the list of people followed)
    REMINDER_SNOOZE = "reminder.snooze"
    REMINDER_DONE = "reminder.done"


class View(StrEnum):
    NOTE_SUBMIT = "note.submit"
    TASK_SUBMIT = "task.submit"
    PERSON_SUBMIT = "person.submit"
    LOOKUP_SUBMIT = "lookup.submit"
    APPROVAL_EDIT_SUBMIT = "approval.edit_submit"
    THREAD_SAVE_EDIT_SUBMIT = "thread_save.edit_submit"


class Shortcut(StrEnum):
    SAVE_AS_NOTE = "message.save_as_note"
    CREATE_TASK_FROM_MESSAGE = "message.create_task"
    SAVE_THREAD = "message.save_thread"
