"""A newcomer's first hour with `rollout-bot demo`: what it suggests works when typed, and what it says is true."""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import sys
from datetime import date, timedelta
from pathlib import Path

from bench.fakes.anthropic_api import FakeAnthropic, Reply, ToolCall
from bot.commands import parse_due
from bot.config import load_settings
from bot.demo import DEMO_USER, run_demo
from bot.sandbox import SandboxCrm

ADA = "ada.lovelace@analytical-engines.example"
BYRON = "ada.byron@byron-partners.example"
# What the demo prints when a line did not do what it said it would.
DEAD_ENDS = (
    "No one in your CRM matches",
    "I need a little more",
    "Say who",
    "Free-text questions go to the LLM agent",
    "Did you mean",
    "isn't a command",
)


class Script(io.StringIO):
    def isatty(self) -> bool:
        return False


async def run(tmp_path: Path, lines: list[str], *, accounts: int = 1, model: FakeAnthropic | None = None) -> str:
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
        anthropic_api_key=model.api_key if model else None,
        anthropic_base_url=model.base_url if model else None,
        anthropic_model="claude-test",
    )
    out = io.StringIO()
    await run_demo(settings, accounts=accounts, stdin=Script("\n".join(lines) + "\n"), stdout=out)
    return out.getvalue()


def answers(shown: str) -> dict[str, str]:
    """What the demo printed for each line typed (the demo echoes scripted lines after its prompt)."""
    parts = re.split(r"^/rollout (.*)$", shown, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def suggestions(shown: str) -> list[str]:
    """Every "Try:" suggestion printed, one per `·`-separated item."""
    found: list[str] = []
    for match in re.finditer(r"[Tt]ry:(.*(?:\n {6,}.*)*)", shown):
        found += [item.strip() for item in re.split(r"   ·   |\n", match.group(1)) if item.strip()]
    return found


def examples(shown: str) -> list[str]:
    """Every "e.g. <command> …" example printed in a hint."""
    example = r"e\.g\. ((?:/rollout )?(?:overview|note|task|person) .+?)(?:\.$|\)|$)"
    return [m.group(1).removeprefix("/rollout ") for m in re.finditer(example, shown, re.M)]


async def test_every_suggestion_in_the_banner_and_help_works_when_typed(tmp_path: Path) -> None:
    first = await run(tmp_path, ["help"])
    tried = [s for s in suggestions(first) if s not in {"quit", "help"}]
    assert f"overview {ADA}" in tried and "use 1" in tried
    shown = answers(await run(tmp_path, tried))
    assert set(shown) == set(tried)
    for line, answer in shown.items():
        assert not any(dead in answer for dead in DEAD_ENDS), (line, answer)


async def test_every_example_in_a_hint_works_when_typed(tmp_path: Path) -> None:
    hinted = await run(tmp_path, ["note", "overview", "task", "person Grace"])
    tried = examples(hinted)
    assert len(tried) >= 3 and all("ada@example.com" not in line for line in tried)
    shown = answers(await run(tmp_path, tried))
    for line, answer in shown.items():
        assert ("✅" in answer or "== Ada Lovelace ==" in answer) and not any(dead in answer for dead in DEAD_ENDS), (
            line,
            answer,
        )


async def test_credentials_are_numbered_and_use_takes_a_number(tmp_path: Path) -> None:
    shown = answers(await run(tmp_path, ["credentials", "use", "use 2", "use 9"], accounts=2))
    assert "1. HubSpot · hubspot" in shown["credentials"] and "2. Salesforce · salesforce" in shown["credentials"]
    assert "cred_salesforce_2" in shown["credentials"]  # the id, for `use <id>`
    assert "Type use 1 … use 2 to make one your default" in shown["credentials"]
    assert "Say which account, e.g. use 1" in shown["use"]
    assert "2. Salesforce · salesforce  ✅ default" in shown["use 2"]
    assert "Type use 1 to make it your default" in shown["use 2"]
    assert "There is no account 9" in shown["use 9"]


async def test_a_request_waiting_for_an_account_runs_once_one_is_picked(tmp_path: Path) -> None:
    shown = answers(await run(tmp_path, [f"overview {ADA}", "use 1"], accounts=2))
    assert "Which CRM account should I use?" in shown[f"overview {ADA}"]
    assert "== Ada Lovelace ==" in shown["use 1"]


async def test_several_matches_print_the_commands_to_type_with_the_users_words(tmp_path: Path) -> None:
    shown = answers(await run(tmp_path, ["note ada Called again", f"note {ADA} Called again"]))
    assert f"note {ADA} Called again" in shown["note ada Called again"]
    assert f"note {BYRON} Called again" in shown["note ada Called again"]
    assert "✅ Note “Called again” created for Ada Lovelace" in shown[f"note {ADA} Called again"]


async def test_a_task_for_several_matches_keeps_its_title_and_date(tmp_path: Path) -> None:
    friday = parse_due("friday", date.today())
    assert friday is not None
    shown = answers(await run(tmp_path, ["task ada Send it due friday"]))
    assert f"task {BYRON} Send it due {friday.isoformat()}" in shown["task ada Send it due friday"]


async def test_what_a_form_would_ask_is_a_command_to_type(tmp_path: Path) -> None:
    shown = answers(await run(tmp_path, [f"note {ADA}", 'task "Ada Lovelace" Send it due someday', "person Grace"]))
    assert f"Type: note {ADA} <your note>" in shown[f"note {ADA}"]
    unreadable = shown['task "Ada Lovelace" Send it due someday']
    assert "I couldn't read “someday” as a date." in unreadable and "pick one below" not in unreadable
    assert f"Type: task {ADA} Send it due <date>" in unreadable
    assert "Type: person Grace <last name> <email>" in shown["person Grace"]


async def test_a_misspelt_command_suggests_the_command(tmp_path: Path) -> None:
    shown = answers(await run(tmp_path, ["overveiw ada", "crdentials"]))
    assert "Did you mean: overview ada" in shown["overveiw ada"]
    assert "ANTHROPIC_API_KEY" not in shown["overveiw ada"]
    assert "Did you mean: credentials" in shown["crdentials"]


async def test_a_question_that_starts_like_a_command_is_not_taken_for_a_typo(tmp_path: Path) -> None:
    questions = ["how many deals does Ada have?", "notes for Ada?", "who's Ada?", "users at Acme?"]
    shown = answers(await run(tmp_path, questions))
    for question in questions:
        assert "Did you mean" not in shown[question] and "ANTHROPIC_API_KEY" in shown[question], question


async def test_a_due_time_is_not_silently_dropped(tmp_path: Path) -> None:
    typed = f"task {ADA} Send it due 2030-12-24 10:30"
    shown = answers(await run(tmp_path, [typed]))
    assert "Tasks have a due date but no time" in shown[typed]
    assert f"task {ADA} Send it due 2030-12-24" in shown[typed] and "✅" not in shown[typed]


async def test_a_past_due_date_asks_first(tmp_path: Path) -> None:
    past = (date.today() - timedelta(days=3)).isoformat()
    shown = await run(tmp_path, [f"task {ADA} Old one due {past}", "n", f"task {ADA} Old two due {past}", "y"])
    assert f"{past} is in the past — create the task anyway? [y/N] n" in shown
    assert "Nothing created." in shown and "“Old one”" not in shown
    assert f"✅ Task “Old two” due {past} created for Ada Lovelace" in shown


async def test_cards_read_as_terminal_text_and_buttons_say_what_to_type(tmp_path: Path) -> None:
    shown = answers(await run(tmp_path, [f"overview {ADA}", "help", "overview nobody"]))
    card = shown[f"overview {ADA}"]
    assert "  Title: Head of Research" in card and "*" not in card
    assert f"note {ADA} <your note>" in card and f"task {ADA} <title> due <date>" in card
    assert "Open in CRM: https://" in card and "[Add note]" not in card
    assert "`" not in shown["help"] and "*" not in shown["help"]
    assert "  • overview <name or email> — everything about a person in your CRM" in shown["help"]
    assert "\nRollout for Slack — your CRM, from here." in shown["help"]
    assert "Type: person <first name> <last name> <email>" in shown["overview nobody"]


async def test_an_approval_names_the_person_and_account_after_the_models_words(
    tmp_path: Path, model: FakeAnthropic
) -> None:
    twin = SandboxCrm(accounts_per_new_subject=1)  # the demo's sandbox seeds the same ids for its one user
    account = twin.accounts(DEMO_USER.default_subject)[0].id
    ada = twin.find_people(DEMO_USER.default_subject, account, query="Ada Lovelace")[0].id
    model.script(
        Reply(tool_calls=(ToolCall("list_credentials", {}),)),
        Reply(
            text="I'll add that once you approve.",
            tool_calls=(ToolCall("create_task", {"personId": ada, "title": "Call Ada"}),),
        ),
        Reply(text="Done — the task is in your CRM."),
    )
    shown = await run(tmp_path, ["remind me to call Ada", "y"], model=model)
    question = shown[shown.index("Approve") : shown.index("[y/N]")]
    assert "Ada Lovelace" in question and ADA in question and "HubSpot" in question
    assert ada not in question
    assert "\n  Title: Call Ada\n" in question  # what will be written, as the Slack card's rows
    assert shown.index("I'll add that once you approve.") < shown.index("[y/N]")
    assert "\n· Checking your CRM accounts…\n" in shown  # a tool step, as a step


async def test_an_agent_question_that_needs_an_account_says_to_pick_then_ask_again(
    tmp_path: Path, model: FakeAnthropic
) -> None:
    model.script(Reply(tool_calls=(ToolCall("get_person_overview", {"query": "Ada Lovelace"}),)))
    shown = answers(await run(tmp_path, ["what's new with Ada?"], accounts=2, model=model))
    said = shown["what's new with Ada?"]
    assert "I need to know which CRM account to use first — type use 1 … use 2, then ask me again." in said
    assert "  2. Salesforce · salesforce" in said


async def test_the_banner_names_the_database_file_and_its_key(tmp_path: Path) -> None:
    shown = await run(tmp_path, [])
    database = tmp_path / "demo.db"
    assert f"your data is stored in {database} (its key in {database}.key)" in shown


async def test_quit_and_end_of_input_say_goodbye_too(tmp_path: Path) -> None:
    assert (await run(tmp_path, ["quit", "help"])).rstrip().endswith("/rollout quit\nBye.")
    assert (await run(tmp_path, [])).rstrip().endswith("Bye.")


async def test_a_damaged_key_file_is_named_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "rollout-bot.db.key").write_text("")  # e.g. a run killed between creating and writing it
    process = await _demo_process(tmp_path)
    out, err = await asyncio.wait_for(process.communicate(b"quit\n"), timeout=60)
    assert process.returncode == 2 and out == b""  # stopped before the sandbox and the banner
    assert err.decode().strip() == (
        "rollout-bot: rollout-bot.db.key is not an encryption key: delete it and rollout-bot.db to start afresh"
    )


def _demo_env(tmp_path: Path) -> dict[str, str]:
    kept = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    return {**kept, "PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": "error"}


async def _demo_process(tmp_path: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from bot.cli import main; sys.exit(main(sys.argv[1:]))",
        "demo",
        *args,
        cwd=tmp_path,
        env=_demo_env(tmp_path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _session(tmp_path: Path, script: str, *args: str) -> tuple[str, str]:
    process = await _demo_process(tmp_path, *args)
    out, err = await asyncio.wait_for(process.communicate(script.encode()), timeout=60)
    assert process.returncode == 0, err.decode()
    return out.decode(), err.decode()


async def test_a_second_run_in_the_same_folder_keeps_the_token_and_default(tmp_path: Path) -> None:
    await _session(tmp_path, "use 2\nquit\n", "--accounts", "2")
    key = tmp_path / "rollout-bot.db.key"
    assert key.stat().st_mode & 0o777 == 0o600
    out, err = await _session(tmp_path, "credentials\nquit\n", "--accounts", "2")
    assert "does not decrypt" not in err and "WARNING" not in err
    assert "2. Salesforce · salesforce  ✅ default" in out


async def test_ctrl_c_at_the_prompt_says_goodbye_and_exits_0(tmp_path: Path) -> None:
    process = await _demo_process(tmp_path)
    assert process.stdout is not None
    banner = b""
    while b"quit" not in banner:  # the banner is printed once the demo listens for Ctrl-C
        banner += await asyncio.wait_for(process.stdout.readline(), timeout=60)
    process.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 0, err.decode()
    assert out.decode().strip().endswith("Bye.")
    assert "Traceback" not in err.decode()
