"""`perceiver-sc2 ablate CONFIG [--set K=V ...] [--run-dir DIR] [--resume]`: the encoder ablation.

The grid (arm x optional sweep value x seed, agent/ablation/spec.py) runs trial by trial, each trained and
then evaluated greedy and sampled (agent/ablation/runner.py); `--resume` keeps the finished trials and
continues the one that was cut off from its latest checkpoint. Outputs (agent/ablation/report.py):
ablation.md/.csv/.json and learning_curves.png / final_scores.png in the run directory.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agent.ablation.aggregate import check_available
from agent.ablation.report import write_report
from agent.ablation.runner import TRIALS, load_records, run_trials
from agent.ablation.spec import load_spec
from agent.outputs import check_output_dir, read_json, write_json_atomic
from agent.rllib.ray_session import start_ray
from agent.training.build import check_model
from envs.compile_kernels import compile_kernels
from envs.errors import UserError

SPEC_FILE = "ablation_config.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="ablation YAML, e.g. configs/ablation_defeat_roaches.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a key of the ablation YAML, e.g. --set seeds=[0,1] "
                             "--set budget_env_steps=40960 (repeatable)")
    parser.add_argument("--run-dir", help="output directory (default runs/<name>)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the finished trials of an interrupted ablation and run the rest")


def prepare(args: argparse.Namespace):
    """-> (spec, run_dir, finished records, pending trials); user mistakes raise UserError."""
    spec = load_spec(args.config, args.overrides)
    run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / spec.name
    check_output_dir(run_dir, "--run-dir" if args.run_dir else "run directory")
    records = load_records(run_dir)
    saved = run_dir / SPEC_FILE
    if records and not args.resume:
        raise UserError(f"{run_dir} already holds finished trials; pass --resume or another --run-dir")
    if args.resume and saved.is_file() and read_json(saved) != spec.source:
        raise UserError(f"--resume: {args.config} differs from the ablation saved in {saved}; "
                        "finished trials would not belong to this grid")
    by_key = {t.key: t for t in spec.trials}
    finished = {k: r for k, r in records.items() if k in by_key}
    pending = [t for t in spec.trials if t.key not in finished]
    return spec, run_dir, finished, pending


def run(args: argparse.Namespace) -> int:
    spec, run_dir, finished, pending = prepare(args)
    check_available()
    for arm in spec.arms:  # bad encoder options fail here, before Ray starts
        check_model(spec.arm_config(arm))
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / TRIALS).mkdir(exist_ok=True)
    write_json_atomic(run_dir / SPEC_FILE, spec.source)
    print(f"ablation {spec.name}: {len(spec.trials)} trials, {len(finished)} already finished, "
          f"{len(pending)} to run, {spec.budget_env_steps} env steps each -> {run_dir}", flush=True)
    if pending:
        compile_kernels()  # once, here, before the trials' env runners load them
        # From here SIGTERM ends like Ctrl-C: the running trial checkpoints, finished records are on disk.
        start_ray(pending[0].cfg.scale)
        run_trials(pending, run_dir, episodes=spec.eval_episodes, seed=spec.eval_seed,
                   log=lambda line: print(line, flush=True))
    table = write_report(spec, load_records(run_dir), run_dir)
    print(table)
    return 0
