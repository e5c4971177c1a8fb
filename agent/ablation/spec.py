"""The ablation config: YAML -> a validated grid of trials (arm x optional sweep value x seed).

    name: ablation_defeat_roaches          # outputs go to runs/<name>/ unless --run-dir is given
    train: DefeatRoaches.yaml              # base training config (relative to this file)
    set: [env.num_envs=32]                 # optional --set style overrides of the base config
    budget_env_steps: 200000               # one env-step budget for every trial
    seeds: [0, 1, 2, 3, 4]
    eval_episodes: 100                     # optional: final checkpoints play the same seeded episodes,
    eval_seed: 1000000                     #   greedy and sampled (defaults shown)
    arms:                                  # one learning curve per arm: model settings over the base
      perceiver_io: {encoder: perceiver_io, encoder_options: {num_latents: 16}}
      deepsets: {encoder: deepsets, encoder_options: {}}
    sweep: {width: [32, 64]}               # optional: one model key, crossed with every arm

Every trial's full TrainConfig is validated here, before Ray starts; a mistake raises UserError naming
the key (and the arm).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from agent.evaluation.evaluate import EVAL_SEED
from agent.training.config import TrainConfig, apply_overrides, config_from_dict, read_yaml
from envs.errors import UserError

KEYS = ("name", "train", "set", "budget_env_steps", "seeds", "eval_episodes", "eval_seed", "arms", "sweep")
EVAL_EPISODES = 100
REQUIRED = ("train", "budget_env_steps", "seeds", "arms")


@dataclass(frozen=True)
class Trial:
    """One cell of the grid; `key` names its record file and is stable across restarts."""

    key: str
    arm: str  # the curve it belongs to: arm name, plus "/key=value" with a sweep
    seed: int
    cfg: TrainConfig


@dataclass(frozen=True)
class AblationSpec:
    name: str
    budget_env_steps: int
    seeds: tuple[int, ...]
    eval_episodes: int
    eval_seed: int
    arms: tuple[str, ...]  # in config order (with the sweep value appended)
    trials: tuple[Trial, ...]
    source: dict  # the YAML as read, saved next to the results

    def arm_config(self, arm: str) -> TrainConfig:
        return next(t.cfg for t in self.trials if t.arm == arm)


def _fail(message: str):
    raise UserError(f"ablation config: {message}")


def _int(key: str, value, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        _fail(f"key '{key}': expected an integer >= {low}, got {value!r}")
    return value


def _int_list(key: str, value) -> tuple[int, ...]:
    ok = isinstance(value, list) and value and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    if not ok:
        _fail(f"key '{key}': expected a non-empty list of integers >= 0, got {value!r}")
    if len(set(value)) != len(value):
        _fail(f"key '{key}': repeated values in {value!r}")
    return tuple(value)


def _sweep(value) -> tuple[str, list] | None:
    if value is None:
        return None
    if not (isinstance(value, dict) and len(value) == 1):
        _fail(f"key 'sweep': expected one model key and its list of values, e.g. {{width: [32, 64]}}, "
              f"got {value!r}")
    (key, values), = value.items()
    if not isinstance(values, list) or not values or len({repr(v) for v in values}) != len(values):
        _fail(f"key 'sweep.{key}': expected a non-empty list of distinct values, got {values!r}")
    return str(key), values


def _set_dotted(model: dict, key: str, value) -> None:
    *parents, leaf = key.split(".")
    node = model
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            _fail(f"key 'sweep': model key '{part}' is not a section")
    node[leaf] = value


def parse_spec(data, *, base_dir: Path, default_name: str) -> AblationSpec:
    if not isinstance(data, dict):
        _fail(f"expected a mapping of keys at the top level, got {data!r}")
    for key in data:
        if key not in KEYS:
            _fail(f"unknown key '{key}' (allowed: {', '.join(KEYS)})")
    for key in REQUIRED:
        if key not in data:
            _fail(f"missing key '{key}'")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name or "/" in name:
        _fail(f"key 'name': expected a non-empty string without '/', got {name!r}")
    budget = _int("budget_env_steps", data["budget_env_steps"], 1)
    episodes = _int("eval_episodes", data.get("eval_episodes", EVAL_EPISODES), 1)
    eval_seed = _int("eval_seed", data.get("eval_seed", EVAL_SEED), 0)
    seeds = _int_list("seeds", data["seeds"])
    overrides = data.get("set") or []
    if not (isinstance(overrides, list) and all(isinstance(o, str) for o in overrides)):
        _fail(f"key 'set': expected a list of 'key=value' strings, got {overrides!r}")
    arms = data["arms"]
    if not isinstance(arms, dict) or not arms:
        _fail(f"key 'arms': expected a mapping of arm name -> model settings, got {arms!r}")
    train_path = data["train"]
    if not isinstance(train_path, str):
        _fail(f"key 'train': expected a path to a training config, got {train_path!r}")
    train_path = (base_dir / train_path) if not Path(train_path).is_absolute() else Path(train_path)
    try:
        base = read_yaml(train_path) or {}
    except UserError as err:
        _fail(f"key 'train': {err}")
    base = apply_overrides(base, overrides)
    # Tune stops trials on the env-step budget; the training run's own stops must not cut in first.
    base.setdefault("run", {}).update(max_env_steps=budget, max_minutes=0, max_iterations=0, progress=False)
    sweep = _sweep(data.get("sweep"))
    values = sweep[1] if sweep else [None]
    trials, arm_names = [], []
    for arm, model in arms.items():
        if not isinstance(arm, str) or not arm.replace("_", "").replace("-", "").isalnum():
            _fail(f"arm name {arm!r}: use letters, digits, '_' and '-'")
        if not isinstance(model, dict):
            _fail(f"key 'arms.{arm}': expected a mapping of model settings, got {model!r}")
        for value in values:
            label = arm if sweep is None else f"{arm}/{sweep[0]}={value}"
            arm_names.append(label)
            merged = copy.deepcopy(base)
            base_model = merged.get("model", {})
            if model.get("encoder", base_model.get("encoder")) != base_model.get("encoder"):
                # The base config's encoder options belong to its own encoder, not to the arm's.
                base_model = {k: v for k, v in base_model.items() if k != "encoder_options"}
            merged["model"] = {**base_model, **copy.deepcopy(model)}
            if sweep is not None:
                _set_dotted(merged["model"], sweep[0], value)
            for seed in seeds:
                merged["seed"] = seed
                try:
                    cfg = config_from_dict(copy.deepcopy(merged))
                except UserError as err:
                    _fail(f"arm '{label}': {err}")
                key = label.replace("/", "__").replace("=", "-") + f"__seed{seed}"
                trials.append(Trial(key=key, arm=label, seed=seed, cfg=cfg))
    return AblationSpec(name=name, budget_env_steps=budget, seeds=seeds, eval_episodes=episodes,
                        eval_seed=eval_seed, arms=tuple(arm_names),
                        trials=tuple(trials), source=data)


def load_spec(path: str | Path, overrides: list[str] = ()) -> AblationSpec:
    """Read the YAML, apply `--set key=value` overrides of its keys (e.g. seeds=[0,1]), validate."""
    path = Path(path)
    data = read_yaml(path)
    if overrides and isinstance(data, dict):
        data = apply_overrides(data, list(overrides))
    return parse_spec(data, base_dir=path.parent, default_name=path.stem)
