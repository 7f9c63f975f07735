"""`rollout-bot demo` shows the product working end to end: sandbox, store, parser, CrmService and the cards."""

from __future__ import annotations

import io
from pathlib import Path

from bot.config import load_settings
from bot.demo import run_demo


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
    assert "Head of Research" in card and "[Add note]  [Create task]" in card
    assert "✅ Note “Called about the renewal” created for Ada Lovelace" in shown
    assert "Several people match" in shown


async def test_demo_without_a_crm_offers_the_credentials_page(tmp_path: Path) -> None:
    shown = await run(tmp_path, ["overview ada"], accounts=0)
    assert "/mcp/credentials/" in shown  # the user's own terminal: there is no channel to leak it to
