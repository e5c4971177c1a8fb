"""`perceiver-sc2 ablate CONFIG [--set K=V ...] [--run-dir DIR] [--resume]`: encoder ablation with Ray Tune.

The grid (arm x optional sweep value x seed, see agent/ablate_spec.py) runs as one Tune experiment:
`Tuner(PPO, ...)` with `tune.grid_search` over the trials' model configs, one trial at a time (2 cores:
max_concurrent_trials=1, num_env_runners=0), each stopped at the same env-step budget.

Resuming is our own bookkeeping rather than `Tuner.restore`: Tune writes its experiment state
asynchronously, so a kill just after a trial ends can leave it marked RUNNING and rerun it. Here a
Tune callback in the driver writes `trials/<key>.json` atomically the moment a trial completes (its whole
learning curve included); `--resume` grids over the trials without a record, and a trial that was cut
off mid-way starts again from its first iteration. Outputs (agent/ablate_report.py): ablation.md/.csv/
.json and learning_curves.png / final_scores.png in the run directory.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from pathlib import Path

from envs.errors import UserError

TRIALS = "trials"
SPEC_FILE = "ablation_config.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="ablation YAML, e.g. configs/ablation_defeat_roaches.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a key of the ablation YAML, e.g. --set seeds=[0,1] "
                             "--set budget_env_steps=40960 (repeatable)")
    parser.add_argument("--run-dir", help="output directory (default runs/<name>)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the finished trials of an interrupted ablation and run the rest")


def env_steps(result: dict) -> int:
    """Lifetime env steps of one Tune result (RLlib 2.60 reports them under env_runners)."""
    runners = result.get("env_runners", {})
    return int(runners.get("num_env_steps_sampled_lifetime", result.get("num_env_steps_sampled_lifetime", 0)))


def _score(result: dict):
    value = result.get("env_runners", {}).get("episode_score")
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if value != value else value  # NaN before the first finished game


def write_json_atomic(path: Path, data) -> None:
    tmp = path.with_name(f".tmp-{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)  # a kill leaves either no record or a complete one


def load_records(run_dir: Path) -> dict[str, dict]:
    folder = Path(run_dir) / TRIALS
    if not folder.is_dir():
        return {}
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def make_recorder(run_dir: Path, trials_by_key: dict):
    """A Tune callback (driver side) that keeps each trial's curve and writes its record on completion."""
    from ray.tune import Callback

    class Recorder(Callback):
        def __init__(self) -> None:
            self.rows: dict[str, list] = {}
            # Trials run one at a time, so a trial's wall time runs from the previous completion (or the
            # experiment's start): actor start-up, algorithm build and teardown included.
            self.mark = time.time()

        @staticmethod
        def _key(trial) -> str:
            return trial.config["_model_config"]["ablation_trial"]

        def on_trial_start(self, iteration, trials, trial, **info):
            self.rows[self._key(trial)] = []

        def on_trial_result(self, iteration, trials, trial, result, **info):
            self.rows.setdefault(self._key(trial), []).append({
                "iteration": int(result.get("training_iteration", 0)),
                "env_steps": env_steps(result),
                "train_seconds": float(result.get("time_total_s", 0.0)),
                "score": _score(result),
            })

        def on_trial_complete(self, iteration, trials, trial, **info):
            key = self._key(trial)
            rows = self.rows.get(key, [])
            spec = trials_by_key[key]
            last = rows[-1] if rows else {"iteration": 0, "env_steps": 0, "train_seconds": 0.0}
            scored = [r["score"] for r in rows if r["score"] is not None]
            record = {
                "key": key, "arm": spec.arm, "seed": spec.seed, "config": spec.cfg.to_dict(),
                "tune_trial_id": trial.trial_id, "tune_trial_dir": str(trial.path),
                "iterations": last["iteration"], "env_steps": last["env_steps"],
                "train_seconds": last["train_seconds"],
                "wall_seconds": time.time() - self.mark,
                "steps_per_s": last["env_steps"] / last["train_seconds"] if last["train_seconds"] else 0.0,
                # Final score: RLlib's running mean over the last 32 finished games (agent/ppo.py).
                "final_score": scored[-1] if scored else None,
                "curve": rows,
                "finished_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            }
            write_json_atomic(Path(run_dir) / TRIALS / f"{key}.json", record)
            self.mark = time.time()

    return Recorder()


def _seed_of(spec) -> int:
    return spec.config["_model_config"]["ablation_seed"]


def build_param_space(trials, callbacks_cls):
    """PPOConfig of the first trial, with a grid over every pending trial's model config and seed."""
    from ray import tune
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from agent.ppo import build_ppo_config, model_config
    from agent.rl_module import EntityPolicyModule

    config = build_ppo_config(trials[0].cfg, callbacks=callbacks_cls)
    grid = [{**model_config(t.cfg), "ablation_trial": t.key, "ablation_seed": t.seed,
             "torch_threads": t.cfg.scale.torch_threads} for t in trials]
    # The module spec carries no model_config, so RLlib takes the (grid-searched) config-level one.
    config.rl_module(rl_module_spec=RLModuleSpec(module_class=EntityPolicyModule),
                     model_config=tune.grid_search(grid))
    seed = tune.sample_from(_seed_of)
    config.environment(env_config={**config.env_config, "seed_base": seed})
    config.debugging(seed=seed)
    return config


def run_tune(spec, pending, run_dir: Path) -> None:
    from ray import tune
    from ray.rllib.algorithms.ppo import PPO

    from agent.ablate_callbacks import AblationCallbacks

    budget = spec.budget_env_steps
    tuner = tune.Tuner(
        PPO,  # the class, not "PPO": the string path imports optional extras (REFERENCE.md section 7)
        param_space=build_param_space(pending, AblationCallbacks),
        tune_config=tune.TuneConfig(num_samples=1, max_concurrent_trials=1, reuse_actors=False),
        run_config=tune.RunConfig(
            name="tune", storage_path=str(Path(run_dir).resolve()), verbose=0,
            stop=lambda trial_id, result: env_steps(result) >= budget,
            callbacks=[make_recorder(run_dir, {t.key: t for t in pending})],
            checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False),
        ),
    )
    results = tuner.fit()
    errors = [r.error for r in results if r.error is not None]
    if errors:
        raise RuntimeError(f"{len(errors)} ablation trial(s) failed; first error: {errors[0]}")


def prepare(args: argparse.Namespace):
    """-> (spec, run_dir, finished records, pending trials); user mistakes raise UserError."""
    from agent.ablate_spec import load_spec

    spec = load_spec(args.config, args.overrides)
    run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / spec.name
    records = load_records(run_dir)
    saved = run_dir / SPEC_FILE
    if records and not args.resume:
        raise UserError(f"{run_dir} already holds finished trials; pass --resume or another --run-dir")
    if args.resume and saved.is_file() and json.loads(saved.read_text()) != spec.source:
        raise UserError(f"--resume: {args.config} differs from the ablation saved in {saved}; "
                        "finished trials would not belong to this grid")
    by_key = {t.key: t for t in spec.trials}
    finished = {k: r for k, r in records.items() if k in by_key}
    pending = [t for t in spec.trials if t.key not in finished]
    return spec, run_dir, finished, pending


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    spec, run_dir, finished, pending = prepare(args)
    from agent.train import check_model, start_ray

    for arm in spec.arms:  # bad encoder options fail here, before Ray starts
        check_model(spec.arm_config(arm))
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / TRIALS).mkdir(exist_ok=True)
    write_json_atomic(run_dir / SPEC_FILE, spec.source)
    print(f"ablation {spec.name}: {len(spec.trials)} trials, {len(finished)} already finished, "
          f"{len(pending)} to run, {spec.budget_env_steps} env steps each -> {run_dir}", flush=True)
    if pending:
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # REFERENCE.md section 7
        # SIGTERM (a job scheduler's stop) ends like Ctrl-C: KeyboardInterrupt, so atexit shuts Ray down;
        # the finished trials' records are already on disk for --resume.
        start_ray(pending[0].cfg)
        signal.signal(signal.SIGTERM, _interrupt)  # after ray.init, which installs an aborting handler
        run_tune(spec, pending, run_dir)
    from agent.ablate_report import write_report

    table = write_report(spec, load_records(run_dir), run_dir)
    print(table)
    return 0
