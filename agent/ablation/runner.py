"""Running an ablation grid: every trial is a training run of its own, then an evaluation of its final
checkpoint on the same seeded episodes, greedy and sampled.

A trial trains with the `train` loop (agent/training/loop.py) in `trials/<key>/`, one trial at a time in
one Ray session: on two cores one trial already uses both. Its record, `trials/<key>.json`, is written
atomically once its evaluation ends, and marks the trial done. A killed ablation resumes where it
stopped: finished trials are kept, and the trial that was cut off continues from its latest checkpoint
(`run.checkpoint_every` iterations apart), or starts again when it had none. A continued trial has its
weights and optimiser state back but plays new games from there, so its scores are not those of an
uninterrupted run; its record lists the env steps it was resumed at.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from agent.evaluation.evaluate import evaluate
from agent.outputs import read_json, write_json_atomic
from agent.rllib.ray_session import stop_requested
from agent.training.checkpoint import latest_checkpoint
from agent.training.loop import Trainer, read_metrics
from envs.run_record import run_info

TRIALS = "trials"
MODES = ("greedy", "sampled")
RESUMES = "resumed_at_env_steps.json"  # in the trial's folder: one entry per resumed session


def load_records(run_dir: Path) -> dict[str, dict]:
    folder = Path(run_dir) / TRIALS
    if not folder.is_dir():
        return {}
    return {p.stem: read_json(p) for p in sorted(folder.glob("*.json"))}


def train_trial(trial, trial_dir: Path, log=print) -> None:
    """Train one trial to its budget, from its latest checkpoint if a killed ablation left one."""
    ckpt = latest_checkpoint(trial_dir)
    if ckpt is None and trial_dir.exists():
        shutil.rmtree(trial_dir)  # a start cut off before its first checkpoint: nothing in it to keep
    trainer = Trainer(trial.cfg, trial_dir)
    try:
        if ckpt is not None:
            trainer.restore(ckpt)
            write_json_atomic(trial_dir / RESUMES, _resumes(trial_dir) + [trainer.env_steps])
            log(f"  {trial.key}: resumed from {ckpt.name} ({trainer.env_steps} env steps)")
        trainer.train()
    finally:
        trainer.close()


def _resumes(trial_dir: Path) -> list[int]:
    path = trial_dir / RESUMES
    return read_json(path) if path.exists() else []


def evaluate_trial(trial, trial_dir: Path, *, episodes: int, seed: int) -> dict[str, dict]:
    """The final checkpoint on episodes seed..seed+episodes-1, greedy and sampled."""
    ckpt = str(latest_checkpoint(trial_dir))
    out = {}
    for mode in MODES:
        summary = evaluate(ckpt, trial.cfg.env.map, episodes=episodes, seed=seed, progress=False,
                           sample=mode == "sampled", enemy_bot=trial.cfg.env.enemy_bot)
        keep = ("episodes", "mean", "ci_low", "ci_high", "scores", "win_rate", "win_low", "win_high")
        out[mode] = {k: summary[k] for k in keep if k in summary}
    return out


def run_trial(trial, run_dir: Path, *, episodes: int, seed: int, log=print) -> dict:
    """Train, evaluate and record one trial; returns its record."""
    trial_dir = Path(run_dir) / TRIALS / trial.key
    started = time.perf_counter()
    train_trial(trial, trial_dir, log)
    trained = time.perf_counter()
    evals = evaluate_trial(trial, trial_dir, episodes=episodes, seed=seed)
    rows = read_metrics(trial_dir)
    last = rows[-1]
    record = {
        "key": trial.key, "arm": trial.arm, "seed": trial.seed, "config": trial.cfg.to_dict(),
        "iterations": last["iteration"], "env_steps": last["env_steps"],
        # Summed over resumed sessions by the training loop: the wall-clock cost of the trial's env steps.
        "train_seconds": last["train_seconds"],
        "eval_seconds": time.perf_counter() - trained,
        "session_seconds": trained - started,
        "eval_seed": seed,
        "resumed_at_env_steps": _resumes(trial_dir),
        **evals,
        # Training curve: the running mean of the last sampled training games (agent/rllib/callbacks.py).
        "curve": [{"iteration": r["iteration"], "env_steps": r["env_steps"],
                   "train_seconds": r["train_seconds"], "score": r["episode_score"]} for r in rows],
        "finished_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "commit": run_info()["commit"],  # of the session that finished it (a resumed trial's last one)
    }
    write_json_atomic(Path(run_dir) / TRIALS / f"{trial.key}.json", record)
    return record


def run_trials(pending, run_dir: Path, *, episodes: int, seed: int, log=print) -> None:
    for number, trial in enumerate(pending, 1):
        if stop_requested():
            raise KeyboardInterrupt  # asked to stop while the previous trial was evaluated
        log(f"trial {number}/{len(pending)}: {trial.key}")
        record = run_trial(trial, run_dir, episodes=episodes, seed=seed, log=log)
        log(f"  {trial.key}: {record['env_steps']} env steps in {record['train_seconds'] / 60:.1f} min; "
            f"greedy {record['greedy']['mean']:.2f}, sampled {record['sampled']['mean']:.2f}")
