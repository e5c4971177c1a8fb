"""Where a benchmark figure came from: the date, the command and the code it was measured on.

Every JSON that bench/ writes carries `run_info()`, so a table generated from it can say which commit
produced each number, and a reader can tell a figure measured on uncommitted code from one that can be
reproduced by checking out the commit.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The code a measurement depends on; uncommitted changes here make the figure irreproducible from the commit.
CODE_PATHS = ("agent", "envs", "perceiver_io", "configs", "bench", "pyproject.toml")


def git(*args: str) -> str:
    """git's output in this repository; "" if git fails or is missing."""
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return ""
    return done.stdout


# The simulation's code. The numba cache guard is left out: it decides when kernels recompile, not what
# they compute.
SIMULATION = ("envs/engine", ":(exclude)envs/engine/_numba_cache.py")


def engine_commit() -> str | None:
    """The last commit that changed envs/engine: scores measured before it may have moved since."""
    return git("log", "-1", "--format=%H", "--", *SIMULATION).strip() or None


def _engine_differs(commit: str, other: str | None = None) -> bool:
    """Whether the engine's code at `commit` differs from the work tree's (or `other`'s) in more than
    comment lines (an unknown commit counts as changed): a comment does not move a score."""
    try:
        done = subprocess.run(["git", "diff", "--quiet", "--ignore-matching-lines=^\\s*#", commit,
                               *([other] if other else []), "--", *SIMULATION], cwd=ROOT, capture_output=True)
    except OSError:
        return True
    return done.returncode != 0


def equivalence_records() -> list[dict]:
    """bench/engine_equivalence.py's records: engine changes that left some maps' games identical."""
    path = ROOT / "docs" / "engine_equivalence.json"
    return json.loads(path.read_text()) if path.exists() else []


def engine_changed_since(commit: str, maps: set[str] | None = None) -> bool:
    """Whether the engine may have moved a figure measured on `commit`'s engine: its code differs, and no
    chain of equivalence records, each from an engine with the same code, leads to the present engine with
    every map of `maps` among each record's identical games (a figure whose maps are not known, `maps`
    None, counts as changed)."""
    if not _engine_differs(commit):
        return False
    if not maps:
        return True
    return all(engine_changed_since(record["to"], maps) for record in equivalence_records()
               if maps <= set(record["identical"]) and not _engine_differs(record["from"], commit))


def run_info(argv: list[str] | None = None) -> dict:
    """Date (UTC), the command line, the commit, the last commit that changed the engine, and any code
    files that differed from that commit when the measurement started."""
    argv = sys.argv if argv is None else argv
    script = Path(argv[0])
    if script.is_absolute() and script.is_relative_to(ROOT):
        script = script.relative_to(ROOT)
    changed = git("status", "--porcelain", "--", *CODE_PATHS)
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", str(script), *argv[1:]]),
        "commit": git("rev-parse", "HEAD").strip() or None,
        "engine_commit": engine_commit(),
        "uncommitted": [line[3:] for line in changed.splitlines()],  # porcelain: "XY path"
    }
