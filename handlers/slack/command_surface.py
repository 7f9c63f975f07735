"""Commands run from Slack: the Slack surface for `bot.runner`, and parked commands brought back by a click.

Slash commands, modal submissions and the buttons that resolve a parked command build a `bot.commands` command and
call `run`. A command parked while the user picks or connects a CRM account is stored with where it was asked (ids and
what the user typed, never tokens) and comes back through `rerun`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from slack_sdk.models.views import View as SlackView

from bot import metrics, runner
from bot.blocks import fields
from bot.blocks.messages import Notice, user_message
from bot.blocks.modals import message_to_crm_modal, note_modal, person_modal, task_modal
from bot.blocks.values import encode_metadata
from bot.commands import Command, Connect, CrmCommand, PersonRef, from_record, to_record
from bot.identity import SlackUser
from bot.rollout.outcomes import Outcome
from bot.runner import Form, NoteForm, PersonForm, TaskForm
from handlers.slack.agent_output import CONFIGURE_HINT, answer_command
from handlers.slack.replies import Reply, fail, open_modal, present, show_help

if TYPE_CHECKING:
    from bot.services import Services


@dataclass(frozen=True, slots=True)
class SlackSurface:
    reply: Reply
    services: Services
    trigger_id: str | None = None  # lets a missing part open a modal instead of failing (Slack allows 3 s)

    @property
    def user(self) -> SlackUser:
        return self.reply.user

    async def show(
        self, outcome: Outcome, *, waiting: CrmCommand | None = None, credential_id: str | None = None
    ) -> None:
        parked = None if waiting is None else parked_payload(waiting, self.reply)
        await present(outcome, self.reply, self.services, rerun=parked, credential_id=credential_id)

    async def ask(self, form: Form) -> bool:
        return await open_modal(self.reply.client, self.trigger_id, self._modal(form), self.user)

    async def help(self, problem: str | None) -> None:
        await show_help(self.reply, problem)

    async def free_text(self, text: str) -> None:
        """A question for the agent, answered privately; without one configured the user learns why, next to the
        usage help listing everything that works without it."""
        if self.services.agent is None:
            metrics.refused("not_configured")
            await show_help(self.reply, user_message(Notice.LLM_NOT_CONFIGURED, CONFIGURE_HINT))
            return
        await answer_command(text, self.reply, self.services)

    def _modal(self, form: Form) -> SlackView:
        match form:
            case NoteForm(target=PersonRef() as target, text=text):
                metadata = modal_metadata(self.reply, target)
                return note_modal(
                    target.id, target.name, target.credential_id, private_metadata=metadata, initial_text=text
                )
            case NoteForm(text=text):
                return message_to_crm_modal("note", text, "", modal_metadata(self.reply))
            case TaskForm(target=PersonRef() as target):
                return task_modal(
                    target.id,
                    target.name,
                    target.credential_id,
                    private_metadata=modal_metadata(self.reply, target),
                    initial_title=form.title,
                    initial_due=form.due,
                    initial_description=form.description,
                    error=form.error,
                )
            case TaskForm(title=title):
                return message_to_crm_modal("task", title, "", modal_metadata(self.reply))
            case PersonForm():
                prefill = {
                    fields.PERSON_FIRST: form.first_name,
                    fields.PERSON_LAST: form.last_name,
                    fields.PERSON_EMAIL: form.email,
                    fields.PERSON_TITLE: form.job_title,
                    fields.PERSON_COMPANY: form.company,
                }
                return person_modal(prefill, private_metadata=modal_metadata(self.reply), error=form.error)


async def run(command: Command, reply: Reply, services: Services, *, trigger_id: str | None = None) -> None:
    await runner.run(command, services.crm, SlackSurface(reply, services, trigger_id), services.follows)


async def rerun(payload: Mapping[str, Any], click: Reply, services: Services, *, trigger_id: str | None = None) -> None:
    """Run a parked command for the user who clicked, answering where it was first asked.

    The click's response_url is used only when the click happened in that same place (a picker shown in the channel);
    a click in the DM ("Try again" after connecting) answers in the original channel through the Web API.
    """
    record = payload.get("command")
    command = from_record(record) if isinstance(record, Mapping) else None
    if command is None:
        await fail(click, Notice.EXPIRED)
        return
    channel, thread = payload.get("channel"), payload.get("thread_ts")
    channel = channel if isinstance(channel, str) else None
    reply = replace(
        click,
        channel_id=channel,
        thread_ts=thread if isinstance(thread, str) else None,
        response_url=click.response_url if channel == click.channel_id else None,
    )
    await run(command, reply, services, trigger_id=trigger_id)


def parked_payload(command: CrmCommand, reply: Reply) -> dict[str, Any]:
    return {"command": to_record(command), "channel": reply.channel_id, "thread_ts": reply.thread_ts}


async def connect(reply: Reply, services: Services) -> None:
    """DM the user their credential-manager link."""
    await run(Connect(), reply, services)


def modal_metadata(reply: Reply, person: PersonRef | None = None) -> str:
    """private_metadata of our modals: ids only — person (id, and email as their key in any account), account,
    channel, thread, and who may submit it."""
    if person is None:
        return encode_metadata(ch=reply.channel_id, t=reply.thread_ts, u=reply.user.user_id)
    return encode_metadata(
        p=person.id,
        e=person.email,
        c=person.credential_id,
        ch=reply.channel_id,
        t=reply.thread_ts,
        u=reply.user.user_id,
    )
