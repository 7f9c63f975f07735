"""`rollout-bot serve | demo | sandbox | migrate | doctor` (the benchmark runs from a checkout: `python -m bench`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import ConfigError, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rollout-bot", description="Your CRM in Slack, through Rollout.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the Slack app (HTTP on PORT, or Socket Mode with SLACK_APP_TOKEN)")
    demo = commands.add_parser("demo", help="try the bot in this terminal against a local sandbox CRM")
    demo.add_argument("--accounts", type=int, default=1, help="CRM accounts the demo user starts with (0: connect one)")
    sandbox = commands.add_parser("sandbox", help="run the Rollout-compatible sandbox MCP server")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8765)
    sandbox.add_argument("--accounts", type=int, default=1, help="CRM accounts each new user starts with")
    sandbox.add_argument(
        "--protocol",
        choices=["legacy", "modern", "both"],
        default="both",
        help="MCP eras to serve: legacy (2025-11-25 handshake), modern (2026-07-28 stateless) or both",
    )
    sandbox.add_argument("--tools-page-size", type=int, default=None, help="split tools/list into pages of N tools")
    commands.add_parser("migrate", help="apply database migrations (also done at start)")
    doctor = commands.add_parser("doctor", help="check settings, the Slack token and Rollout, and say what is wrong")
    doctor.add_argument("--user", help="check Rollout as the bot does for this Slack user id (U...)")
    doctor.add_argument("--team", help="the user's workspace id (T...); default: the bot token's workspace")
    doctor.add_argument("--manifest", type=Path, help="the Slack app manifest to compare scopes with")
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    try:
        with contextlib.suppress(KeyboardInterrupt):
            return asyncio.run(_run(args))
    except ConfigError as exc:
        print(f"rollout-bot: {exc}", file=sys.stderr)
        return 2
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
            from bot.sandbox import serve_sandbox_forever

            settings = load_settings()
            settings.require_rollout()
            assert settings.rollout_client_id is not None and settings.rollout_client_secret is not None
            await serve_sandbox_forever(
                host=args.host,
                port=args.port,
                client_id=settings.rollout_client_id,
                client_secret=settings.rollout_client_secret.get_secret_value(),
                accounts_per_user=args.accounts,
                protocol=args.protocol,
                tools_page_size=args.tools_page_size,
            )
        case "migrate":
            from bot.store import Store

            settings = load_settings()
            settings.require_store()
            store = await Store.open(settings.database_url, settings.encryption_keys)
            try:
                await store.migrate()
            finally:
                await store.close()
            print("database is up to date")
        case "doctor":
            from bot.doctor import DoctorOptions, run_doctor

            options = DoctorOptions(user=args.user, team=args.team, manifest=args.manifest)
            return await run_doctor(load_settings(), options, as_json=args.json, out=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
