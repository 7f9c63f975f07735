"""`python -m bench`, from a checkout: the benchmark (see docs/benchmark.md). It is not installed with the product."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence

from bench.run import DATABASES, run_bench


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Ack latency, MCP requests, CPU, LLM calls and memory, on loopback."
    )
    parser.add_argument("--requests", type=int, default=1000, help="commands per ack round")
    parser.add_argument("--concurrency", type=int, default=200, help="ack requests in flight")
    parser.add_argument("--commands", type=int, default=100, help="overview commands for the MCP count and the CPU")
    parser.add_argument("--soak", type=int, default=10_000, help="commands for the memory check")
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds of injected Rollout latency")
    parser.add_argument(
        "--database",
        choices=DATABASES,
        default="auto",
        help="the app's store: PostgreSQL (a fresh temporary database per run, dropped after) or SQLite files; "
        "auto: PostgreSQL when reachable",
    )
    parser.add_argument("--postgres-url", default=None, help="the PostgreSQL server to create temporary databases on")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run_bench(args))
    return 130


if __name__ == "__main__":
    sys.exit(main())
