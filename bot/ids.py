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


class View(StrEnum):
    NOTE_SUBMIT = "note.submit"
    TASK_SUBMIT = "task.submit"
    PERSON_SUBMIT = "person.submit"
    LOOKUP_SUBMIT = "lookup.submit"
    APPROVAL_EDIT_SUBMIT = "approval.edit_submit"


class Shortcut(StrEnum):
    SAVE_AS_NOTE = "message.save_as_note"
    CREATE_TASK_FROM_MESSAGE = "message.create_task"
