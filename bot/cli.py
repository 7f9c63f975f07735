"""`rollout-bot serve | demo | sandbox | migrate | doctor` (the benchmark runs from a checkout: `python -m bench`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import NoReturn

from bot.config import ConfigError, Unreachable, cannot_listen, load_settings

EXIT_CODES = "exit codes: 0 done, 1 something it needs is unreachable, 2 a setting or an argument is wrong"
SETTINGS_DOC = "every setting: docs/configuration.md"
_COMMON = "LOG_LEVEL, LOG_FORMAT; settings come from the environment or a .env file in the working directory"


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Defaults shown next to each option; the settings and exit codes below kept as written."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line an operator can act on, instead of argparse's usage block followed by the message.
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _epilog(settings: str) -> str:
    return f"settings: {settings}\n{_COMMON}\n{SETTINGS_DOC}\n\n{EXIT_CODES}"


def _whole_number(least: int, most: int | None = None, what: str = "a whole number") -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            number = None
        if number is None or number < least or (most is not None and number > most):
            span = f"from {least} to {most}" if most is not None else f"of {least} or more"
            raise argparse.ArgumentTypeError(f"must be {what} {span}, not {text}")
        return number

    return parse


_port = _whole_number(0, 65535, "a TCP port number")


def _package_version() -> str:
    try:
        return version("rollout-bot")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rollout-bot",
        description="Your CRM in Slack, through Rollout.",
        epilog=f"{SETTINGS_DOC}\n{EXIT_CODES}",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, settings: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = commands.add_parser(
            name, help=summary, description=summary, epilog=_epilog(settings), formatter_class=_Formatter
        )
        return sub

    command(
        "serve",
        "run the Slack app (HTTP on PORT, or Socket Mode with SLACK_APP_TOKEN)",
        "SLACK_BOT_TOKEN (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for many workspaces), SLACK_SIGNING_SECRET, "
        "SLACK_APP_TOKEN (optional: Socket Mode), ROLLOUT_CLIENT_ID, ROLLOUT_CLIENT_SECRET, ROLLOUT_MCP_URL, "
        "ENCRYPTION_KEY, DATABASE_URL, PORT, METRICS_PORT, SHUTDOWN_GRACE_SECONDS, WORK_LEASE_SECONDS, "
        "ANTHROPIC_API_KEY (optional)",
    )
    demo = command(
        "demo",
        "try the bot in this terminal against a local sandbox CRM",
        "ANTHROPIC_API_KEY (optional: free-text answers), DATABASE_URL; Rollout is a sandbox started for the demo",
    )
    demo.add_argument(
        "--accounts", type=_whole_number(0), default=1, help="CRM accounts the demo user starts with (0: connect one)"
    )
    sandbox = command(
        "sandbox",
        "run the Rollout-compatible sandbox MCP server",
        "ROLLOUT_CLIENT_ID, ROLLOUT_CLIENT_SECRET (the credentials whose tokens it accepts)",
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on")
    sandbox.add_argument("--port", type=_port, default=8765, help="port to listen on (0: any free port)")
    sandbox.add_argument("--accounts", type=_whole_number(0), default=1, help="CRM accounts each new user starts with")
    sandbox.add_argument(
        "--protocol",
        choices=["legacy", "modern", "both"],
        default="both",
        help="MCP eras to serve: legacy (2025-11-25 handshake), modern (2026-07-28 stateless) or both",
    )
    sandbox.add_argument(
        "--tools-page-size", type=_whole_number(1), default=None, help="split tools/list into pages of N tools"
    )
    command("migrate", "apply database migrations (also done at start)", "DATABASE_URL, ENCRYPTION_KEY")
    doctor = command(
        "doctor",
        "check settings, the database, the Slack token and Rollout, and say what is wrong",
        "all of serve's; it reads, never writes (exit 1: a check failed, 2: a setting is wrong)",
    )
    doctor.add_argument("--user", help="check Rollout as the bot does for this Slack user id (U...)")
    doctor.add_argument("--team", help="the user's workspace id (T...); default: the bot token's workspace")
    doctor.add_argument("--manifest", type=Path, help="the Slack app manifest to compare scopes with (manifest.yml)")
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            return asyncio.run(_run(args))
    except ConfigError as exc:
        print(f"rollout-bot: {exc}", file=sys.stderr)
        return 2
    except Unreachable as exc:
        print(f"rollout-bot: {exc}", file=sys.stderr)
        return 1
    return 0


async def _run(args: argparse.Namespace) -> int:
    match args.command:
        case "serve":
            from bot.app import serve

            await serve(load_settings())
        case "demo":
            from bot.demo import run_demo

            await run_demo(load_settings(), accounts=args.accounts)
        case "sandbox":
            from bot.sandbox import SandboxPortUnavailable, serve_sandbox_forever

            settings = load_settings()
            settings.require_rollout()
            assert settings.rollout_client_id is not None and settings.rollout_client_secret is not None
            try:
                await serve_sandbox_forever(
                    host=args.host,
                    port=args.port,
                    client_id=settings.rollout_client_id,
                    client_secret=settings.rollout_client_secret.get_secret_value(),
                    accounts_per_user=args.accounts,
                    protocol=args.protocol,
                    tools_page_size=args.tools_page_size,
                )
            except SandboxPortUnavailable as error:
                raise cannot_listen(args.port, error, "give --port a free port") from None
        case "migrate":
            from bot.app import open_store

            settings = load_settings()
            settings.require_store()
            store = await open_store(settings)
            await store.close()
            print("database is up to date")
        case "doctor":
            from bot.doctor import DoctorOptions, run_doctor

            options = DoctorOptions(user=args.user, team=args.team, manifest=args.manifest)
            return await run_doctor(load_settings(), options, as_json=args.json, out=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
