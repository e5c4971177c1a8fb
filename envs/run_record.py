"""Where an envs-side benchmark figure came from: the date, the command and the commit it was measured on.

`perceiver-sc2 bench engine|env` write these fields into their JSON files, the same fields bench/provenance.py
writes for the long benchmarks (envs cannot import bench/, which is not part of the installed package).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE_PATHS = ("agent", "envs", "perceiver_io", "configs", "bench", "pyproject.toml")


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""  # not a git checkout (an installed package): the fields are None or empty


def run_info(argv: list[str] | None = None) -> dict:
    """Date (UTC), the command line, the commit, the last commit that changed envs/engine, and the code
    files that differed from the commit when the measurement started."""
    argv = sys.argv if argv is None else argv
    cli = Path(argv[0]).name in ("perceiver-sc2", "cli.py", "__main__.py")  # console script, -m agent.cli
    command = shlex.join(["perceiver-sc2", *argv[1:]] if cli else ["python", *argv])
    engine = ("envs/engine", ":(exclude)envs/engine/_numba_cache.py")
    changed = _git("status", "--porcelain", "--", *CODE_PATHS)
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "commit": _git("rev-parse", "HEAD").strip() or None,
        "engine_commit": _git("log", "-1", "--format=%H", "--", *engine).strip() or None,
        "uncommitted": [line[3:] for line in changed.splitlines()],  # porcelain: "XY path"
    }
