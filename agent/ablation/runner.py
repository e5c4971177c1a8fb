"""Running an ablation grid as one Ray Tune experiment, and the per-trial records it leaves on disk.

`Tuner(PPO, ...)` with `tune.grid_search` over the trials' model configs, one trial at a time (2 cores:
max_concurrent_trials=1, num_env_runners=0), each stopped at the same env-step budget.

Resuming is our own bookkeeping rather than `Tuner.restore`: Tune writes its experiment state
asynchronously, so a kill just after a trial ends can leave it marked RUNNING and rerun it. Here a
Tune callback in the driver writes `trials/<key>.json` atomically the moment a trial completes (its whole
learning curve included); a resumed ablation grids over the trials without a record, and a trial that
was cut off mid-way starts again from its first iteration.
"""

from __future__ import annotations

import time
from pathlib import Path

from ray import tune
from ray.rllib.algorithms.ppo import PPO
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.tune import Callback

from agent.ablation.callbacks import AblationCallbacks
from agent.outputs import read_json, write_json_atomic
from agent.rllib.module import EntityPolicyModule
from agent.rllib.ppo_config import build_ppo_config
from agent.training.build import policy_kwargs

TRIALS = "trials"


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


def load_records(run_dir: Path) -> dict[str, dict]:
    folder = Path(run_dir) / TRIALS
    if not folder.is_dir():
        return {}
    return {p.stem: read_json(p) for p in sorted(folder.glob("*.json"))}


class Recorder(Callback):
    """A Tune callback (driver side) that keeps each trial's curve and writes its record on completion."""

    def __init__(self, run_dir: Path, trials_by_key: dict) -> None:
        self.run_dir, self.trials_by_key = Path(run_dir), trials_by_key
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
        spec = self.trials_by_key[key]
        last = rows[-1] if rows else {"iteration": 0, "env_steps": 0, "train_seconds": 0.0}
        scored = [r["score"] for r in rows if r["score"] is not None]
        record = {
            "key": key, "arm": spec.arm, "seed": spec.seed, "config": spec.cfg.to_dict(),
            "tune_trial_id": trial.trial_id, "tune_trial_dir": str(trial.path),
            "iterations": last["iteration"], "env_steps": last["env_steps"],
            "train_seconds": last["train_seconds"],
            "wall_seconds": time.time() - self.mark,
            "steps_per_s": last["env_steps"] / last["train_seconds"] if last["train_seconds"] else 0.0,
            # Final score: RLlib's running mean over the last 32 finished games (agent/rllib/callbacks.py).
            "final_score": scored[-1] if scored else None,
            "curve": rows,
            "finished_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        }
        write_json_atomic(self.run_dir / TRIALS / f"{key}.json", record)
        self.mark = time.time()


def _seed_of(spec) -> int:
    return spec.config["_model_config"]["ablation_seed"]


def build_param_space(trials, callbacks_cls):
    """PPOConfig of the first trial, with a grid over every pending trial's model config and seed."""
    config = build_ppo_config(trials[0].cfg, callbacks=callbacks_cls)
    # Besides the policy's kwargs, each grid point carries the trial's key and seed for the Recorder and
    # `_seed_of`, and its torch thread count for AblationCallbacks.
    grid = [{"policy_kwargs": policy_kwargs(t.cfg), "ablation_trial": t.key, "ablation_seed": t.seed,
             "torch_threads": t.cfg.scale.torch_threads} for t in trials]
    # The module spec carries no model_config, so RLlib takes the (grid-searched) config-level one.
    config.rl_module(rl_module_spec=RLModuleSpec(module_class=EntityPolicyModule),
                     model_config=tune.grid_search(grid))
    seed = tune.sample_from(_seed_of)
    config.environment(env_config={**config.env_config, "seed_base": seed})
    config.debugging(seed=seed)
    return config


def run_tune(spec, pending, run_dir: Path) -> None:
    budget = spec.budget_env_steps
    tuner = tune.Tuner(
        PPO,  # the class, not "PPO": Tune's lookup by name imports RLlib extras this project does not install
        param_space=build_param_space(pending, AblationCallbacks),
        tune_config=tune.TuneConfig(num_samples=1, max_concurrent_trials=1, reuse_actors=False),
        run_config=tune.RunConfig(
            name="tune", storage_path=str(Path(run_dir).resolve()), verbose=0,
            stop=lambda trial_id, result: env_steps(result) >= budget,
            callbacks=[Recorder(run_dir, {t.key: t for t in pending})],
            checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False),
        ),
    )
    results = tuner.fit()
    errors = [r.error for r in results if r.error is not None]
    if errors:
        raise RuntimeError(f"{len(errors)} ablation trial(s) failed; first error: {errors[0]}")
