"""The training loop behind `perceiver-sc2 train`: iterate PPO, log, checkpoint, stop on a budget."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from tensorboardX import SummaryWriter
from tqdm import tqdm

from agent.outputs import read_json, write_text_atomic
from agent.rllib.callbacks import STEPS_BY_NODE
from agent.rllib.learner import APPROX_KL_KEY, RETURN_SCALE_KEY
from agent.rllib.ppo_config import build_ppo_config
from agent.rllib.ray_session import stop_requested
from agent.training.build import env_kwargs, observation_meta, policy_kwargs
from agent.training.checkpoint import TRAIN_STATE, save_checkpoint, write_policy
from agent.training.config import TrainConfig
from envs.errors import UserError

METRICS = "metrics.jsonl"


def _count(value, kind=int) -> bool:
    return isinstance(value, kind) and not isinstance(value, bool) and value >= 0


def read_train_state(ckpt: Path) -> dict:
    """A checkpoint's counters (train_state.json), checked: a damaged file is a one-line UserError."""
    path = Path(ckpt) / TRAIN_STATE
    state = read_json(path)
    if not (isinstance(state, dict) and _count(state.get("iteration")) and _count(state.get("env_steps"))
            and _count(state.get("train_seconds"), (int, float))):
        raise UserError(f"{path}: expected iteration, env_steps and train_seconds (numbers >= 0), "
                        f"got {json.dumps(state)[:120]}")
    return state


def read_metrics(run_dir: Path) -> list[dict]:
    """The rows of a run's metrics.jsonl. A last line without its newline was cut short by a kill while it
    was written (before that iteration's checkpoint) and is dropped; any other damage is a UserError."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return []
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text; was it edited or overwritten?") from None
    rows = []
    for number, line in enumerate(text.split("\n")[:-1], 1):  # [-1]: "" or the line cut short
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserError(f"{path}: line {number} is not valid JSON ({err.msg}); was it edited?") from None
        if not (isinstance(row, dict) and _count(row.get("iteration"))):
            raise UserError(f"{path}: line {number} has no iteration number: {line[:120]}")
        rows.append(row)
    return rows


def _get(result: dict, *path, default=float("nan")):
    for key in path:
        if not isinstance(result, dict) or key not in result:
            return default
        result = result[key]
    if hasattr(result, "item") and getattr(result, "size", 1) == 1:
        return result.item()  # RLlib reports 0-d numpy arrays
    return result


def _steps_by_node(result: dict) -> dict[str, int]:
    """Env steps each Ray node sampled this iteration. A node that sampled before but not now (its env
    runner died or is restarting) reads 0; RLlib reports it as NaN."""
    steps = _get(result, "env_runners", STEPS_BY_NODE, default={})
    return {node: int(np.nan_to_num(_get(count))) for node, count in steps.items()}


class Trainer:
    """Owns the RLlib algorithm of one run directory and the run's counters."""

    def __init__(self, cfg: TrainConfig, run_dir: Path, **ppo_kwargs) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir).absolute()  # RLlib's save_to_path reads a relative path as a bad URI
        # Tiny per-step tensors: more threads than free cores costs milliseconds per op in spin-waits.
        torch.set_num_threads(cfg.scale.torch_threads)
        self.algo = build_ppo_config(cfg, **ppo_kwargs).build_algo()
        self.policy_kwargs = policy_kwargs(cfg)  # as build_ppo_config gave them to the RLModule
        self.iteration = 0
        self.env_steps = 0
        self.train_seconds = 0.0  # summed over resumed sessions; the max_minutes budget counts this
        self.last_saved = None
        self.last_score = float("nan")
        self.writer = SummaryWriter(str(self.run_dir / "tb"))

    # ---- checkpoints ---------------------------------------------------------------------------
    def policy_state(self) -> dict[str, torch.Tensor]:
        """Bare EntityPolicy weights from the learner (works with remote learners too)."""
        weights = self.algo.learner_group.get_weights()
        weights = weights.get("default_policy", weights)
        prefix = "policy."
        return {key[len(prefix):]: torch.as_tensor(value).clone()
                for key, value in weights.items() if key.startswith(prefix)}

    def save(self) -> Path:
        meta = {"env": env_kwargs(self.cfg), "config": self.cfg.to_dict(), "iteration": self.iteration,
                "observation": observation_meta(self.policy_kwargs)}
        state = {"iteration": self.iteration, "env_steps": self.env_steps,
                 "train_seconds": self.train_seconds}

        def write(tmp: Path) -> None:
            self.algo.save_to_path(str(tmp / "algorithm"))
            write_policy(tmp, self.policy_kwargs, self.policy_state(), **meta)
            (tmp / TRAIN_STATE).write_text(json.dumps(state))  # written last: marks the directory complete

        path = save_checkpoint(self.run_dir, self.iteration, write, keep=self.cfg.run.keep_checkpoints)
        self.last_saved = self.iteration
        return path

    def restore(self, ckpt: Path) -> None:
        state, rows = read_train_state(ckpt), read_metrics(self.run_dir)
        self.algo.restore_from_path(str(Path(ckpt).absolute() / "algorithm"))
        self.iteration, self.env_steps = int(state["iteration"]), int(state["env_steps"])
        self.train_seconds = float(state["train_seconds"])
        self.last_saved = self.iteration
        # Iterations after the checkpoint are redone: drop their metrics lines.
        if (self.run_dir / METRICS).is_file():
            keep = [row for row in rows if row["iteration"] <= self.iteration]
            write_text_atomic(self.run_dir / METRICS, "".join(json.dumps(row) + "\n" for row in keep))

    # ---- the loop -----------------------------------------------------------------------------
    def budget_left(self) -> bool:
        run = self.cfg.run
        return not (
            (run.max_env_steps and self.env_steps >= run.max_env_steps)
            or (run.max_minutes and self.train_seconds >= 60.0 * run.max_minutes)
            or (run.max_iterations and self.iteration >= run.max_iterations)
        )

    def step(self) -> dict:
        """One PPO iteration -> the metrics row written to metrics.jsonl and TensorBoard."""
        started = time.perf_counter()
        result = self.algo.train()
        seconds = time.perf_counter() - started
        self.iteration += 1
        self.train_seconds += seconds
        steps = int(_get(result, "env_runners", "num_env_steps_sampled", default=0))
        self.env_steps += steps
        learner = _get(result, "learners", "default_policy", default={})
        score = _get(result, "env_runners", "episode_score")
        row = {
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            "train_seconds": round(self.train_seconds, 3),
            "steps_per_s": steps / seconds if seconds > 0 else 0.0,
            "episode_score": score,
            # RLlib's return and length means count the staggered starts' cut first episodes too
            # (agent/rllib/train_env.py); the score and win rate are whole games only.
            "episode_return_mean": _get(result, "env_runners", "episode_return_mean"),
            "episode_len_mean": _get(result, "env_runners", "episode_len_mean"),
            "win_rate": _get(result, "env_runners", "episode_won"),
            "episodes": int(_get(result, "env_runners", "num_episodes", default=0)),
            "env_steps_by_node": _steps_by_node(result),
            "policy_loss": _get(learner, "policy_loss"),
            "vf_loss": _get(learner, "vf_loss"),
            "entropy": _get(learner, "entropy"),
            "approx_kl": _get(learner, APPROX_KL_KEY),  # the joint action's, penalty or not
            "kl": _get(learner, "mean_kl_loss"),  # these two only with the KL penalty on
            "kl_coeff": _get(learner, "curr_kl_coeff"),
            "vf_explained_var": _get(learner, "vf_explained_var"),
            "return_scale": _get(learner, RETURN_SCALE_KEY),  # value targets are in this unit
        }
        row = {k: (float(v) if isinstance(v, float) else v) for k, v in row.items()}
        if not math.isnan(score):
            self.last_score = score
        with open(self.run_dir / METRICS, "a") as fh:
            fh.write(json.dumps({k: (None if isinstance(v, float) and math.isnan(v) else v)
                                 for k, v in row.items()}) + "\n")
        for key, value in row.items():
            numeric = isinstance(value, (int, float)) and not math.isnan(value)
            if numeric and key not in ("iteration", "env_steps"):
                self.writer.add_scalar(f"train/{key}", value, self.env_steps)
        return row

    def train(self) -> dict:
        run = self.cfg.run
        bar = tqdm(total=run.max_env_steps or None, initial=self.env_steps, unit="step", unit_scale=True,
                   disable=not run.progress, dynamic_ncols=True, desc=f"train {self.cfg.env.map}")
        try:
            while self.budget_left() and not stop_requested():
                before = self.env_steps
                row = self.step()
                bar.update(self.env_steps - before)
                bar.set_postfix(it=row["iteration"], score=f"{self.last_score:.1f}",
                                sps=f"{row['steps_per_s']:.0f}", refresh=False)
                if self.iteration % run.checkpoint_every == 0:
                    self.save()
        except KeyboardInterrupt:
            if self.last_saved != self.iteration:  # keep the finished iterations; the save is atomic
                self.save()
            raise
        finally:
            bar.close()
        if self.last_saved != self.iteration:
            self.save()
        if stop_requested():
            raise KeyboardInterrupt  # the finished iterations are saved; the CLI reports the interrupt
        self.writer.flush()
        return {"iteration": self.iteration, "env_steps": self.env_steps,
                "score": round(self.last_score, 2), "checkpoint": str(self.run_dir / "checkpoints")}

    def close(self) -> None:
        self.writer.close()
        self.algo.stop()
