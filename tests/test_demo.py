"""`rollout-bot demo` shows the product working end to end: sandbox, store, parser, CrmService and the cards."""

from __future__ import annotations

import io
from pathlib import Path

from bench.fakes.anthropic_api import FakeAnthropic, Reply, ToolCall
from bot.config import load_settings
from bot.demo import DEMO_USER, run_demo
from bot.sandbox import SandboxCrm


class Script(io.StringIO):
    def isatty(self) -> bool:
        return False


async def run(tmp_path: Path, lines: list[str], accounts: int = 1) -> str:
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}", anthropic_api_key=None)
    out = io.StringIO()
    await run_demo(settings, accounts=accounts, stdin=Script("\n".join(lines) + "\n"), stdout=out)
    return out.getvalue()


async def test_demo_shows_a_person_overview_and_writes(tmp_path: Path) -> None:
    shown = await run(
        tmp_path,
        ["/rollout overview Ada Lovelace", 'note "Ada Lovelace" Called about the renewal', "overview ada"],
    )
    card = shown[shown.index("/rollout overview Ada Lovelace") :]
    assert "== Ada Lovelace ==" in card
    assert "Head of Research" in card and "Type: note ada.lovelace@analytical-engines.example <your note>" in card
    assert "✅ Note “Called about the renewal” created for Ada Lovelace" in shown
    assert "Several people match" in shown


async def test_demo_without_a_crm_offers_the_credentials_page(tmp_path: Path) -> None:
    shown = await run(tmp_path, ["overview ada"], accounts=0)
    assert "/mcp/credentials/" in shown  # the user's own terminal: there is no channel to leak it to


async def test_a_task_with_an_unreadable_date_is_not_created_without_it(tmp_path: Path) -> None:
    shown = await run(tmp_path, ['task "Ada Lovelace" Send the proposal due someday'])
    assert "I couldn't read “someday” as a date" in shown
    assert "created" not in shown


async def test_free_text_without_a_model_says_what_to_set(tmp_path: Path) -> None:
    shown = await run(tmp_path, ["what's new with Ada?"])
    assert "ANTHROPIC_API_KEY" in shown


async def test_free_text_runs_the_agent_and_an_approval_is_a_yes_no_question(
    tmp_path: Path, model: FakeAnthropic
) -> None:
    twin = SandboxCrm(accounts_per_new_subject=1)  # the demo's sandbox seeds the same ids for its one user
    account = twin.accounts(DEMO_USER.default_subject)[0].id
    ada = twin.find_people(DEMO_USER.default_subject, account, query="Ada Lovelace")[0].id
    model.script(
        Reply(tool_calls=(ToolCall("get_person_overview", {"query": "Ada Lovelace"}),)),
        Reply(
            text="I'll add that once you approve.",
            tool_calls=(ToolCall("create_task", {"personId": ada, "title": "Call Ada"}),),
        ),
        Reply(text="Done — the task is in your CRM."),
    )
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
        anthropic_api_key=model.api_key,
        anthropic_base_url=model.base_url,
        anthropic_model="claude-test",
    )
    out = io.StringIO()
    lines = ["remind me to call Ada", "y"]
    await run_demo(settings, stdin=Script("\n".join(lines) + "\n"), stdout=out)
    shown = out.getvalue()
    assert "== Ada Lovelace ==" in shown  # the overview the agent read, as a card
    assert "Approve: Create task “Call Ada”" in shown and "[y/N] y" in shown
    assert "Done — written to your CRM." in shown
    assert "Done — the task is in your CRM." in shown
