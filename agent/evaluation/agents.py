"""What `--agent` names: a built-in agent (scripted, random) or a checkpoint, and the agent it plays as."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import envs  # noqa: F401  (registers the env ids)
from agent.evaluation.economy_agent import economy_agent
from agent.evaluation.scripted import RandomAgent, scripted_agent
from agent.training.build import check_fits_observation
from agent.training.checkpoint import load_policy
from envs.entity_env import entity_spec
from envs.errors import UserError

BUILTIN_AGENTS = ("scripted", "random")


class PolicyAgent:
    """A trained EntityPolicy playing one game, one observation at a time (`run_loop.play`, render):
    `PolicyGames` on a single game. Each `reset` begins the next episode; the k-th samples from a generator
    seeded `seed + k` and starts its memory afresh, as episode k of `play_games` from `seed` does."""

    def __init__(self, policy, *, sample: bool = False, seed: int = 0):
        self.games = PolicyGames(policy, sample=sample)
        self.seed = seed
        self.episodes = 0

    @property
    def state(self):
        """The memory state the next step acts from (None: the core's initial state)."""
        return self.games.states.get(0)

    def reset(self) -> None:
        self.games.start(0, self.seed + self.episodes)
        self.episodes += 1

    def act(self, obs: dict) -> np.ndarray:
        if self.episodes == 0:
            self.reset()
        return self.games.act([0], [obs])[0]


class PolicyGames:
    """A trained EntityPolicy playing several games at once (`run_loop.play_games`), one forward pass per
    step for all of them: greedy, or sampling with `sample`. Each game draws its samples from a generator
    seeded with its episode's seed and keeps its own memory state from a fresh start, so an episode plays
    as it would alone, however many run beside it."""

    def __init__(self, policy, *, sample: bool = False):
        self.policy = policy
        self.sample = sample
        self.generators: dict[int, torch.Generator] = {}
        self.states: dict[int, tuple[torch.Tensor, torch.Tensor] | None] = {}

    def start(self, game: int, seed: int) -> None:
        """Game `game` begins the episode of seed `seed`."""
        self.generators[game] = torch.Generator().manual_seed(seed)
        self.states[game] = None

    def act(self, games: list[int], observations: list[dict]) -> list[np.ndarray]:
        """The actions of each game in `games` for its observation."""
        obs = {key: np.stack([o[key] for o in observations]) for key in observations[0]}
        uniforms = None
        if self.sample:
            units = obs["action_mask"].shape[1]
            uniforms = torch.stack([torch.rand(units, generator=self.generators[g]) for g in games])
        actions, state = self.policy.act(obs, sample=self.sample, state=self._state_of(games),
                                         uniforms=uniforms)
        if state is not None:
            for row, game in enumerate(games):
                self.states[game] = (state[0][row:row + 1], state[1][row:row + 1])
        return list(actions)

    def _state_of(self, games: list[int]):
        """The games' memory states as one batch (a game just started: the core's initial state)."""
        core = self.policy.core
        if core is None:
            return None
        states = [self.states[g] or core.initial_state(1) for g in games]
        return torch.cat([h for h, _ in states]), torch.cat([c for _, c in states])


@contextmanager
def inference_threads(source: AgentSource | None, threads: int = 1):
    """Run a checkpoint agent's forwards (one step of at most GAMES_AT_ONCE games) on `threads` torch threads,
    then restore the setting.

    Intra-op threads only add synchronisation to a forward this small, and on a busy machine their
    spin-waits can make a short evaluation many times slower than on one thread.
    """
    if source is None or source.policy is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _map_kind(economy: bool, fog: bool) -> str:
    """The kind of map whose observation and action space a policy reads (envs/featurize.py)."""
    return "an economy map" if economy else "a combat map with fog" if fog else "a combat map without fog"


class AgentSource:
    """What `--agent` names: a built-in agent, or a checkpoint loaded once.

    A checkpoint plays the map it was trained on; with `cross_map` it plays any map (its weights do not
    depend on the map or its entity caps), else another map is a UserError naming both.
    """

    def __init__(self, name: str, *, sample: bool = False, cross_map: bool = False):
        self.name = name
        self.sample = sample
        self.cross_map = cross_map
        self.policy = self.meta = self.trained_map = None
        if name in BUILTIN_AGENTS:
            return
        if not Path(name).exists():
            raise UserError(f"unknown agent {name!r}: not scripted or random, and no such checkpoint or run "
                            "directory")
        self.policy, self.meta = load_policy(name)
        check_fits_observation(self.meta, name)
        self.trained_map = self.meta.get("env", {}).get("map_name")

    def check_map(self, map_name: str, *, note: bool = True) -> None:
        """Refuse a map other than the checkpoint's own unless `cross_map`; with `note`, say so (on stderr)
        when crossing."""
        if self.trained_map is None or self.trained_map == map_name:
            return
        kwargs, spec = self.meta["policy_kwargs"], entity_spec(map_name)
        trained = _map_kind(bool(kwargs.get("economy", False)), bool(kwargs.get("unseen_cells", False)))
        if trained != _map_kind(spec.economy, spec.fog):  # their layouts or observations differ
            raise UserError(f"checkpoint {self.name} was trained on {trained} ({self.trained_map}) and "
                            f"cannot play {map_name}, {_map_kind(spec.economy, spec.fog)}")
        if not self.cross_map:
            raise UserError(f"checkpoint {self.name} was trained on {self.trained_map}, not {map_name}; "
                            f"pass --cross-map to play it on {map_name} anyway")
        if note:
            print(f"note: {self.name} was trained on {self.trained_map}; playing it on {map_name} "
                  f"(--cross-map) with {map_name}'s entity caps", file=sys.stderr)

    def make_env(self, map_name: str, **env_kwargs) -> gym.Env:
        """The map's entity env as this agent needs it: a checkpoint keeps its training grid and step_mul
        everywhere, and its entity caps on the map it was trained on (the policy's weights do not depend
        on the caps); `env_kwargs` override."""
        kwargs = {}
        if self.meta is not None:
            trained = self.meta.get("env", {})
            keys = ["grid_size", "step_mul"]
            if trained.get("map_name") == map_name:
                keys += ["max_entities", "max_units"]
            kwargs = {k: trained[k] for k in keys if trained.get(k) is not None}
        return gym.make(f"perceiver_sc2/{map_name}-v0", **{**kwargs, **env_kwargs})

    def make_games(self) -> PolicyGames:
        """The checkpoint as a player of many games at once (`run_loop.play_games`)."""
        return PolicyGames(self.policy, sample=self.sample)

    def make(self, map_name: str, env, seed: int):
        spec = env.unwrapped.entity_spec
        if self.name == "scripted":
            # the economy maps' players read the env's raw observation (agent/evaluation/economy_agent.py)
            return economy_agent(map_name, spec, env.unwrapped, seed) or scripted_agent(map_name, spec, seed)
        if self.name == "random":
            return RandomAgent(spec, seed)
        return PolicyAgent(self.policy, sample=self.sample, seed=seed)
