"""`make train` as a new user runs it, kept: MoveToBeacon's goals hold for the README's first command.

    python bench/make_train.py --out docs/make_train.json

Runs `make train` (3 minutes of PPO on configs/MoveToBeacon.yaml with its own settings, then 100 games
greedy beside the scripted agent and 100 sampling, on the evaluation seeds of bench/learning.py) and
keeps what it printed and wrote: the env steps and seconds trained, every game's score, the goals of
bench/learning.py's MoveToBeacon row, and the load on the machine, since the 3 minutes are wall-clock and
a busy machine trains fewer env steps in them. Run it with nothing else running.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.outputs import write_json_atomic  # noqa: E402
from bench.learning import GOALS, goals_met, kept, read_metrics  # noqa: E402
from bench.provenance import run_info  # noqa: E402

MAP = "MoveToBeacon"
RUN = ROOT / "runs" / "MoveToBeacon-default"  # the Makefile's TRAIN_RUN


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "make_train.json")
    args = parser.parse_args(argv)
    info = run_info()
    load_before = os.getloadavg()
    start = time.monotonic()
    done = subprocess.run(["make", "train"], cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - start
    if done.returncode != 0:
        print(f"make train failed (exit {done.returncode}): {done.stderr.strip()[-1500:]}", file=sys.stderr)
        return 1
    last = read_metrics(RUN)[-1]
    greedy = json.loads((RUN / "evaluation_greedy.json").read_text())
    sampled = json.loads((RUN / "evaluation_sampled.json").read_text())
    policy, scripted = sorted(greedy["rows"], key=lambda row: row["agent"] == "scripted")
    evals = {"policy": policy, "policy_sampled": sampled, "scripted": scripted}
    record = {**info, "command": "python bench/make_train.py", "map": MAP,
              "env_steps": last["env_steps"], "train_seconds": last["train_seconds"],
              "iterations": last["iteration"], "wall_seconds": round(wall, 1), "cpu_count": os.cpu_count(),
              "load_average_before": load_before, "load_average_after": os.getloadavg(),
              "goals": goals_met(GOALS[MAP], evals),
              **{name: kept(summary) for name, summary in evals.items()}}
    write_json_atomic(args.out, record, indent=2)
    print(f"make train: {record['env_steps']:,} env steps in {record['train_seconds']:.0f} s; greedy "
          f"{evals['policy']['mean']:.1f}, sampled {evals['policy_sampled']['mean']:.1f}, scripted "
          f"{evals['scripted']['mean']:.1f}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
