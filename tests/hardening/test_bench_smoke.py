"""The bench (`python -m bench`) with tiny numbers: every phase runs and the result has the promised shape (no
timings).

The bench starts its processes (app, floor, sandbox, parts) with the test's Python, on loopback ports.
"""

from __future__ import annotations

import argparse
import json

import pytest

from bench.run import run_bench

COLUMNS = {"metric", "ours", "baseline", "ratio", "target", "passed"}
METRICS = (
    "ack latency p50",
    "ack latency p95",
    "ack latency p99",
    "ack errors",
    "commands answered exactly once after the ack",
    "MCP HTTP requests per warm command",
    "wall time",
    "MCP HTTP requests per cold command, legacy era",
    "MCP HTTP requests per warm command, legacy era",
    "CPU to open a new Rollout session, legacy era",
    "MCP HTTP requests per cold command, modern era",
    "MCP HTTP requests per warm command, modern era",
    "CPU to open a new Rollout session, modern era",
    "app CPU per warm overview, fresh process",
    "app CPU per warm overview, after the soak",
    "database transactions per warm command",
    "LLM calls per deterministic command",
    "input tokens per agent turn",
    "history rows read per agent turn",
    "history KiB read per agent turn",
    "RSS after warm-up",
    "MCP session pool size",
    "soak commands without a person card",
)


async def test_bench_runs_every_phase_and_reports_one_table(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(
        requests=6,
        concurrency=3,
        commands=3,
        soak=6,
        users=3,
        latency=0.0,
        database="auto",
        postgres_url=None,
        json=True,
    )

    exit_code = await run_bench(args)

    result = json.loads(capsys.readouterr().out)
    assert exit_code == (0 if result["passed"] else 1)
    rows = result["rows"]
    assert all(set(row) == COLUMNS for row in rows)
    for metric in METRICS:
        assert [row for row in rows if row["metric"].startswith(metric)], f"no {metric!r} row"
    assert all(row["ours"] != "n/a" for row in rows), "a phase could not be measured"
    assert all(row["passed"] in (True, False, None) for row in rows)
    assert result["passed"] == all(row["passed"] is not False for row in rows)
    assert {r["metric"]: r["ours"] for r in rows}["MCP HTTP requests per warm command"] == "1.00"
    assert {r["metric"]: r["ours"] for r in rows}["LLM calls per deterministic command"] == "0.00"
    for era in ("legacy", "modern"):
        assert {r["metric"]: r["ours"] for r in rows}[f"MCP HTTP requests per warm command, {era} era"] == "1.00"
    assert any(note.startswith("machine: ") and "CPU cores" in note for note in result["notes"])
    assert result["notes"] and all(isinstance(note, str) for note in result["notes"])
