"""Every outcome as a message: the one renderer Slack and the terminal demo share (where it goes is theirs to say)."""

from __future__ import annotations

from bot.blocks.credentials import connect_dm, credential_picker, credentials_list, disconnected_message
from bot.blocks.elements import Message
from bot.blocks.follows import (
    digest_message,
    digest_switched_message,
    follow_limit_message,
    followed_message,
    following_list,
    not_following_message,
    unfollowed_message,
)
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
    Digest,
    DigestSwitched,
    Disconnected,
    Failure,
    Followed,
    Following,
    FollowLimit,
    Matches,
    NotFollowing,
    NotFound,
    Outcome,
    PersonOverview,
    Unfollowed,
    Unrecognised,
)

__all__ = ["Message", "outcome_message"]


def outcome_message(
    outcome: Outcome,
    *,
    parked: str | None = None,
    credential_id: str | None = None,
    shareable: bool = False,
    share_to_thread: str | None = None,
    shared_by: str | None = None,
    following: bool | None = None,
) -> Message:
    """parked: the id of the request waiting for a CRM account, for the picker's and the connect DM's buttons;
    credential_id: the account the request used, carried on pick-list buttons; shareable, share_to_thread, shared_by:
    a person card shown to its requester alone with a Share button, or one they shared (bot.blocks.person); following:
    whether that requester follows the card's person (its Follow or Unfollow button), None for no such button."""
    match outcome:
        case PersonOverview(person=person, credential=credential):
            card = person_card(
                person,
                credential,
                shareable=shareable,
                share_to_thread=share_to_thread,
                shared_by=shared_by,
                following=following,
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
        case Disconnected():
            return Message(disconnected_message(outcome), "Forgotten.")
        case Followed():
            return followed_message(outcome)
        case FollowLimit():
            return follow_limit_message(outcome)
        case Unfollowed():
            return unfollowed_message(outcome)
        case NotFollowing():
            return not_following_message(outcome)
        case Following():
            return following_list(outcome)
        case DigestSwitched():
            return digest_switched_message(outcome)
        case Digest():
            return digest_message(outcome, on_demand=True)
        case Failure(reason=reason, detail=detail):
            said = user_message(reason, detail)
            return Message(error_message(said), said)
