"""The five CRM tools of the Rollout MCP server, backed by a `SandboxCrm`.

Errors are returned as `CallToolResult(is_error=True)` whose text is Rollout's JSON error object. Raising the SDK's
`ToolError` would instead prefix the text with "Error executing tool ..." and log it, and the no-credentials message
carries the caller's token in its link.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from bot.sandbox.crm import CrmAccount, CrmError, SandboxCrm

CredentialIdParam = Annotated[
    str | None,
    Field(
        description="Id of the connected CRM credential to use, as returned by list_credentials. "
        "Required only when the user has more than one valid credential."
    ),
]
PersonIdParam = Annotated[str, Field(description="Id of the person in the CRM, e.g. from get_person_overview.")]

_READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=True)
_WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)


def _result(payload: dict[str, Any]) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(payload, ensure_ascii=False))], structured_content=payload
    )


def _error(code: str, message: str, **details: Any) -> CallToolResult:
    payload = {"error": code, "message": message, **details}
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(payload, ensure_ascii=False))], is_error=True
    )


class _Caller:
    """Who is calling, from the bearer token the SDK verified for this very request."""

    def __init__(self) -> None:
        access = get_access_token()
        if access is None or access.subject is None:  # the SDK rejects unauthenticated requests before tools run
            raise RuntimeError("tool called without a verified access token")
        self.subject: str = access.subject
        self.token: str = access.token


class CrmTools:
    def __init__(self, *, crm: SandboxCrm, public_base_url: str) -> None:
        self._crm = crm
        self._public_base_url = public_base_url.rstrip("/")

    def register(self, server: MCPServer[Any]) -> None:
        server.add_tool(
            self.list_credentials,
            name="list_credentials",
            description="List the CRM accounts (credentials) the authenticated user has connected through Rollout. "
            "Returns each credential's id, appKey (which CRM, e.g. hubspot or salesforce), label and validity. "
            "When more than one is connected, pass the chosen id as credentialId to the other tools.",
            annotations=_READ_ONLY,
        )
        server.add_tool(
            self.get_person_overview,
            name="get_person_overview",
            description="Get an overview of a person (contact or lead) in the user's connected CRM: contact details, "
            "owner, lifecycle stage, last activity, notes (newest first) and open tasks. Identify the person by "
            "personId, by exact email, or by a free-text query matched against name and email. When a query "
            "matches several people, a short list of matches is returned instead; call again with the chosen "
            "personId.",
            annotations=_READ_ONLY,
        )
        server.add_tool(
            self.create_person,
            name="create_person",
            description="Create a person (contact) in the user's connected CRM. The email must be a valid address "
            "and unique within the CRM account. Returns the created person.",
            annotations=_WRITE,
        )
        server.add_tool(
            self.create_note,
            name="create_note",
            description="Add a note to a person's record in the user's connected CRM. Returns the created note.",
            annotations=_WRITE,
        )
        server.add_tool(
            self.create_task,
            name="create_task",
            description="Create a follow-up task linked to a person in the user's connected CRM. The task is "
            "created with status 'open'. Returns the created task.",
            annotations=_WRITE,
        )

    # ---- tools -------------------------------------------------------------------------------------------------

    async def list_credentials(self) -> CallToolResult:
        caller = _Caller()
        credentials = [{**a.to_wire(), "isValid": True} for a in self._crm.accounts(caller.subject)]
        return _result({"credentials": credentials})

    async def get_person_overview(
        self,
        credentialId: CredentialIdParam = None,
        personId: Annotated[str | None, Field(description="Id of the person in the CRM.")] = None,
        email: Annotated[str | None, Field(description="Exact email address of the person.")] = None,
        query: Annotated[
            str | None, Field(description="Free-text search, matched case-insensitively against name and email.")
        ] = None,
    ) -> CallToolResult:
        caller = _Caller()
        account = self._resolve_account(caller, credentialId)
        if isinstance(account, CallToolResult):
            return account
        if not (personId or email or (query and query.strip())):
            return _error("invalid_input", "Provide at least one of personId, email or query.")
        try:
            people = self._crm.find_people(caller.subject, account.id, person_id=personId, email=email, query=query)
        except CrmError as refused:
            return _error(refused.code, refused.message)
        if not people:
            return _error("not_found", f"No person matches '{personId or email or query}'.")
        if len(people) > 1:
            return _result({"matches": [p.to_match() for p in people]})
        person = people[0]
        return _result(
            {
                "person": person.to_wire(),
                "notes": [n.to_wire() for n in self._crm.notes_of(caller.subject, account.id, person.id)],
                "tasks": [t.to_wire() for t in self._crm.tasks_of(caller.subject, account.id, person.id)],
                "credential": account.to_wire(),
            }
        )

    async def create_person(
        self,
        firstName: Annotated[str, Field(description="The person's first (given) name.")],
        email: Annotated[str, Field(description="The person's email address; must be unique in the CRM.")],
        credentialId: CredentialIdParam = None,
        lastName: Annotated[str | None, Field(description="The person's last (family) name.")] = None,
        title: Annotated[str | None, Field(description="Job title.")] = None,
        company: Annotated[str | None, Field(description="Company or organization name.")] = None,
        phone: Annotated[str | None, Field(description="Phone number, any format.")] = None,
    ) -> CallToolResult:
        caller = _Caller()
        account = self._resolve_account(caller, credentialId)
        if isinstance(account, CallToolResult):
            return account
        try:
            person = self._crm.create_person(
                caller.subject,
                account.id,
                first_name=firstName,
                email=email,
                last_name=lastName or "",
                title=title or "",
                company=company or "",
                phone=phone or "",
            )
        except CrmError as refused:
            return _error(refused.code, refused.message)
        return _result({"person": person.to_wire()})

    async def create_note(
        self,
        personId: PersonIdParam,
        content: Annotated[str, Field(description="The note text. Plain text; line breaks are kept.")],
        credentialId: CredentialIdParam = None,
    ) -> CallToolResult:
        caller = _Caller()
        account = self._resolve_account(caller, credentialId)
        if isinstance(account, CallToolResult):
            return account
        try:
            note = self._crm.create_note(caller.subject, account.id, person_id=personId, content=content)
        except CrmError as refused:
            return _error(refused.code, refused.message)
        return _result(
            {"note": {"id": note.id, "personId": note.person_id, "content": note.content, "createdAt": note.created_at}}
        )

    async def create_task(
        self,
        personId: PersonIdParam,
        title: Annotated[str, Field(description="Short title of the task, e.g. 'Send proposal'.")],
        credentialId: CredentialIdParam = None,
        dueDate: Annotated[str | None, Field(description="Due date as YYYY-MM-DD.")] = None,
        description: Annotated[str | None, Field(description="Longer description of the task.")] = None,
    ) -> CallToolResult:
        caller = _Caller()
        account = self._resolve_account(caller, credentialId)
        if isinstance(account, CallToolResult):
            return account
        try:
            task = self._crm.create_task(
                caller.subject,
                account.id,
                person_id=personId,
                title=title,
                due_date=dueDate,
                description=description or "",
            )
        except CrmError as refused:
            return _error(refused.code, refused.message)
        return _result({"task": {"personId": task.person_id, **task.to_wire()}})

    # ---- credential rules --------------------------------------------------------------------------------------

    def _resolve_account(self, caller: _Caller, credential_id: str | None) -> CrmAccount | CallToolResult:
        """The account to use, or the Rollout error explaining why there is none."""
        accounts = self._crm.accounts(caller.subject)
        if not accounts:
            link = f"{self._public_base_url}/mcp/credentials/{caller.token}"
            return _error(
                "no_credentials",
                f"No CRM is connected for this user. Connect one at {link}",
                credentialsUrl=link,
            )
        if credential_id:
            chosen = next((a for a in accounts if a.id == credential_id), None)
            if chosen is None:
                return _error("invalid_credential", f"Credential '{credential_id}' is not a valid credential.")
            return chosen
        if len(accounts) > 1:
            return _error(
                "credential_required",
                "Multiple valid credentials found. Provide credentialId to choose one.",
                credentials=[a.to_wire() for a in accounts],
            )
        return accounts[0]
