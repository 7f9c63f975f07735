"""What a person can ask for without the LLM, as values that run now or wait for a CRM account and run again later.

Slash commands, modal submissions and the buttons that resolve a parked request all build a `Request` and call `run`.
A request parked while the user picks or connects a CRM account is stored as `to_payload()` (ids and what the user
typed, never tokens) and comes back through `rerun`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from slack_sdk.models.views import View as SlackView

from bot.blocks import fields
from bot.blocks.modals import message_to_crm_modal, note_modal, person_modal, task_modal
from bot.blocks.person import person_card, person_card_text
from bot.blocks.text import is_plausible_email
from bot.blocks.values import encode_metadata
from bot.ids import SLASH_COMMAND
from bot.rollout.client import Problem
from bot.rollout.outcomes import Created, Failure, FailureReason, Matches, Person, PersonOverview, PersonSummary
from handlers.respond import Reply, fail, open_modal, present

if TYPE_CHECKING:
    from bot.services import Services


_PERSON_EXAMPLE = f"{SLASH_COMMAND} person Ada Lovelace ada@example.com"


class Op(StrEnum):
    OVERVIEW = "overview"
    PERSON = "person"
    NOTE = "note"
    TASK = "task"
    CREATE_PERSON = "create_person"
    CREDENTIALS = "credentials"


@dataclass(frozen=True, slots=True)
class Request:
    """One thing to do for a user. `args` hold ids and typed text: query, person_id, person_name, credential_id,
    text, title, due (ISO date), due_text (a date we could not read), description, first_name, last_name, email,
    job_title, company."""

    op: Op
    args: Mapping[str, str] = field(default_factory=dict)
    channel_id: str | None = None  # where the answer belongs; None for the user's DM with the bot
    thread_ts: str | None = None

    def arg(self, name: str) -> str:
        return self.args.get(name) or ""

    def with_args(self, **changes: str | None) -> Request:
        """A copy with args changed; None removes one."""
        merged = {**self.args, **changes}
        return replace(self, args={key: value for key, value in merged.items() if value})

    def to_payload(self) -> dict[str, Any]:
        return {"op": self.op.value, "args": dict(self.args), "channel": self.channel_id, "thread_ts": self.thread_ts}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Request | None:
        try:
            op = Op(payload.get("op"))
        except ValueError:
            return None
        raw_args = payload.get("args")
        args = {k: v for k, v in raw_args.items() if isinstance(v, str)} if isinstance(raw_args, Mapping) else {}
        channel, thread = payload.get("channel"), payload.get("thread_ts")
        return cls(op, args, channel if isinstance(channel, str) else None, thread if isinstance(thread, str) else None)


@dataclass(frozen=True, slots=True)
class _Run:
    request: Request
    reply: Reply
    services: Services
    trigger_id: str | None  # lets a missing part open a modal instead of failing

    @property
    def parkable(self) -> dict[str, Any]:
        # Parked without an account: after the user picks or connects one, their new default applies.
        return self.request.with_args(credential_id=None).to_payload()


@dataclass(frozen=True, slots=True)
class _Target:
    person_id: str
    name: str
    credential_id: str | None
    overview: PersonOverview | None = None

    @property
    def about(self) -> Person | PersonSummary | None:
        """Who the confirmation names, when we know."""
        if self.overview is not None:
            return self.overview.person
        return PersonSummary(self.person_id, self.name) if self.name else None


async def run(request: Request, reply: Reply, services: Services, *, trigger_id: str | None = None) -> None:
    await _OPS[request.op](_Run(request, reply, services, trigger_id))


async def rerun(
    payload: Mapping[str, Any],
    click: Reply,
    services: Services,
    *,
    trigger_id: str | None = None,
    credential_id: str | None = None,
) -> None:
    """Run a parked request for the user who clicked, answering where it was first asked.

    The click's response_url is used only when the click happened in that same place (a picker shown in the channel);
    a click in the DM ("Try again" after connecting) answers in the original channel through the Web API.
    """
    request = Request.from_payload(payload)
    if request is None:
        await fail(click, "expired")
        return
    same_place = request.channel_id == click.channel_id
    reply = replace(
        click,
        channel_id=request.channel_id,
        thread_ts=request.thread_ts,
        response_url=click.response_url if same_place else None,
    )
    await run(request.with_args(credential_id=credential_id), reply, services, trigger_id=trigger_id)


async def connect(reply: Reply, services: Services) -> None:
    """DM the user their credential-manager link."""
    await present(await services.crm.connect_link(reply.user), reply, services)


def modal_metadata(reply: Reply, person_id: str | None = None, credential_id: str | None = None) -> str:
    """private_metadata of our modals: ids only — person, account, channel, thread, and who may submit it."""
    return encode_metadata(p=person_id, c=credential_id, ch=reply.channel_id, t=reply.thread_ts, u=reply.user.user_id)


# ---- operations -------------------------------------------------------------------------------------------------


async def _overview(job: _Run) -> None:
    credential = job.request.arg("credential_id") or None
    outcome = await job.services.crm.overview(job.reply.user, job.request.arg("query"), credential_id=credential)
    await present(outcome, job.reply, job.services, rerun=job.parkable, credential_id=credential)


async def _person(job: _Run) -> None:
    credential = job.request.arg("credential_id") or None
    outcome = await job.services.crm.person(job.reply.user, job.request.arg("person_id"), credential_id=credential)
    await present(outcome, job.reply, job.services, rerun=job.parkable, credential_id=credential)


async def _note(job: _Run) -> None:
    target = await _target(job, "note")
    if target is None:
        return
    text = job.request.arg("text")
    if not text.strip():
        view = note_modal(
            target.person_id,
            target.name,
            target.credential_id,
            private_metadata=modal_metadata(job.reply, target.person_id, target.credential_id),
        )
        await _open_or_show_card(job, view, target)
        return

    async def write(credential: str | None) -> Created | Problem:
        return await job.services.crm.add_note(
            job.reply.user, target.person_id, text, credential_id=credential, about=target.about
        )

    await _finish_write(job, target, write)


async def _task(job: _Run) -> None:
    target = await _target(job, "task")
    if target is None:
        return
    title, due, due_text = job.request.arg("title"), job.request.arg("due") or None, job.request.arg("due_text")
    description = job.request.arg("description")
    if not title.strip() or due_text:
        unreadable = f"I couldn't read “{due_text}” as a date — pick one below." if due_text else None
        view = task_modal(
            target.person_id,
            target.name,
            target.credential_id,
            private_metadata=modal_metadata(job.reply, target.person_id, target.credential_id),
            initial_title=title,
            initial_due=due,
            initial_description=description,
            error=unreadable,
        )
        await _open_or_show_card(job, view, target)
        return

    async def write(credential: str | None) -> Created | Problem:
        return await job.services.crm.create_task(
            job.reply.user,
            target.person_id,
            title,
            due_date=due,
            description=description or None,
            credential_id=credential,
            about=target.about,
        )

    await _finish_write(job, target, write)


async def _create_person(job: _Run) -> None:
    first, last, email = job.request.arg("first_name"), job.request.arg("last_name"), job.request.arg("email")
    job_title, company = job.request.arg("job_title"), job.request.arg("company")
    if not first.strip() or not is_plausible_email(email):
        prefill = {
            fields.PERSON_FIRST: first,
            fields.PERSON_LAST: last,
            fields.PERSON_EMAIL: email,
            fields.PERSON_TITLE: job_title,
            fields.PERSON_COMPANY: company,
        }
        problem = f"“{email}” doesn't look like an email address." if email else None
        view = person_modal(prefill, private_metadata=modal_metadata(job.reply), error=problem)
        if not await open_modal(job.reply.client, job.trigger_id, view, job.reply.user):
            await fail(job.reply, "invalid_input", f"Give a name and an email, e.g. {_PERSON_EXAMPLE}")
        return
    outcome = await job.services.crm.create_person(
        job.reply.user,
        first_name=first,
        last_name=last or None,
        email=email,
        title=job_title or None,
        company=company or None,
        credential_id=job.request.arg("credential_id") or None,
    )
    await present(outcome, job.reply, job.services, rerun=job.parkable)


async def _credentials(job: _Run) -> None:
    outcome = await job.services.crm.credentials(job.reply.user)
    await present(outcome, job.reply, job.services, rerun=job.parkable)


_OPS: dict[Op, Callable[[_Run], Awaitable[None]]] = {
    Op.OVERVIEW: _overview,
    Op.PERSON: _person,
    Op.NOTE: _note,
    Op.TASK: _task,
    Op.CREATE_PERSON: _create_person,
    Op.CREDENTIALS: _credentials,
}


# ---- shared steps -----------------------------------------------------------------------------------------------


async def _target(job: _Run, kind: str) -> _Target | None:
    """Who a note or task is for. None when that is not settled yet and the user has been shown why (or a picker)."""
    request, services, user = job.request, job.services, job.reply.user
    credential = request.arg("credential_id") or None
    if request.arg("person_id"):
        return _Target(request.arg("person_id"), request.arg("person_name"), credential)
    outcome = await services.crm.overview(user, request.arg("query"), credential_id=credential)
    if isinstance(outcome, PersonOverview):
        used = outcome.credential.id if outcome.credential else credential
        return _Target(outcome.person.id, outcome.person.name, used, outcome)
    if isinstance(outcome, Matches):
        # Several people fit: the modal with a person search keeps what the user typed.
        typed = request.arg("text") if kind == "note" else request.arg("title")
        view = message_to_crm_modal("note" if kind == "note" else "task", typed, "", modal_metadata(job.reply))
        if await open_modal(job.reply.client, job.trigger_id, view, user):
            return None
    await present(outcome, job.reply, services, rerun=job.parkable, credential_id=credential)
    return None


async def _open_or_show_card(job: _Run, view: SlackView, target: _Target) -> None:
    if await open_modal(job.reply.client, job.trigger_id, view, job.reply.user):
        return
    # No trigger, or it expired (Slack allows 3 s): the card's own buttons open the modal afresh.
    if target.overview is not None:
        person = target.overview.person
        await job.reply.ephemeral(person_card(person, target.overview.credential), person_card_text(person))
    else:
        await fail(job.reply, "expired")


async def _finish_write(
    job: _Run, target: _Target, write: Callable[[str | None], Awaitable[Created | Problem]]
) -> None:
    outcome = await write(target.credential_id)
    gone = isinstance(outcome, Failure) and outcome.reason is FailureReason.CREDENTIAL_GONE
    if gone and target.credential_id is not None:
        # The account named on a card may be a colleague's or since disconnected: use the user's own instead.
        outcome = await write(None)
    parkable = job.request.with_args(person_id=target.person_id, person_name=target.name, query=None)
    await present(outcome, job.reply, job.services, rerun=parkable.with_args(credential_id=None).to_payload())
