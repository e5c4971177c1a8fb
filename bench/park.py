"""Carry unfinished learning runs from one machine to the next in the repository.

    python bench/park.py park      # pack each unfinished run of runs/bench into bench/parked/
    python bench/park.py unpark    # unpack them into runs/bench; bench/learning.py then resumes them

A learning run of 1-2M env steps can outlast the machine it started on (a CI-like machine is fresh each
time, and runs/ is not in git). `park` packs what a resume and the final evaluation need into one
bench/parked/<map>_seed<k>.tar.gz: the run's request, config and metrics, the newest checkpoint whole
(RLlib's state included) and the policy alone of each older kept checkpoint (the greedy curve plays them).
It also deletes the archives of runs whose result in docs/learning is complete. `unpark` never replaces
a run directory whose newest checkpoint is as far along as the archive's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tarfile
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


def archive_name(map_name: str, seed_dir: str) -> str:
    return f"{map_name}_{seed_dir}.tar.gz"


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
    """Pack every unfinished run with a checkpoint; drop the archives of finished runs. -> what it did."""
    done = []
    for run_dir in sorted(runs.glob("*/seed*")):
        archive = parked / archive_name(run_dir.parent.name, run_dir.name)
        if is_finished(run_dir, results):
            if archive.exists():
                archive.unlink()
                done.append(f"removed {archive.name} (finished)")
            continue
        newest = latest_checkpoint(run_dir)
        if newest is None or not (run_dir / REQUEST).is_file():
            continue
        parked.mkdir(parents=True, exist_ok=True)
        partial = archive.with_name(archive.name + ".partial")  # renamed into place: never half an archive
        with tarfile.open(partial, "w:gz") as tar:
            for name in RUN_FILES:
                if (run_dir / name).is_file():
                    tar.add(run_dir / name, arcname=name)
            tar.add(newest, arcname=f"{CHECKPOINTS}/{newest.name}")
            for older in sorted((run_dir / CHECKPOINTS).glob("iter_*")):
                if older != newest and (older / TRAIN_STATE).is_file():
                    for name in POLICY_FILES:
                        tar.add(older / name, arcname=f"{CHECKPOINTS}/{older.name}/{name}")
            tar.add(run_dir / CHECKPOINTS / LATEST, arcname=f"{CHECKPOINTS}/{LATEST}")
        partial.replace(archive)
        done.append(f"parked {run_dir.parent.name}/{run_dir.name} at {env_steps_of(newest):,} env steps "
                    f"({archive.stat().st_size / 1e6:.1f} MB)")
    return done


def unpark(runs: Path, parked: Path) -> list[str]:
    """Unpack each archive whose run is further along than the run directory of the same name."""
    done = []
    for archive in sorted(parked.glob("*.tar.gz")):
        map_name, seed_dir = archive.name.removesuffix(".tar.gz").rsplit("_", 1)
        run_dir = runs / map_name / seed_dir
        with tarfile.open(archive) as tar:
            pointer = tar.extractfile(f"{CHECKPOINTS}/{LATEST}").read().decode().strip()
            state = json.loads(tar.extractfile(f"{CHECKPOINTS}/{pointer}/{TRAIN_STATE}").read())
            here = latest_checkpoint(run_dir)
            if here is not None and env_steps_of(here) >= state["env_steps"]:
                done.append(f"kept {map_name}/{seed_dir}: it is at {env_steps_of(here):,} env steps")
                continue
            shutil.rmtree(run_dir, ignore_errors=True)
            run_dir.mkdir(parents=True)
            tar.extractall(run_dir, filter="data")
        done.append(f"unparked {map_name}/{seed_dir} at {state['env_steps']:,} env steps")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("park", "unpark"))
    parser.add_argument("--runs", type=Path, default=RUNS,
                        help="the learning runs (bench/learning.py --runs)")
    parser.add_argument("--parked", type=Path, default=PARKED, help="where the archives go")
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "learning",
                        help="the results (bench/learning.py --out): a run with a complete one is finished")
    args = parser.parse_args(argv)
    lines = park(args.runs, args.parked, args.results) if args.action == "park" else unpark(args.runs,
                                                                                          args.parked)
    print("\n".join(lines) or "nothing to do")
    return 0


if __name__ == "__main__":
    sys.exit(main())
