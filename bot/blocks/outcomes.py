"""Every outcome as a message: the one renderer Slack and the terminal demo share (where it goes is theirs to say)."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.models.blocks import Block

from bot.blocks.credentials import connect_dm, credential_picker, credentials_list, disconnected_message
from bot.blocks.messages import error_message, user_message
from bot.blocks.person import (
    created_message,
    match_picker,
    not_found_message,
    person_card,
    person_card_text,
    unrecognised_card,
)
from bot.rollout.outcomes import (
    ChooseCredential,
    ConnectNeeded,
    Created,
    Credentials,
    Disconnected,
    Failure,
    Matches,
    NotFound,
    Outcome,
    PersonOverview,
    Unrecognised,
)


@dataclass(frozen=True, slots=True)
class Message:
    blocks: list[Block]
    text: str  # the notification and screen-reader text


def outcome_message(
    outcome: Outcome,
    *,
    parked: str | None = None,
    credential_id: str | None = None,
    shareable: bool = False,
    share_to_thread: str | None = None,
    shared_by: str | None = None,
) -> Message:
    """parked: the id of the request waiting for a CRM account, for the picker's and the connect DM's buttons;
    credential_id: the account the request used, carried on pick-list buttons; shareable, share_to_thread, shared_by:
    a person card shown to its requester alone with a Share button, or one they shared (bot.blocks.person)."""
    match outcome:
        case PersonOverview(person=person, credential=credential):
            card = person_card(
                person, credential, shareable=shareable, share_to_thread=share_to_thread, shared_by=shared_by
            )
            return Message(card, person_card_text(person))
        case Matches(query=query, people=people):
            return Message(match_picker(query, people, credential_id), "Several people match — which one?")
        case NotFound(query=query):
            return Message(not_found_message(query), "No one in your CRM matches that.")
        case Unrecognised(query=query, text=text):
            return Message(unrecognised_card(query, text), "Here is what Rollout answered.")
        case Created(kind=kind):
            return Message(created_message(outcome), f"{kind.capitalize()} created.")
        case Credentials(credentials=credentials, default_id=default_id):
            return Message(credentials_list(credentials, default_id), "Your CRM accounts")
        case ChooseCredential(credentials=credentials):
            return Message(credential_picker(credentials, parked), "Pick which CRM account to use.")
        case ConnectNeeded(link=link, valid_minutes=minutes):
            return Message(connect_dm(link, parked, minutes), "Connect your CRM to use Rollout from Slack.")
        case Disconnected(token=token, default_account=default, conversations=conversations, messages=messages):
            return Message(disconnected_message(token, default, conversations, messages), "Forgotten.")
        case Failure(reason=reason, detail=detail):
            said = user_message(reason, detail)
            return Message(error_message(said), said)
