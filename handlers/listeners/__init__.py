"""One module per feature; each registers all its listeners. See handlers/__init__.py for the layout rule."""

from __future__ import annotations

from handlers.listeners import (
    agent,
    app_home,
    crm_accounts,
    crm_forms,
    follows,
    lifecycle,
    message_to_crm,
    person_cards,
    slash_command,
    thread_saves,
)

LISTENERS = (
    slash_command,
    person_cards,
    crm_forms,
    crm_accounts,
    follows,
    message_to_crm,
    thread_saves,
    app_home,
    agent,
    lifecycle,
)
