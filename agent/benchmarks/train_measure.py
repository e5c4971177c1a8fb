"""What `bench train` measures: arms trained side by side, phase clocks, FLOPs per env step, matmul rate.

Arms train in one process, one PPO iteration each in turn, so that load from other processes on the
machine falls on all of them alike; each arm keeps its own random state. The time of an iteration is split
into sampling (RLlib's synchronous_parallel_sample, the env runners' work) and learning (the learner
group's update: the connectors, GAE and the SGD epochs); the rest (weight sync, metrics) is "other".

FLOPs are counted with torch's FlopCounterMode (matmul-like ops: mm, bmm, SDPA; a multiply-add is 2) on
one batch of observations played by the default arm's final policy, for each arm's own computation:
    per env step = decode per observation + num_epochs x (forward + backward per sample) + value pass
The decode is counted in chunks of the arm's env count (a runner's forward), the SGD pass in chunks of
its minibatch, the value pass (RLlib's GAE) over the whole batch, as training runs them.
"""

from __future__ import annotations

import contextlib
import random
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils import flop_counter

from agent.benchmarks.encoders import sdpa_flop_mapping
from agent.benchmarks.reference import (
    ReferenceLearner,
    ReferenceModule,
    every_slot_decode,
    every_slot_features,
    every_slot_forward,
)
from agent.model.policy import EntityPolicy, to_tensors
from agent.training.loop import Trainer


def matmul_gflops(threads: int, size: int, repeats: int) -> float:
    """Median GFLOP/s of a [size, size] x [size, size] fp32 matmul on `threads` torch threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(size, size), torch.randn(size, size)
        a @ b  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)
    return 2 * size**3 / statistics.median(times) / 1e9


@dataclass
class PhaseClock:
    sampler: float = 0.0
    learner: float = 0.0


_ACTIVE: list[PhaseClock] = []  # the clock of the arm whose iteration is running


def timed(fn, add):
    """`fn`, which passes the seconds of each of its calls to `add`."""

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            add(time.perf_counter() - start)

    return wrapper


@contextlib.contextmanager
def sampling_timed():
    """Time PPO's sampling phase into the active arm's clock while the context is open."""
    import ray.rllib.algorithms.ppo.ppo as ppo_module

    original = ppo_module.synchronous_parallel_sample

    def add(seconds):
        _ACTIVE[-1].sampler += seconds

    ppo_module.synchronous_parallel_sample = timed(original, add)
    try:
        yield
    finally:
        ppo_module.synchronous_parallel_sample = original


@dataclass
class ArmRun:
    """One arm's training run: its Trainer, its clocks and one record per iteration."""

    name: str
    cfg: object
    reference: bool
    run_dir: Path
    clock: PhaseClock = field(default_factory=PhaseClock)
    iterations: list = field(default_factory=list)
    rng_states: tuple = ()

    def __post_init__(self):
        kwargs = dict(module_class=ReferenceModule, learner_class=ReferenceLearner) if self.reference else {}
        self.trainer = Trainer(self.cfg, self.run_dir, **kwargs)
        group = self.trainer.algo.learner_group

        def add(seconds):
            self.clock.learner += seconds

        group.update = timed(group.update, add)
        # Building the algorithm seeded the global RNGs from the config's seed. Each arm draws from its own
        # copy of them from here on, so that interleaving the arms does not hand one arm's random numbers
        # (the policy's samples) to the other: with the same computation they would sample the same games.
        self.rng_states = _rng_states()

    def step(self) -> None:
        torch.set_num_threads(self.cfg.scale.torch_threads)  # process-wide: each arm sets its own
        sampler, learner = self.clock.sampler, self.clock.learner
        _ACTIVE.append(self.clock)
        _set_rng_states(self.rng_states)
        try:
            before = self.trainer.env_steps
            row = self.trainer.step()
        finally:
            self.rng_states = _rng_states()
            _ACTIVE.pop()
        seconds = row["train_seconds"] - sum(it["seconds"] for it in self.iterations)
        self.iterations.append({"env_steps": self.trainer.env_steps - before, "seconds": seconds,
                                "sampler_s": self.clock.sampler - sampler,
                                "learner_s": self.clock.learner - learner,
                                "episode_score": row["episode_score"]})

    def summary(self) -> dict:
        steps = sum(it["env_steps"] for it in self.iterations)
        seconds = sum(it["seconds"] for it in self.iterations)
        sampler = sum(it["sampler_s"] for it in self.iterations)
        learner = sum(it["learner_s"] for it in self.iterations)
        return {
            "iterations": len(self.iterations), "env_steps": steps, "train_seconds": seconds,
            "steps_per_s": steps / seconds,
            "steps_per_s_median": statistics.median(it["env_steps"] / it["seconds"]
                                                    for it in self.iterations),
            "sampler_seconds": sampler, "learner_seconds": learner,
            "shares": {"sampler": sampler / seconds, "learner": learner / seconds,
                       "other": 1.0 - (sampler + learner) / seconds},
            "per_iteration": self.iterations,
        }


def _rng_states() -> tuple:
    return torch.get_rng_state(), np.random.get_state(), random.getstate()


def _set_rng_states(states: tuple) -> None:
    torch.set_rng_state(states[0])
    np.random.set_state(states[1])
    random.setstate(states[2])


def train_interleaved(runs: list[ArmRun], env_steps: int, log=print) -> None:
    """One iteration of each arm in turn until every arm has `env_steps` env steps."""
    with sampling_timed():
        while any(run.trainer.env_steps < env_steps for run in runs):
            for run in runs:
                if run.trainer.env_steps < env_steps:
                    run.step()
                    it = run.iterations[-1]
                    log(f"  {run.name:>10} it {len(run.iterations):4d}  {run.trainer.env_steps:8d} steps  "
                        f"{it['env_steps'] / it['seconds']:7.0f} steps/s  score {it['episode_score']}")


def collect_probe(policy: EntityPolicy, env, steps: int, seed: int) -> tuple[dict, torch.Tensor]:
    """Observations [steps * num_envs] and the actions `policy` sampled in them, from games seeded
    seed, seed + 1, ... (with memory, the state carried from step to step)"""
    generator = torch.Generator().manual_seed(seed)
    obs, _ = env.reset(seed=seed)
    kept, actions, state = [], [], None
    for _ in range(steps):
        batch = to_tensors(obs)
        with torch.no_grad():
            action, _, _, state = policy.decode(batch, sample=True, generator=generator, state=state)
        kept.append({key: value.clone() for key, value in batch.items()})
        actions.append(action)
        obs, *_ = env.step(action.numpy())
    return {key: torch.cat([o[key] for o in kept]) for key in kept[0]}, torch.cat(actions)


def _flops(fn) -> int:
    counter = flop_counter.FlopCounterMode(display=False, custom_mapping=sdpa_flop_mapping())
    with counter:  # grad mode on: FlopCounterMode's module hooks fail under no_grad
        fn()
    return counter.get_total_flops()


def _chunks(obs: dict, actions: torch.Tensor, size: int):
    for start in range(0, len(actions), size):
        yield {key: value[start:start + size] for key, value in obs.items()}, actions[start:start + size]


def flops_per_env_step(policy: EntityPolicy, reference: bool, obs: dict, actions: torch.Tensor, *,
                       num_envs: int, minibatch: int, num_epochs: int) -> dict:
    """The arm's FLOPs per env step on the probe batch (see the module docstring)."""
    decode = every_slot_decode if reference else EntityPolicy.decode
    forward = every_slot_forward if reference else EntityPolicy.forward
    features = every_slot_features if reference else EntityPolicy.features
    samples = len(actions)

    def act():
        for o, _ in _chunks(obs, actions, num_envs):
            decode(policy, o, sample=True)

    def learn():
        for o, a in _chunks(obs, actions, minibatch):
            logits, value_in, _ = forward(policy, o, a)
            logp = torch.log_softmax(logits, dim=-1).gather(-1, a.unsqueeze(-1))
            (logp.sum() + policy.value(value_in).sum()).backward()
        policy.zero_grad(set_to_none=True)

    decode_flops = _flops(act) / samples
    train_flops = _flops(learn) / samples
    value_flops = _flops(lambda: policy.value(features(policy, obs))) / samples
    return {"decode_per_obs": decode_flops, "train_per_sample": train_flops, "value_per_sample": value_flops,
            "num_epochs": num_epochs, "per_env_step": decode_flops + num_epochs * train_flops + value_flops,
            "probe_samples": samples}


def arm_settings(cfg) -> dict:
    """The settings that differ between arms, as the record shows them."""
    return {"torch_threads": cfg.scale.torch_threads, "num_env_runners": cfg.scale.num_env_runners,
            "num_envs": cfg.env.num_envs, "train_batch_size": cfg.ppo.train_batch_size,
            "minibatch_size": cfg.ppo.minibatch_size, "num_epochs": cfg.ppo.num_epochs}


def numeric(x):
    """JSON-safe: numpy scalars to Python, NaN to None."""
    if isinstance(x, dict):
        return {k: numeric(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [numeric(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and x != x:
        return None
    return x
