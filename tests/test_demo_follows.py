"""Following people in `rollout-bot demo`: follow, the list, the digest and `change`, which edits the sandbox CRM as a
colleague would so the digest has something to say."""

from __future__ import annotations

import io
import re
from pathlib import Path

from bot.config import load_settings
from bot.demo import CHANGE_USAGE, run_demo

ADA = "ada.lovelace@analytical-engines.example"
BYRON = "ada.byron@byron-partners.example"
AS_A_COLLEAGUE = "(as a colleague would in the CRM — try digest)"


class Script(io.StringIO):
    def isatty(self) -> bool:
        return False


async def session(tmp_path: Path, lines: list[str]) -> list[tuple[str, str]]:
    """Each line typed with what the demo printed for it, in order (a line typed twice answers twice)."""
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}", anthropic_api_key=None)
    out = io.StringIO()
    await run_demo(settings, stdin=Script("\n".join(lines) + "\n"), stdout=out)
    shown = out.getvalue().removesuffix("\nBye.\n")  # the end of input, after the last answer
    parts = re.split(r"^/rollout (.*)$", shown, flags=re.MULTILINE)
    answered = [(parts[i], parts[i + 1].strip()) for i in range(1, len(parts) - 1, 2)]
    assert [line for line, _ in answered] == lines
    return answered


def no_block_kit(answer: str) -> None:
    """Clear terminal text: no button labels in brackets, no Slack markup, no CRM links on every name."""
    assert not re.search(r"\[[A-Z][^\]]*\]", answer), answer
    assert "*" not in answer and "`" not in answer and "<http" not in answer and "/rollout" not in answer, answer
    assert "https://" not in answer, answer


async def test_follow_list_digest_switch_and_unfollow(tmp_path: Path) -> None:
    answers = await session(
        tmp_path,
        [
            "following",
            "follow ada",
            'follow "Ada Lovelace"',
            "following",
            "digest",
            "digest off",
            "following",
            "unfollow ada",
            "following",
        ],
    )
    empty, several, followed, listed, digest, off, listed_off, gone, none = (answer for _, answer in answers)
    # Slack's example address is one the sandbox has, so the hint works when typed.
    assert f"or with follow {ADA}: the morning digest" in empty
    # Two Adas: each choice follows, rather than only showing the card.
    assert several.splitlines()[1:] == [
        f"  follow {BYRON}   (Ada Byron · VP Operations · Byron & Partners)",
        f"  follow {ADA}   (Ada Lovelace · Head of Research · Analytical Engines Ltd)",
    ]
    assert followed.startswith("Following Ada Lovelace: your morning digest (at 9:00 on working days, your time)")
    assert "  Type: unfollow Ada Lovelace" in followed.splitlines()
    assert listed.splitlines() == [
        "You follow 1 person:",
        "Ada Lovelace",
        "  Type: unfollow Ada Lovelace",
        "Morning digest: on — at 9:00 on working days, your time, when something changed.",
        "  Type: digest off",
    ]
    assert digest.splitlines()[:2] == ["== What changed in your CRM ==", "Nothing changed for the 1 person you follow."]
    assert off.startswith("Morning digest off.")
    assert listed_off.splitlines()[-2:] == ["Morning digest: off.", "  Type: digest on"]
    assert gone == "You no longer follow Ada Lovelace."
    assert none.startswith("You don't follow anyone yet.")
    for _, answer in answers:
        no_block_kit(answer)


async def test_changes_made_in_the_crm_show_in_the_digest(tmp_path: Path) -> None:
    answers = await session(
        tmp_path,
        [
            'follow "Ada Lovelace"',
            "change ada title=CEO",
            "digest",
            "change ada complete",
            "change ada note Called, they want a demo",
            'change ada company="Analytical Engines" owner=Grace Hopper stage=Customer',
            "digest",
            "digest",
        ],
    )
    (_, _), (_, titled), (_, first), (_, completed), (_, noted), (_, edited), (_, second), (_, third) = answers
    # `ada` is two people; the one followed is meant.
    assert titled == f"Changed Ada Lovelace’s title from “Head of Research” to “CEO” {AS_A_COLLEAGUE}"
    assert first.splitlines()[:4] == [
        "== What changed in your CRM ==",
        "Ada Lovelace",
        "• Title: Head of Research → CEO",
        f"  Type: overview {ADA}",
    ]
    assert completed == f"Completed Ada Lovelace’s task “Schedule analytics demo” {AS_A_COLLEAGUE}"
    assert noted == f"Added a note to Ada Lovelace: “Called, they want a demo” {AS_A_COLLEAGUE}"
    assert edited == (
        "Changed Ada Lovelace’s company from “Analytical Engines Ltd” to “Analytical Engines”, owner from “Sam Rivera”"
        f" to “Grace Hopper”, stage from “Qualified” to “Customer” {AS_A_COLLEAGUE}"
    )
    assert second.splitlines() == [
        "== What changed in your CRM ==",
        "Ada Lovelace",
        "• New note: “Called, they want a demo”",
        "• Task closed: “Schedule analytics demo”",
        "• Company: Analytical Engines Ltd → Analytical Engines",
        "• Owner: Sam Rivera → Grace Hopper",
        "• Stage: Qualified → Customer",
        f"  Type: overview {ADA}",
    ]
    # What a digest showed counts as seen; the task closed is no longer overdue.
    assert third == "== What changed in your CRM ==\nNothing changed for the 1 person you follow."
    for _, answer in answers:
        no_block_kit(answer)


async def test_a_person_removed_from_the_crm_is_no_longer_followed(tmp_path: Path) -> None:
    answers = await session(tmp_path, [f"follow {ADA}", f"change {ADA} remove", "digest", "following"])
    (_, _), (_, removed), (_, digest), (_, listed) = answers
    assert removed == f"Removed Ada Lovelace from the CRM {AS_A_COLLEAGUE}"
    assert "No longer followed\n• Ada Lovelace — no longer in your CRM" in digest
    assert listed.startswith("You don't follow anyone yet.")


async def test_change_says_how_when_it_cannot(tmp_path: Path) -> None:
    answers = dict(
        await session(
            tmp_path,
            [
                "change zed title=CEO",
                "change ada",
                "change ada frobnicate",
                "change ada title=CEO",
                'change "Grace Hopper" complete the moon landing',
                "chnage ada title=CEO",
                f"change {ADA} note",
            ],
        )
    )
    assert answers["change zed title=CEO"] == f"No one in the sandbox CRM matches ‘zed’. {CHANGE_USAGE}"
    assert answers["change ada"] == CHANGE_USAGE
    assert answers["change ada frobnicate"] == CHANGE_USAGE
    assert answers[f"change {ADA} note"] == CHANGE_USAGE
    # No one followed to prefer: each Ada, as the command to type.
    assert answers["change ada title=CEO"] == (
        f"Several people match ‘ada’ — type one of:  change {BYRON} title=CEO   ·   change {ADA} title=CEO"
    )
    assert answers['change "Grace Hopper" complete the moon landing'] == (
        "Grace Hopper has no open task matching ‘the moon landing’."
    )
    assert answers["chnage ada title=CEO"] == "Did you mean: change ada title=CEO"
    assert CHANGE_USAGE.startswith("Usage: change <person> title=")


async def test_help_names_follow_and_change(tmp_path: Path) -> None:
    (_, shown), *_ = await session(tmp_path, ["help"])
    assert "follow <person>, following, unfollow <person>, digest and digest on|off" in shown
    assert 'follow "Ada Lovelace"   ·   change "Ada Lovelace" title=CEO   ·   digest   ·   following' in shown


async def test_a_card_offers_follow_then_unfollow_as_a_command_to_type(tmp_path: Path) -> None:
    answers = await session(tmp_path, [f"overview {ADA}", f"follow {ADA}", f"overview {ADA}", f"unfollow {ADA}"])
    card, _, card_again, gone = (answer for _, answer in answers)
    assert f"Type: follow {ADA}" in card and "Type: unfollow" not in card
    assert f"Type: unfollow {ADA}" in card_again and "Type: follow" not in card_again
    assert gone == "You no longer follow Ada Lovelace."
