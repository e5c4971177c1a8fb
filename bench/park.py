"""Carry unfinished learning runs and ablations from one machine to the next in the repository.

    python bench/park.py park      # copy each unfinished run of runs/bench, and each ablation of runs/,
                                   # into bench/parked/
    python bench/park.py unpark    # copy them back; bench/learning.py and `perceiver-sc2 ablate ... --resume`
                                   # then go on from there

A learning run of 1-2M env steps can outlast the machine it started on (a CI-like machine is fresh each
time, and runs/ is not in git). `park` copies what a resume and the final evaluation need into
bench/parked/<map>/seed<k>/: the run's request, config and metrics, the newest checkpoint whole (RLlib's
state included) and the policy alone of each older kept checkpoint (the greedy curve plays them). Plain
files, so that git stores a checkpoint parked twice only once. It also deletes the parked copies of runs
whose result in docs/learning is complete. `unpark` never replaces a run directory whose newest
checkpoint is as far along as the parked one.

An ablation (a directory of runs/ holding `ablation_config.json`) parks into bench/parked/ablations/<name>/:
its config, the record of every finished trial, and the trial that was cut off (its config, metrics and
newest checkpoint whole). `unpark` adds the records this machine lacks and the cut-off trial where it is
further along.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.ablation.command import SPEC_FILE  # noqa: E402
from agent.ablation.runner import TRIALS  # noqa: E402
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
ABLATIONS = "ablations"  # bench/parked/ablations/<name>: the parked ablations
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


def copy_resumable(run_dir: Path, copy: Path, files: tuple[str, ...], *, older_policies: bool) -> Path:
    """Copy `files` of run_dir and its newest checkpoint whole (with the policy alone of each older one if
    `older_policies`) to `copy`, through a `.partial` directory renamed into place: never half a copy.
    -> the newest checkpoint copied."""
    newest = latest_checkpoint(run_dir)
    partial = copy.with_name(copy.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for name in files:
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, partial / name)
    shutil.copytree(newest, partial / CHECKPOINTS / newest.name)
    for older in sorted((run_dir / CHECKPOINTS).glob("iter_*")) if older_policies else []:
        if older != newest and (older / TRAIN_STATE).is_file():
            (partial / CHECKPOINTS / older.name).mkdir()
            for name in POLICY_FILES:
                shutil.copy2(older / name, partial / CHECKPOINTS / older.name / name)
    (partial / CHECKPOINTS / LATEST).write_text(newest.name + "\n")
    shutil.rmtree(copy, ignore_errors=True)
    partial.rename(copy)
    return newest


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
        if latest_checkpoint(run_dir) is None or not (run_dir / REQUEST).is_file():
            continue
        newest = copy_resumable(run_dir, copy, RUN_FILES, older_policies=True)
        done.append(f"parked {run_dir.parent.name}/{run_dir.name} at {env_steps_of(newest):,} env steps")
    return done


def cut_off_trials(trials: Path) -> list[Path]:
    """The trial directories of an ablation that have a checkpoint and no record (not finished)."""
    return [p for p in sorted(trials.glob("*")) if p.is_dir() and not p.name.endswith(".partial")
            and not (trials / f"{p.name}.json").is_file() and latest_checkpoint(p) is not None]


def park_ablations(runs_root: Path, parked: Path) -> list[str]:
    """Copy each ablation of `runs_root`: its config, finished trials' records and cut-off trial."""
    done = []
    for spec in sorted(runs_root.glob(f"*/{SPEC_FILE}")):
        run_dir, copy = spec.parent, parked / ABLATIONS / spec.parent.name
        (copy / TRIALS).mkdir(parents=True, exist_ok=True)
        shutil.copy2(spec, copy / SPEC_FILE)
        records = sorted((run_dir / TRIALS).glob("*.json"))
        for record in records:
            shutil.copy2(record, copy / TRIALS / record.name)
        cut_off = cut_off_trials(run_dir / TRIALS)
        for stale in {p.name for p in (copy / TRIALS).glob("*") if p.is_dir()} - {t.name for t in cut_off}:
            shutil.rmtree(copy / TRIALS / stale)  # finished since it was parked
        for trial in cut_off:
            newest = copy_resumable(trial, copy / TRIALS / trial.name, ("config.json", "metrics.jsonl"),
                                    older_policies=False)
            done.append(f"parked {run_dir.name}/{trial.name} at {env_steps_of(newest):,} env steps")
        done.append(f"parked {run_dir.name}: {len(records)} finished trials")
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


def unpark_ablations(runs_root: Path, parked: Path) -> list[str]:
    """Add to each parked ablation's run directory the records it lacks, and its cut-off trial where the
    parked one is further along."""
    done = []
    for spec in sorted((parked / ABLATIONS).glob(f"*/{SPEC_FILE}")):
        copy, run_dir = spec.parent, runs_root / spec.parent.name
        (run_dir / TRIALS).mkdir(parents=True, exist_ok=True)
        if not (run_dir / SPEC_FILE).is_file():
            shutil.copy2(spec, run_dir / SPEC_FILE)
        added = 0
        for record in sorted((copy / TRIALS).glob("*.json")):
            if not (run_dir / TRIALS / record.name).is_file():
                shutil.copy2(record, run_dir / TRIALS / record.name)
                added += 1
        done.append(f"unparked {copy.name}: {added} finished trials added")
        for trial in cut_off_trials(copy / TRIALS):
            here = run_dir / TRIALS / trial.name
            if (run_dir / TRIALS / f"{trial.name}.json").is_file():
                continue  # finished here
            newest, mine = latest_checkpoint(trial), latest_checkpoint(here)
            if mine is not None and env_steps_of(mine) >= env_steps_of(newest):
                continue
            shutil.rmtree(here, ignore_errors=True)
            shutil.copytree(trial, here)
            done.append(f"unparked {copy.name}/{trial.name} at {env_steps_of(newest):,} env steps")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("park", "unpark"))
    parser.add_argument("--runs", type=Path, default=RUNS,
                        help="the learning runs (bench/learning.py --runs)")
    parser.add_argument("--ablations", type=Path, default=ROOT / "runs",
                        help="where the ablations run (each in a directory of its name)")
    parser.add_argument("--parked", type=Path, default=PARKED, help="where the parked runs go")
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "learning",
                        help="the results (bench/learning.py --out): a run with a complete one is finished")
    args = parser.parse_args(argv)
    if args.action == "park":
        lines = park(args.runs, args.parked, args.results) + park_ablations(args.ablations, args.parked)
    else:
        lines = unpark(args.runs, args.parked) + unpark_ablations(args.ablations, args.parked)
    print("\n".join(lines) or "nothing to do")
    return 0


if __name__ == "__main__":
    sys.exit(main())
