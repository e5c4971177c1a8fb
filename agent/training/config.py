"""Typed training configuration: YAML + `--set key=value` overrides -> validated dataclasses.

Every field has a one-line doc (`doc` metadata) and optional bounds or choices. A bad key or value raises
envs.errors.UserError naming the dotted key and what is allowed; the CLI prints it on one line (exit 2).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from agent.model.encoders import ENCODERS, EncoderOptionError, build_encoder, check_options, encoder_options
from agent.model.policy import EntityPolicy
from agent.model.sizes import matched_options
from agent.model.unit_terms import ENTROPY_MODES, KL_MODES, RATIO_MODES
from envs.engine import ECONOMY_MAP_NAMES, ENEMY_BOTS, MAP_NAMES
from envs.entity_env import BACKENDS
from envs.errors import UserError

SIZES = ("custom", "alphastar")
LR_SCHEDULES = ("constant", "linear")
POLICY_DEFAULTS = EntityPolicy.defaults()  # the model defaults live in the policy's signature


def _f(default, doc: str, *, low=None, high=None, choices=None, positive=False):
    meta = {"doc": doc, "low": low, "high": high, "choices": choices, "positive": positive}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class EnvConfig:
    map: str = _f("MoveToBeacon", "map name", choices=MAP_NAMES + ECONOMY_MAP_NAMES)
    backend: str = _f("engine", "who plays: the embedded engine, or StarCraft II (at SC2PATH) through pysc2",
                      choices=BACKENDS)
    max_entities: int | None = _f(None, "entity slots N (own units first, then enemies); null = map's", low=1)
    max_units: int | None = _f(None, "own-unit slots U, each picks one action per step; null = map's", low=1)
    grid_size: int = _f(8, "point targets: a grid_size x grid_size grid over the playable area", low=1)
    step_mul: int = _f(8, "game loops per agent step (pysc2 minigames: 8)", low=1)
    # 64: each acting forward pass and connector call serves twice the games; on CollectMineralShards
    # training ran 1.10x as fast as with 32, scores within the intervals
    # (docs/bench_train_num_envs_CollectMineralShards.json).
    num_envs: int = _f(64, "games stepped together in one vector env per env runner", low=1)
    enemy_bot: str | None = _f(None, "scripted opponent; null = the map's own", choices=ENEMY_BOTS)


@dataclass
class ModelConfig:
    encoder: str = _f(POLICY_DEFAULTS["encoder"], "entity encoder", choices=tuple(ENCODERS))
    size: str = _f("custom", "'alphastar' = width 256 and the encoder's paper defaults", choices=SIZES)
    width: int = _f(POLICY_DEFAULTS["width"], "entity embedding width D (AlphaStar: 256)", low=1)
    key_dim: int = _f(POLICY_DEFAULTS["key_dim"], "pointer key/query width (AlphaStar: 32)", low=1)
    encoder_options: dict = _f({}, "encoder options over the matched sizes at this width "
                               "(agent/model/sizes.py), e.g. num_latents")
    noop_bias: float = _f(POLICY_DEFAULTS["noop_bias"], low=0.0,
                          doc="initial no-op logit bonus: untrained units keep orders longer")
    keep_bias: float = _f(POLICY_DEFAULTS["keep_bias"], low=0.0,
                          doc="initial no-op logit bonus of a unit with an order (learned): untrained units "
                          "keep their orders about 3 times in 4")
    ordered_decoding: bool = _f(POLICY_DEFAULTS["ordered_decoding"],
                                doc="units choose in slot order, each seeing the targets chosen before it")
    distance_bias: bool = _f(True, "pointer logits add a learned per-unit gain x unit-entity distance")
    # Off: on FindAndDefeatZerglings at 2M env steps it scored lower greedy, level sampled, at 1.4x the
    # time per step (docs/learning/memory/FindAndDefeatZerglings_seed0.json; RESULTS.md "Learning").
    memory: bool = _f(POLICY_DEFAULTS["memory"], "an LSTM core (width cells) carries memory across the steps "
                      "of an episode")
    memory_seq_len: int = _f(32, "with memory: steps per training sequence, unrolled from the state the "
                             "env runner recorded at its first step", low=1)

    def resolved(self) -> tuple[int, dict]:
        """(width, encoder options) after applying `size`."""
        if self.size == "alphastar":
            return 256, {}  # AlphaStar's entity width; the encoders' own defaults are their papers' sizes
        # Every encoder sized like the reference Perceiver IO at this width, so that swapping it is one key.
        return self.width, {**matched_options(self.encoder, self.width), **self.encoder_options}


@dataclass
class PPOSettings:
    # Defaults: common PPO settings (Schulman et al. 2017; CleanRL's ppo.py); docs/RESULTS.md measures them.
    lr: float = _f(3e-4, "Adam learning rate", positive=True)
    # linear: on DefeatRoaches at 1M env steps, sampled play scored 235 (95% of greedy) where the constant
    # rate's fell to 108 and 163 (41-60% of greedy) as its training scores sagged after 330k env steps
    # (docs/learning/lr_schedule/).
    lr_schedule: str = _f("linear", "the learning rate over training: constant, or linear from ppo.lr "
                          "down to 0 at run.max_env_steps (as PPO's Atari runs, Schulman et al. 2017)",
                          choices=LR_SCHEDULES)
    gamma: float = _f(0.99, "discount", low=0.0, high=1.0)
    gae_lambda: float = _f(0.95, "GAE lambda", low=0.0, high=1.0)
    clip_param: float = _f(0.2, "PPO ratio clip", positive=True)
    vf_clip_param: float = _f(10.0, "value-loss clip (RLlib clamps the squared error)", positive=True)
    return_scaling: bool = _f(True, "value targets in units of a running return scale, the value head "
                              "rescaled to match (agent/model/return_scale.py); scores stay the map's")
    # SMAC's default damage reward (Samvelyan et al. 2019); on DefeatRoaches it learnt faster than none
    # (docs/pilots/roaches_damage.json against roaches_defaults.json).
    damage_reward: float = _f(0.05, "PPO-only bonus per enemy hit point or shield removed (SMAC-style "
                              "shaping; 0 = off)", low=0.0)
    # BuildMarines pays a Marine only. Trained on the score and the idle penalty alone, the workers moved
    # about (not idle, bringing nothing home): 0 over 490k env steps
    # (docs/learning/BuildMarines_seed0_no_income_reward.metrics.jsonl). Paid for the income alone, the
    # policy mined and built nothing: 0 over 520k (BuildMarines_seed0_collection_reward.metrics.jsonl).
    # Paid per mineral spent, it placed Supply Depots it never finished: 0 over 250k
    # (BuildMarines_seed0_spending_reward.metrics.jsonl). Paid for what it built alone, it never learnt to
    # mine: 0 over 287k (BuildMarines_seed0_production_reward.metrics.jsonl). Paid both at 1, it mined and
    # hoarded: 0 over 583k (BuildMarines_seed0_collection_and_production_reward.metrics.jsonl), so what is
    # built pays four times what is mined. Paid for the income but not charged for spending it, policies
    # spent each 50 or 100 minerals on SCVs and Supply Depots as soon as they had them, and never the 150
    # of a Barracks (docs/RESULTS.md, BuildMarines): the bank reward charges back what is spent.
    bank_reward: float = _f(1.0, "PPO-only reward per mineral or gas the bank gains (brought home) and "
                            "charge per one it loses (spent), as a share of its worth in the map's score, "
                            "where the score does not count the income (BuildMarines; 0 = off)", low=0.0)
    production_reward: float = _f(4.0, "PPO-only reward per mineral or gas worth of what the income buys, "
                                  "paid when the game takes the minerals: units (not workers) at their "
                                  "price, the first structure of each type at its price, later ones "
                                  "nothing, but a Supply Depot once the supply in use comes within 8 "
                                  "of it (envs/engine_bridge.py PRODUCTION_WORTH), as a share of its "
                                  "worth in the map's score, where the score does not count the income "
                                  "(BuildMarines; 0 = off)",
                                  low=0.0)
    # Ten times a worker's mineral income (40-42 minerals per worker per minute of real, faster, time, i.e.
    # 1,344 game loops: Liquipedia, "Resources"), so that an idle worker's own choice outweighs the
    # noise of the team's income; without it greedy play left every worker idle
    # (docs/pilots/idle_penalty.json against stagger_economy.json).
    idle_worker_penalty: float = _f(5.0, "PPO-only penalty in minerals per own worker without an order per "
                                    "game second, paid in the map's score (economy maps; 0 = off)", low=0.0)
    stagger_starts: bool = _f(True, "training: game i of n cuts its first episode at i/n of the time limit, "
                              "so each batch spans the whole episode (agent/rllib/train_env.py)")
    vf_loss_coeff: float = _f(0.5, "value-loss weight", low=0.0)
    # 0.01 kept DefeatRoaches' policy attack-moving; at 0.001 greedy play focused fire within 150k env steps
    # and CollectMineralShards scored no lower (docs/pilots/roaches_entropy.json, shards_ent0001.json).
    entropy_coeff: float = _f(0.001, "entropy bonus weight", low=0.0)
    entropy: str = _f("joint", "entropy bonus over each unit's joint (verb, target) choice, or per head "
                      "(verb; target given verb), each divided by log(legal choices)", choices=ENTROPY_MODES)
    # "none": on 3m, 40k env steps, the penalty on the joint action (RLlib's default) trailed no penalty
    # greedy and sampled (docs/pilots/kl_3m.json); the clipped ratio alone bounds the step, as in CleanRL.
    kl: str = _f("none", "RLlib's adaptive KL penalty: none, on the units' joint action (summed over units), "
                 "or per acting unit (averaged over the units with a choice)", choices=KL_MODES)
    # per_unit: on DefeatRoaches at 150k env steps greedy 278 and sampled 113 where the joint ratio gave
    # 146 and 6 (docs/pilots/roaches_unit_ratio.json against roaches_entropy.json).
    ratio: str = _f("per_unit", "PPO's clipped probability ratio per own unit, or over the units' joint "
                    "action (RLlib's loss)", choices=RATIO_MODES)
    train_batch_size: int = _f(2048, "env steps per training iteration", low=1)
    # 512: a quarter of 256's SGD steps at 2 epochs, scores within 4 x 256's intervals on DefeatRoaches
    # (docs/pilots/roaches_unit_ratio_fast.json).
    minibatch_size: int = _f(512, "SGD minibatch size", low=1)
    # 4: on 2s3z at 500k env steps greedy 15.5 and sampled 17.6 where 2 epochs gave 10.7 and 12.9
    # (docs/pilots/sample_reuse_2s3z.json); on DefeatRoaches at 300k the same scores as 2, in 1.7x the time
    # (docs/pilots/epochs_roaches.json). Budgets are env steps, so sample reuse wins.
    num_epochs: int = _f(4, "SGD passes over each train batch", low=1)
    grad_clip: float = _f(0.5, "global gradient-norm clip", positive=True)


@dataclass
class ScaleConfig:
    num_env_runners: int = _f(0, "remote env-runner workers (0 = sample in the driver)", low=0)
    num_learners: int = _f(0, "remote learner workers, torch DDP (0 = learn in the driver)", low=0)
    num_gpus_per_learner: float = _f(0.0, "GPUs per learner (the driver's learner if num_learners is 0)",
                                     low=0.0)
    num_cpus: int = _f(2, "CPUs given to a local Ray (ignored with an address)", low=1)
    address: str | None = _f(None, "Ray cluster address ('auto' for a running cluster); null = local Ray")
    # Two: both cores of a 2-core machine when nothing else runs there. On a busy machine a second thread
    # mostly spin-waits (bench learner), so two runs side by side take one thread each (bench/learning.py).
    torch_threads: int = _f(2, "torch intra-op threads in the learner", low=1)
    restart_env_runners: bool = _f(True, "restart an env runner that died (lost node, crashed game), go on")
    restart_delay_s: float = _f(5.0, "seconds an env runner whose env raised waits before Ray restarts it",
                                low=0.0)


@dataclass
class RunConfig:
    max_env_steps: int = _f(200_000, "stop after this many env steps (0 = no limit)", low=0)
    max_minutes: float = _f(3.0, "stop after this much training time (0 = no limit)", low=0.0)
    max_iterations: int = _f(0, "stop after this many iterations (0 = no limit)", low=0)
    checkpoint_every: int = _f(5, "iterations between checkpoints (a final one is always written)", low=1)
    keep_checkpoints: int = _f(3, "newest checkpoints kept on disk", low=1)
    progress: bool = _f(True, "show a tqdm progress bar")


@dataclass
class TrainConfig:
    name: str = _f("run", "run name: outputs go to runs/<name>/ unless --run-dir is given")
    seed: int = _f(0, "one seed for envs, weights and sampling", low=0)
    env: EnvConfig = field(default_factory=EnvConfig, metadata={"doc": "environment"})
    model: ModelConfig = field(default_factory=ModelConfig, metadata={"doc": "policy network"})
    ppo: PPOSettings = field(default_factory=PPOSettings, metadata={"doc": "PPO hyper-parameters"})
    scale: ScaleConfig = field(default_factory=ScaleConfig, metadata={"doc": "Ray resources"})
    run: RunConfig = field(default_factory=RunConfig, metadata={"doc": "stopping and checkpoints"})

    def check(self) -> TrainConfig:
        """Cross-field checks that no single field can make."""
        units, entities = self.env.max_units, self.env.max_entities
        if units is not None and entities is not None and units > entities:
            raise UserError(
                f"config key 'env.max_units': {self.env.max_units} exceeds env.max_entities "
                f"({self.env.max_entities}); own units occupy the first slots"
            )
        if self.env.backend == "pysc2":
            self._check_pysc2()
        self._check_encoder_options()
        if self.ppo.lr_schedule == "linear" and self.run.max_env_steps == 0:
            raise UserError("config key 'ppo.lr_schedule': linear (the default) decays to 0 at "
                            "run.max_env_steps, which is 0 (no limit); set a budget or use constant")
        if self.ppo.minibatch_size > self.ppo.train_batch_size:
            raise UserError(
                f"config key 'ppo.minibatch_size': {self.ppo.minibatch_size} exceeds ppo.train_batch_size "
                f"({self.ppo.train_batch_size})"
            )
        return self

    def _check_pysc2(self) -> None:
        # The real minigames play their own enemies.
        if self.env.enemy_bot not in (None, "idle"):
            raise UserError(f"config key 'env.enemy_bot': the pysc2 backend plays the map's own enemies; "
                            f"got {self.env.enemy_bot!r}, use null")

    def _check_encoder_options(self) -> None:
        """Each encoder option by name and value, then the encoder built once (it is small) for the
        constraints between options; a problem names model.encoder_options.<key> where it is one key's."""
        key = "model.encoder_options"
        try:
            check_options(self.model.encoder, self.model.encoder_options)
            width, options = self.model.resolved()
            build_encoder(self.model.encoder, dim_in=width, dim_out=width, **options)
        except EncoderOptionError as err:
            hint = ""
            if err.key not in encoder_options(self.model.encoder):
                hint = "; options belong to one encoder: --set model.encoder_options={} clears them"
            raise UserError(f"config key '{key}.{err.key}': {err.problem}{hint}") from None
        except UserError as err:
            raise UserError(f"config key '{key}': {err}") from None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _describe(meta: dict, kind: str) -> str:
    if meta.get("choices"):
        return "one of " + ", ".join(str(c) for c in meta["choices"])
    low, high = meta.get("low"), meta.get("high")
    if meta.get("positive"):
        return f"{kind} > 0"
    if low is not None and high is not None:
        return f"{kind} in [{low}, {high}]"
    if low is not None:
        return f"{kind} >= {low}"
    return kind


def _convert(key: str, value, hint, meta: dict):
    """Check one leaf value against its type hint and metadata; returns the converted value."""
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional, hint = True, args[0]
    kinds = {int: "an integer", float: "a number", str: "a string", bool: "true or false", dict: "a mapping"}
    kind = kinds[hint]
    allowed = _describe(meta, kind)
    if value is None and optional:
        return None
    if hint is float and isinstance(value, str):
        # YAML 1.1 reads `3e-4` (no dot) as a string; accept what float() accepts.
        try:
            value = float(value)
        except ValueError:
            pass
    ok = (
        (hint is bool and isinstance(value, bool))
        or (hint is int and isinstance(value, int) and not isinstance(value, bool))
        or (hint is float and isinstance(value, (int, float)) and not isinstance(value, bool))
        or (hint is str and isinstance(value, str) and value != "")
        or (hint is dict and isinstance(value, dict))
    )
    if ok and hint is float:
        value = float(value)
    if ok and meta.get("choices") and value not in meta["choices"]:
        ok = False
    if ok and hint in (int, float):
        low, high = meta.get("low"), meta.get("high")
        ok = math.isfinite(value) and not (
            (meta.get("positive") and value <= 0)
            or (low is not None and value < low)
            or (high is not None and value > high)
        )
    if not ok:
        raise UserError(f"config key '{key}': expected {allowed}, got {value!r}")
    return value


def _build(cls, data, prefix: str = ""):
    if not isinstance(data, dict):
        where = f"config key '{prefix.rstrip('.')}'" if prefix else "config"
        raise UserError(f"{where}: expected a mapping of keys, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            raise UserError(
                f"unknown config key '{prefix}{key}' (allowed in "
                f"{prefix.rstrip('.') or 'the top level'}: {', '.join(fields)})"
            )
    kwargs = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, f"{prefix}{name}.")
        else:
            kwargs[name] = _convert(f"{prefix}{name}", value, hint, dict(fields[name].metadata))
    return cls(**kwargs)


def parse_override(text: str) -> tuple[list[str], object]:
    """'model.encoder=transformer' -> (['model', 'encoder'], 'transformer'); values are YAML scalars."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set expects key=value (e.g. model.encoder=transformer), got {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise UserError(f"--set {text}: config key '{part}' is not a section")
            node = child
        node[path[-1]] = value
    return data


def read_yaml(path: Path):
    """The parsed YAML of `path`; a missing or unreadable file, bytes that are not UTF-8 (YAML's encoding
    here) or bad YAML is a one-line UserError."""
    if not path.is_file():
        raise UserError(f"config file not found: {path}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset {err.start}); "
                        "save the config as UTF-8") from None
    except OSError as err:
        raise UserError(f"cannot read config file {path}: {err.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML: {' '.join(str(err).split())}") from None


def load_config(path: str | Path | None, overrides: list[str] = ()) -> TrainConfig:
    """Read a YAML file (or start from the defaults if path is None), apply overrides, validate."""
    data: dict = {}
    if path is not None:
        path = Path(path)
        data = read_yaml(path)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise UserError(f"{path}: expected a mapping of config keys at the top level")
    return config_from_dict(apply_overrides(data, list(overrides)))


def config_from_dict(data: dict) -> TrainConfig:
    return _build(TrainConfig, data).check()


def field_docs(cls=TrainConfig, prefix: str = "") -> dict[str, str]:
    """Dotted key -> one-line doc, for every leaf field (used in `train --help` and the README)."""
    out = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            out.update(field_docs(hints[f.name], f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = f.metadata["doc"]
    return out
