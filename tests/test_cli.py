"""`rollout-bot` at start-up: every failure is one line naming what to fix, exit 2 for settings, 1 for something
unreachable, never a traceback; `--help` and `--version`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.cli import main
from tests.harness import BOT_TOKEN, ROLLOUT_CLIENT_ID, ROLLOUT_CLIENT_SECRET, SIGNING_SECRET

REPO = Path(__file__).resolve().parents[1]


def _closed_port() -> int:
    """A loopback port that was free a moment ago and has no listener: connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _settings(tmp_path: Path) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": f"http://127.0.0.1:{_closed_port()}/api/",
        "ROLLOUT_MCP_URL": f"http://127.0.0.1:{_closed_port()}/mcp",
        "ROLLOUT_CLIENT_ID": ROLLOUT_CLIENT_ID,
        "ROLLOUT_CLIENT_SECRET": ROLLOUT_CLIENT_SECRET,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A complete set of settings in the environment, no .env, and the working directory a temporary one."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("SLACK_", "ROLLOUT_", "DATABASE_", "ENCRYPTION_", "LOG_", "ANTHROPIC_", "PORT")):
            monkeypatch.delenv(name)
    settings = _settings(tmp_path)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    yield settings


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_an_unsupported_database_scheme_names_the_setting(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://bot:hunter2@db.example/crm")
    assert main(["migrate"]) == 2
    line = _one_line(capsys)
    assert line.startswith("rollout-bot: DATABASE_URL uses mysql, which is not supported: set it to ")
    assert "hunter2" not in line


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [("LOG_FORMAT", "xml", "text, json"), ("LOG_LEVEL", "verbose", "DEBUG, INFO, WARNING, ERROR")],
)
def test_an_enum_like_setting_lists_the_allowed_values(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    allowed: str,
) -> None:
    monkeypatch.setenv(name, value)
    assert main(["migrate"]) == 2
    assert _one_line(capsys) == f"rollout-bot: {name} is malformed: set it to one of {allowed}."


def test_the_bot_token_must_look_like_a_bot_token(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-a-user-token-by-mistake")
    assert main(["serve"]) == 2
    line = _one_line(capsys)
    assert line.startswith("rollout-bot: SLACK_BOT_TOKEN is not a bot token: set it to the Bot User OAuth Token (xoxb-")
    assert "xoxp-a-user" not in line


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        (["--port", "70000"], "argument --port: must be a TCP port number from 0 to 65535, not 70000"),
        (["--tools-page-size", "0"], "argument --tools-page-size: must be a whole number of 1 or more, not 0"),
        (["--accounts", "-1"], "argument --accounts: must be a whole number of 0 or more, not -1"),
    ],
)
def test_sandbox_arguments_out_of_range(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], argument: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sandbox", *argument])
    assert exited.value.code == 2
    assert _one_line(capsys) == f"rollout-bot sandbox: {message} (see rollout-bot sandbox --help)"


def test_serve_on_a_port_in_use(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("PORT", str(port))
        assert main(["serve"]) == 1
    assert _one_line(capsys) == (
        f"rollout-bot: port {port} is already in use: stop what is listening there, or set PORT to a free port."
    )


def test_sandbox_on_a_port_in_use(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["sandbox", "--port", str(port)]) == 1
    assert _one_line(capsys) == (
        f"rollout-bot: port {port} is already in use: stop what is listening there, or give --port a free port."
    )


def test_an_unreachable_postgresql_is_one_line_and_exit_1(env: dict[str, str], tmp_path: Path) -> None:
    port = _closed_port()
    settings = {**env, "DATABASE_URL": f"postgresql://bot:hunter2@127.0.0.1:{port}/crm"}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "migrate"],
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), **settings},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "hunter2" not in done.stderr
    assert done.stderr.strip() == (
        f"rollout-bot: could not reach the database (postgresql at 127.0.0.1:{port}/crm: connection refused): "
        "check DATABASE_URL and that the database is running."
    )


def test_version_comes_from_the_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"rollout-bot {version('rollout-bot')}"


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        (
            "serve",
            ["SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "METRICS_PORT", "SHUTDOWN_GRACE_SECONDS", "WORK_LEASE_SECONDS"],
        ),
        ("sandbox", ["ROLLOUT_CLIENT_SECRET", "--port PORT", "(default: 8765)", "(default: both)"]),
        ("migrate", ["DATABASE_URL", "ENCRYPTION_KEY"]),
        ("doctor", ["--manifest", "(default: False)"]),
        ("demo", ["--accounts", "(default: 1)"]),
    ],
)
def test_each_command_help_gives_settings_defaults_and_exit_codes(
    capsys: pytest.CaptureFixture[str], command: str, shown: list[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines to the terminal's width
    for needle in [*shown, "settings:", "docs/configuration.md", "exit codes: 0"]:
        assert needle in text, text
