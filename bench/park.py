"""Carry unfinished learning runs from one machine to the next in the repository.

    python bench/park.py park      # copy each unfinished run of runs/bench into bench/parked/
    python bench/park.py unpark    # copy them back into runs/bench; bench/learning.py then resumes them

A learning run of 1-2M env steps can outlast the machine it started on (a CI-like machine is fresh each
time, and runs/ is not in git). `park` copies what a resume and the final evaluation need into
bench/parked/<map>/seed<k>/: the run's request, config and metrics, the newest checkpoint whole (RLlib's
state included) and the policy alone of each older kept checkpoint (the greedy curve plays them). Plain
files, so that git stores a checkpoint parked twice only once. It also deletes the parked copies of runs
whose result in docs/learning is complete. `unpark` never replaces a run directory whose newest
checkpoint is as far along as the parked one.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.training.checkpoint import (  # noqa: E402
    CHECKPOINTS,
    LATEST,
    POLICY_META,
    POLICY_WEIGHTS,
    TRAIN_STATE,
    latest_checkpoint,
)
from bench.learning import REQUEST, RUNS  # noqa: E402

PARKED = ROOT / "bench" / "parked"
RUN_FILES = (REQUEST, "config.json", "metrics.jsonl")
POLICY_FILES = (POLICY_WEIGHTS, POLICY_META, TRAIN_STATE)  # what evaluating a kept checkpoint reads


def is_finished(run_dir: Path, results: Path) -> bool:
    """Has the run's result been written for the config it was started with?"""
    try:
        request = json.loads((run_dir / REQUEST).read_text())
        done = json.loads((results / f"{run_dir.parent.name}_{run_dir.name}.json").read_text())
    except (OSError, ValueError):
        return False
    return done.get("config") == request.get("config") and "paired_vs_scripted" in done


def env_steps_of(checkpoint: Path) -> int:
    return int(json.loads((checkpoint / TRAIN_STATE).read_text())["env_steps"])


def park(runs: Path, parked: Path, results: Path) -> list[str]:
    """Copy every unfinished run with a checkpoint; drop the copies of finished runs. -> what it did."""
    done = []
    for run_dir in sorted(runs.glob("*/seed*")):
        copy = parked / run_dir.parent.name / run_dir.name
        if is_finished(run_dir, results):
            if copy.exists():
                shutil.rmtree(copy)
                done.append(f"removed {copy.relative_to(parked)} (finished)")
            continue
        newest = latest_checkpoint(run_dir)
        if newest is None or not (run_dir / REQUEST).is_file():
            continue
        partial = copy.with_name(copy.name + ".partial")  # renamed into place: never half a copy
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for name in RUN_FILES:
            if (run_dir / name).is_file():
                shutil.copy2(run_dir / name, partial / name)
        shutil.copytree(newest, partial / CHECKPOINTS / newest.name)
        for older in sorted((run_dir / CHECKPOINTS).glob("iter_*")):
            if older != newest and (older / TRAIN_STATE).is_file():
                (partial / CHECKPOINTS / older.name).mkdir()
                for name in POLICY_FILES:
                    shutil.copy2(older / name, partial / CHECKPOINTS / older.name / name)
        (partial / CHECKPOINTS / LATEST).write_text(newest.name + "\n")
        shutil.rmtree(copy, ignore_errors=True)
        partial.rename(copy)
        done.append(f"parked {run_dir.parent.name}/{run_dir.name} at {env_steps_of(newest):,} env steps")
    return done


def unpark(runs: Path, parked: Path) -> list[str]:
    """Copy back each parked run that is further along than the run directory of the same name."""
    done = []
    for copy in sorted(parked.glob("*/seed*")):
        name = f"{copy.parent.name}/{copy.name}"
        newest = latest_checkpoint(copy)
        if newest is None or copy.name.endswith(".partial"):
            continue
        run_dir = runs / copy.parent.name / copy.name
        here = latest_checkpoint(run_dir)
        if here is not None and env_steps_of(here) >= env_steps_of(newest):
            done.append(f"kept {name}: it is at {env_steps_of(here):,} env steps")
            continue
        shutil.rmtree(run_dir, ignore_errors=True)
        shutil.copytree(copy, run_dir)
        done.append(f"unparked {name} at {env_steps_of(newest):,} env steps")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("park", "unpark"))
    parser.add_argument("--runs", type=Path, default=RUNS,
                        help="the learning runs (bench/learning.py --runs)")
    parser.add_argument("--parked", type=Path, default=PARKED, help="where the parked runs go")
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "learning",
                        help="the results (bench/learning.py --out): a run with a complete one is finished")
    args = parser.parse_args(argv)
    lines = park(args.runs, args.parked, args.results) if args.action == "park" else unpark(args.runs,
                                                                                          args.parked)
    print("\n".join(lines) or "nothing to do")
    return 0


if __name__ == "__main__":
    sys.exit(main())
