"""EngineSC2Env: a drop-in for pysc2's `SC2Env` that runs the embedded engine instead of the game.

Same constructor, specs, TimeSteps and raw observations (`raw_units` is pysc2's NamedNumpyArray), so
existing raw-interface pysc2 agents run unmodified, without StarCraft II:

    import envs
    EngineSC2Env = envs.EngineSC2Env           # installs the pysc2 shims first
    from pysc2.agents import scripted_agent
    from pysc2.env import run_loop, sc2_env
    from pysc2.lib import features

    aif = features.AgentInterfaceFormat(use_raw_units=True, use_raw_actions=True, raw_resolution=64)
    with EngineSC2Env(map_name="DefeatRoaches", players=[sc2_env.Agent(sc2_env.Race.terran)],
                      agent_interface_format=aif, step_mul=8, random_seed=1) as env:
        run_loop.run_loop([scripted_agent.DefeatRoachesRaw()], env, max_episodes=2)

Actions go through pysc2's own `Features.transform_action` (same validation, same pixel-to-world
rounding as the real env), and the resulting unit command becomes an `envs.raw_schema.RawCommand`.
Only raw units and raw actions exist here: feature layers, RGB, realtime and replays are refused.
"""

from __future__ import annotations

import logging
import random

import numpy as np

from envs import pysc2_compat
from envs.raw_schema import MAX_SELECTED_UNITS, FeatureUnit, RawCommand, RawFunction, RawObs

_p = pysc2_compat.import_pysc2()
_features, _named_array, _environment = _p.features, _p.named_array, _p.environment

__all__ = ["EngineSC2Env"]

# The raw functions the engine executes (its public command set) on a map that allows unit commands
# (MapSpec.unit_commands), plus the economy functions an economy map allows (MapSpec.econ_functions); the
# rest it rejects with a reason.
_ENGINE_FUNCTIONS = (
    RawFunction.no_op, RawFunction.Move_pt, RawFunction.Move_unit, RawFunction.Attack_pt,
    RawFunction.Attack_unit, RawFunction.Smart_pt, RawFunction.Smart_unit, RawFunction.Stop_quick,
    RawFunction.HoldPosition_quick)


def _available(spec) -> np.ndarray:
    economy = (RawFunction[name] for name in spec.econ_functions)
    unit = _ENGINE_FUNCTIONS if spec.unit_commands else (RawFunction.no_op,)
    return np.array(sorted({int(fn) for fn in (*unit, *economy)}), np.int32)
_ERROR_CODE = 3  # s2clientprotocol error.proto ActionResult.Error: the engine's reasons are free text


def _constant(shape, names) -> np.ndarray:
    """A read-only all-zero named array: built once per env, as NamedNumpyArray costs ~25 us each."""
    array = _named_array.NamedNumpyArray(np.zeros(shape, np.int32), names)
    array.flags.writeable = False
    return array


def _empty(columns) -> np.ndarray:
    return _constant((0, len(columns)), [None, columns])


class EngineSC2Env(_environment.Base):
    """pysc2 `SC2Env` interface over `envs.engine.Engine` (one agent; the enemy is an engine bot)."""

    def __init__(self, *, map_name=None, battle_net_map=False, players=None, agent_interface_format=None,
                 discount=1.0, discount_zero_after_timeout=False, visualize=False, step_mul=None,
                 realtime=False, save_replay_episodes=0, replay_dir=None, replay_prefix=None,
                 game_steps_per_episode=None, score_index=None, score_multiplier=None, random_seed=None,
                 disable_fog=False, ensure_available_actions=True, version=None, enemy_bot=None):
        del battle_net_map, visualize, replay_dir, replay_prefix, ensure_available_actions, version  # no game
        from envs.engine import ECONOMY_MAP_NAMES, MAP_NAMES, Engine, map_spec

        self._engine = None
        if isinstance(map_name, (list, tuple)):
            if len(map_name) != 1:
                raise ValueError(f"EngineSC2Env plays one map; got a list of {len(map_name)}")
            map_name = map_name[0]
        map_name = getattr(map_name, "name", map_name)  # a pysc2 maps.lib.Map instance works too
        if map_name not in MAP_NAMES + ECONOMY_MAP_NAMES:
            raise ValueError(f"EngineSC2Env has no map {map_name!r}; the engine simulates "
                             f"{', '.join(MAP_NAMES + ECONOMY_MAP_NAMES)}")
        self._map_name, self._spec = map_name, map_spec(map_name)
        self._functions = _available(self._spec)
        players = list(players) if players else [_p.sc2_env.Agent(_p.sc2_env.Race.terran)]
        agents = [p for p in players if isinstance(p, _p.sc2_env.Agent)]
        if len(agents) != 1 or len(players) > 2:
            raise ValueError("EngineSC2Env supports exactly one Agent (plus optionally one Bot, played by "
                             "the engine's scripted enemy)")
        for what, value in (("realtime", realtime), ("save_replay_episodes", save_replay_episodes)):
            if value:
                raise ValueError(f"EngineSC2Env cannot do {what}={value!r}: no game to run or record")
        if disable_fog and self._spec.fog:
            raise ValueError(f"EngineSC2Env cannot disable fog on {map_name}")
        self._aif = self._check_interface(agent_interface_format)
        size = _p.point.Point(*self._spec.map_size)
        self._features = _features.Features(agent_interface_format=self._aif, map_size=size,
                                            map_name=map_name)  # pysc2's specs and action transform
        res = self._aif.raw_resolution
        self._scale = np.array([res.x, res.y], np.float64) / max(self._spec.map_size)  # px per world unit
        self._native = tuple(int(v) for v in (res.x, res.y)) == tuple(self._spec.map_size)
        self._step_mul = int(step_mul or 8)  # pysc2 minigames' default (maps/mini_games.py)
        self._episode_length = int(game_steps_per_episode or 0)  # 0: the map's own timer ends it
        self._score_index = 0 if score_index is None else int(score_index)
        self._score_multiplier = 1 if score_multiplier is None else score_multiplier
        self._discount, self._discount_zero_after_timeout = discount, discount_zero_after_timeout
        seed = random.SystemRandom().randrange(2**31) if random_seed is None else int(random_seed)
        kwargs = {} if enemy_bot is None else {"enemy_bot": enemy_bot}
        self._engine = Engine(map_name, seed=seed, step_mul=self._step_mul, game_steps_per_episode=0,
                              **kwargs)  # timeouts are counted here, as SC2Env does
        race = int(agents[0].race[0])
        self._races = np.array([race], np.int32)
        self._state = _environment.StepType.LAST  # the first step() resets, as in SC2Env
        self._last_obs: RawObs | None = None
        self._last_score = 0.0
        self._episode_steps = self._total_steps = self._episode_count = 0
        self.last_action_results: list[tuple[int, str]] = []  # the engine's reasons for rejected commands
        f = _features
        self._constants = {  # what the engine has no notion of: empty or zero, as in a minigame's start
            "build_queue": _empty(f.UnitLayer), "cargo": _empty(f.UnitLayer),
            "multi_select": _empty(f.UnitLayer), "single_select": _empty(f.UnitLayer),
            "production_queue": _empty(f.ProductionQueue),
            "raw_effects": _empty(f.EffectPos), "radar": _empty(f.Radar),
            "score_by_category": _constant((len(f.ScoreByCategory), len(f.ScoreCategories)),
                                           [f.ScoreByCategory, f.ScoreCategories]),
            "score_by_vital": _constant((len(f.ScoreByVital), len(f.ScoreVitals)),
                                        [f.ScoreByVital, f.ScoreVitals]),
        }

    @staticmethod
    def _check_interface(aif):
        if isinstance(aif, (list, tuple)):
            if len(aif) != 1:
                raise ValueError("one agent_interface_format per agent: EngineSC2Env has one agent")
            aif = aif[0]
        if not isinstance(aif, _features.AgentInterfaceFormat):
            raise ValueError("EngineSC2Env needs a pysc2 AgentInterfaceFormat "
                             "(passing InterfaceOptions means talking protos to the game)")
        unsupported = {"feature_dimensions (feature layers)": aif.feature_dimensions,
                       "rgb_dimensions (rendering)": aif.rgb_dimensions,
                       "send_observation_proto": aif.send_observation_proto,
                       "action_delay_fn": aif.action_delay_fn}
        refused = [name for name, value in unsupported.items() if value]
        if refused or not (aif.use_raw_units and aif.use_raw_actions):
            raise ValueError("EngineSC2Env simulates raw units and raw actions only: use AgentInterface"
                             "Format(use_raw_units=True, use_raw_actions=True, raw_resolution=64)"
                             + (f"; not available: {', '.join(refused)}" if refused else ""))
        return aif

    # --- pysc2 environment API -------------------------------------------------------------------------
    @property
    def map_name(self) -> str:
        return self._map_name

    @property
    def episode_steps(self) -> int:
        """Game loops since the episode started (pysc2's `_episode_steps`)."""
        return self._episode_steps

    def observation_spec(self):
        spec = self._features.observation_spec()
        spec["available_actions"] = (0,)  # an extra: the raw functions the engine executes
        return (spec,)

    def action_spec(self):
        return (self._features.action_spec(),)

    def reset(self):
        self._episode_count += 1
        self._episode_steps = 0
        self.last_action_results = []
        self._state = _environment.StepType.FIRST
        return self._observe(self._engine.reset())

    def step(self, actions, step_mul=None):
        """One agent step: `actions` holds one FunctionCall (or a list of them) per agent."""
        if self._state == _environment.StepType.LAST:
            return self.reset()
        if len(actions) != 1:
            raise ValueError(f"Expected 1 action list (one agent), received {len(actions)}.")
        commands = self._commands(actions[0])
        if step_mul is not None and int(step_mul) != self._step_mul:
            raise ValueError("EngineSC2Env steps a fixed step_mul; set it in the constructor")
        obs = self._engine.step(commands)
        self.last_action_results = list(obs.action_results)
        self._state = _environment.StepType.MID
        return self._observe(obs)

    def close(self) -> None:
        self._engine = None

    def save_replay(self, *args, **kwargs):
        raise NotImplementedError("EngineSC2Env has no replays: there is no game")

    def send_chat_messages(self, messages, broadcast=True):
        del messages, broadcast

    # --- actions: FunctionCall -> pysc2 action proto -> RawCommand ---------------------------------------
    def _commands(self, calls) -> list[RawCommand]:
        calls = calls if isinstance(calls, list) else [calls]  # as sc2_env.to_list: a FunctionCall is a tuple
        tags = self._last_obs.raw_units[:, FeatureUnit.tag] if self._last_obs is not None else []
        self._features._raw_tags = np.asarray(tags)  # what transform_obs would have stored
        commands = []
        for call in calls:
            if int(call.function) == 0 and not call.arguments:
                continue  # no_op: skip building an action proto (pure-Python protobuf is slow)
            try:  # pysc2's own validation: ValueError for bad arguments, as SC2Env.step raises
                action = self._features.transform_action(None, call, skip_available=True)
            except (IndexError, KeyError) as err:  # pysc2 4.0.0 lets an unknown id escape as IndexError
                raise ValueError(f"Invalid raw function id: {call.function}") from err
            if not action.action_raw.HasField("unit_command"):
                continue  # no_op, camera moves: nothing to simulate
            cmd = action.action_raw.unit_command
            if cmd.HasField("target_unit_tag"):
                target = int(cmd.target_unit_tag)
            elif cmd.HasField("target_world_space_pos"):  # engine points: pixels of its 64x64 raw grid
                pos = cmd.target_world_space_pos
                target = (float(pos.x), float(self._spec.map_size[1] - pos.y))
            else:
                target = None
            unit_tags = [int(t) for t in cmd.unit_tags]
            for start in range(0, len(unit_tags), MAX_SELECTED_UNITS):  # pysc2 takes up to 512 per call
                chunk = tuple(unit_tags[start:start + MAX_SELECTED_UNITS])
                commands.append(RawCommand(int(call.function), bool(cmd.queue_command), chunk, target))
        return commands

    # --- observations: RawObs -> pysc2 observation dict ------------------------------------------------
    def _observe(self, obs: RawObs):
        self._last_obs = obs
        loop = int(obs.game_loop)
        self._total_steps += max(loop - self._episode_steps, 0)
        self._episode_steps = loop
        discount = self._discount
        if obs.done:
            self._state, discount = _environment.StepType.LAST, 0.0
        elif self._episode_length and loop >= self._episode_length:
            self._state = _environment.StepType.LAST
            discount = 0.0 if self._discount_zero_after_timeout else discount
        if self._score_index == 0:  # the map's score, unrounded: SMAC's reward on the SMAC maps
            reward = obs.reward
        elif self._score_index > 0:
            score = float(obs.score_cumulative[self._score_index])
            reward = 0.0 if self._state == _environment.StepType.FIRST else score - self._last_score
            self._last_score = score
        else:
            reward = float(obs.outcome)
        first = self._state == _environment.StepType.FIRST
        if self._state == _environment.StepType.LAST:
            logging.info("Episode %d finished after %d game steps. Outcome: %d, score: %s",
                         self._episode_count, loop, obs.outcome, obs.score_cumulative[0])
        return (_environment.TimeStep(
            step_type=self._state, reward=0.0 if first else reward * self._score_multiplier,
            discount=0.0 if first else discount, observation=self._observation(obs)),)

    def _raw_units(self, obs: RawObs) -> np.ndarray:
        units = np.array(obs.raw_units, dtype=np.int64, copy=True)
        if not self._native and len(units):  # re-discretise exact positions at the requested resolution
            units[:, FeatureUnit.x] = np.floor(obs.positions[:, 0] * self._scale[0])
            flipped_y = self._spec.map_size[1] - obs.positions[:, 1]
            units[:, FeatureUnit.y] = np.floor(flipped_y * self._scale[1])
            units[:, FeatureUnit.radius] = (obs.radii * self._scale[0]).astype(np.int64)
        return _named_array.NamedNumpyArray(units, [None, _features.FeatureUnit], dtype=np.int64)

    def _observation(self, obs: RawObs):
        f = _features
        raw_units = self._raw_units(obs)
        codes = [_ERROR_CODE] * len(obs.action_results)
        out = _named_array.NamedDict({
            "action_result": np.array(codes, np.int32),
            "alerts": np.zeros(0, np.int32),
            "available_actions": self._functions.copy(),
            "cargo_slots_available": np.zeros(1, np.int32),
            "control_groups": np.zeros((10, 2), np.int32),
            "game_loop": np.array([obs.game_loop], np.int32),
            "last_actions": np.zeros(0, np.int32),
            "map_name": self._map_name,
            "player": _named_array.NamedNumpyArray(np.asarray(obs.player, np.int32), names=f.Player),
            "score_cumulative": _named_array.NamedNumpyArray(
                np.asarray(obs.score_cumulative, np.int32), names=f.ScoreCumulative),
            "raw_units": raw_units,
            "upgrades": np.zeros(0, np.int32),
            "home_race_requested": self._races,
            "away_race_requested": np.zeros(1, np.int32),
            **self._constants,
        })
        if self._aif.use_unit_counts:
            own = raw_units[raw_units[:, FeatureUnit.alliance] == 1, FeatureUnit.unit_type]
            types, counts = np.unique(np.asarray(own), return_counts=True)
            out["unit_counts"] = _named_array.NamedNumpyArray(
                np.stack([types, counts], axis=1).astype(np.int32).reshape(-1, 2), [None, f.UnitCounts])
        if self._aif.use_camera_position:
            centre = np.array(self._spec.map_size, np.float64) / 2 * self._scale
            out["camera_position"] = centre.astype(np.int32)
            width = np.full(2, float(self._aif.camera_width_world_units))
            out["camera_size"] = (width * self._scale).astype(np.int32)
        return out


def main(argv=None) -> int:
    """`python -m envs.engine_sc2env`: a pysc2 agent plays seeded episodes through pysc2's run_loop."""
    import argparse
    import contextlib
    import importlib
    import io
    import time

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--agent", default="pysc2.agents.scripted_agent.DefeatRoachesRaw",
                        help="dotted path of a pysc2 agent class")
    parser.add_argument("--map", default="DefeatRoaches")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="episode i uses random_seed seed + i")
    parser.add_argument("--overhead", type=int, default=0, metavar="STEPS",
                        help="instead: time STEPS no-op steps of the bare Engine and of EngineSC2Env")
    args = parser.parse_args(argv)
    if args.overhead:
        return _overhead(args.map, args.overhead, args.seed)
    from pysc2.env import run_loop

    module, _, name = args.agent.rpartition(".")
    agent_cls = getattr(importlib.import_module(module), name)
    aif = _features.AgentInterfaceFormat(use_raw_units=True, use_raw_actions=True, raw_resolution=64)
    scores, steps, start = [], 0, time.perf_counter()
    logging.disable(logging.INFO)  # run_loop's per-episode log lines
    for episode in range(args.episodes):
        agent = agent_cls()
        seed = args.seed + episode
        with EngineSC2Env(map_name=args.map, agent_interface_format=aif, random_seed=seed) as env, \
                contextlib.redirect_stdout(io.StringIO()):  # run_loop prints an fps line per call
            run_loop.run_loop([agent], env, max_episodes=1)
        scores.append(agent.reward)
        steps += agent.steps
    elapsed = time.perf_counter() - start
    scores = np.array(scores, np.float64)
    half = 1.96 * scores.std(ddof=1) / np.sqrt(len(scores)) if len(scores) > 1 else float("nan")
    print(f"{name} on {args.map}: mean {scores.mean():.2f} +- {half:.2f} (95% CI), min {scores.min():.0f}, "
          f"max {scores.max():.0f}, {len(scores)} episodes, {steps / elapsed:.0f} agent steps/s")
    return 0


def _overhead(map_name: str, steps: int, seed: int, repeats: int = 5) -> int:
    """Median no-op steps/s of the bare engine and of EngineSC2Env, measured alternately."""
    import time

    from envs.engine import Engine

    aif = _features.AgentInterfaceFormat(use_raw_units=True, use_raw_actions=True, raw_resolution=64)
    no_op = _p.actions.RAW_FUNCTIONS.no_op()
    engine, env = Engine(map_name, seed=seed), EngineSC2Env(map_name=map_name, agent_interface_format=aif,
                                                             random_seed=seed)

    def bare() -> None:
        if engine.step([]).done:
            engine.reset()

    def wrapped() -> None:
        env.step([no_op])  # a LAST step makes the next one reset, as in SC2Env

    rates: dict[str, list[float]] = {"engine": [], "EngineSC2Env": []}
    engine.reset(), env.reset()
    for _ in range(repeats):
        for name, fn in (("engine", bare), ("EngineSC2Env", wrapped)):
            start = time.perf_counter()
            for _ in range(steps):
                fn()
            rates[name].append(steps / (time.perf_counter() - start))
    bare_rate, env_rate = (float(np.median(rates[k])) for k in ("engine", "EngineSC2Env"))
    print(f"{map_name} no-op steps/s, median of {repeats}: engine {bare_rate:.0f}, "
          f"EngineSC2Env {env_rate:.0f} ({1e6 / env_rate - 1e6 / bare_rate:.0f} us of pysc2-interface "
          f"work per step)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
