"""The tests mirror the product tree: a test module's path names the module it covers.

- tests/test_<module>[_<aspect>].py covers bot/<module>.py (or a file of the repository itself, like manifest.yml);
  tests/<sub>/… covers bot/<sub>/…; tests/handlers/… and tests/bench/… cover handlers/… and bench/….
- tests/hardening/ is named for behaviour instead: the whole app under faults, in two processes, under SIGTERM.
- Shared code lives in helper modules, never in a test module: tests/harness.py (the whole app on loopback),
  tests/scenarios.py (the agent and the Slack events and model scripts tests send), tests/sandboxes.py (the sandbox
  Rollout server and a Rollout client wired to it), tests/processes.py (the app as real processes),
  tests/contracts.py (Rollout-like servers with another contract). Fixtures are in the conftest.py files.

tests/test_architecture.py checks both rules.
"""
