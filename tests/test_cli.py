"""The command line loads a command's module only when that command runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from agent.cli import COMMANDS

PROBE = """
import json, sys
from agent.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
heavy = ("torch", "ray", "numba", "google.protobuf")
print(json.dumps({{"agent": sorted(m for m in sys.modules if m.startswith("agent.")),
                   "heavy": [m for m in heavy if m in sys.modules]}}))
"""


def loaded_after(argv: list[str]) -> tuple[dict, str]:
    """The agent modules and heavy libraries a fresh interpreter holds after `perceiver-sc2 ARGV`."""
    proc = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    *_, last = proc.stdout.strip().splitlines()
    return json.loads(last), proc.stdout


def test_top_level_help_lists_every_command_and_imports_none():
    loaded, out = loaded_after(["--help"])
    assert all(name in out for name in COMMANDS)
    assert loaded["agent"] == ["agent.cli"]
    assert loaded["heavy"] == []


@pytest.mark.parametrize("command", ["evaluate", "render", "bench"])
def test_command_help_imports_only_that_command(command):
    loaded, out = loaded_after([command, "--help"])
    assert "usage: perceiver-sc2 " + command in out
    own = COMMANDS[command][0]
    others = {module for name, (module, _) in COMMANDS.items() if name != command}
    assert own in loaded["agent"]
    assert not others & set(loaded["agent"])
    # Evaluating and rendering load checkpoints without Ray; pysc2's shims must be able to pick the
    # protobuf backend after the command module is imported (agent/evaluation/command.py).
    assert "ray" not in loaded["heavy"] and "google.protobuf" not in loaded["heavy"]
