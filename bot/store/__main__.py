"""The Alembic CLI for this store, without an alembic.ini. For example:

python -m bot.store -x url=sqlite:///./rollout-bot.db upgrade head
python -m bot.store -x url=postgresql://postgres@127.0.0.1/dev revision --autogenerate -m "add things"
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic.config import CommandLine

from bot.store.alembic_runner import alembic_config


def main(argv: Sequence[str] | None = None) -> None:
    cli = CommandLine(prog="python -m bot.store")
    options = cli.parser.parse_args(argv)
    if not hasattr(options, "cmd"):
        cli.parser.error("too few arguments")
    config = alembic_config()
    config.cmd_opts = options
    # New revisions come out lint-clean and formatted, like the rest of the code.
    config.set_section_option("post_write_hooks", "hooks", "ruff_fix, ruff_format")
    for hook, arguments in (("ruff_fix", "check --fix"), ("ruff_format", "format")):
        config.set_section_option("post_write_hooks", f"{hook}.type", "module")
        config.set_section_option("post_write_hooks", f"{hook}.module", "ruff")
        config.set_section_option("post_write_hooks", f"{hook}.options", f"{arguments} REVISION_SCRIPT_FILENAME")
    cli.run_cmd(config, options)


if __name__ == "__main__":
    main()
