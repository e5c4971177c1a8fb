"""The env RLlib trains on: a vector env of the config's backend with per-runner seeds, reward shaping and
a game log. The engine batches its games in one call; other backends (StarCraft II through pysc2) step one
EntityEnv per game, each env runner owning its games.

Imported by Ray workers through the env registry (`make_train_env` is the env creator).
"""

from __future__ import annotations

from collections import deque

import gymnasium as gym
import numpy as np

from envs.engine import map_spec
from envs.engine.economy_data import COST, MARINE
from envs.engine.maps import SCORE_COLLECTED, SCORE_MARINES
from envs.engine.units import LOOPS_PER_GAME_SECOND
from envs.entity_env import EntityEnv
from envs.vector_env import EntityVectorEnv

SEED_STRIDE = 100_000  # games of different env runners never share a seed below this many games each


def minerals_per_point(map_name: str) -> float:
    """A point of the map's score in minerals, the currency of the economy's shaping: on
    CollectMineralsAndGas a point is a mineral or gas collected, on BuildMarines a Marine (50 minerals)."""
    return float(COST[MARINE]) if map_spec(map_name).econ_score == SCORE_MARINES else 1.0


def scores_income(map_name: str) -> bool:
    """Whether the score counts the minerals and gas collected: every map but BuildMarines (the combat
    maps have no income)."""
    return map_spec(map_name).econ_score == SCORE_COLLECTED


class RunnerGames:
    """What both training vector envs add: non-overlapping seeds per env runner, dense shaping rewards
    and a log of finished games.

    RLlib seeds runner w with `seed + w`, and a vector env seeds game i with `seed + i`, so runners
    would replay each other's games; here game i of runner w starts at seed*SEED_STRIDE + w*num_envs + i.
    `finished` holds (steps, score, summed reward) of the last games as the env itself counted them.
    PPO's reward is the map reward + `damage_reward` x enemy hit points and shields removed: SMAC's dense
    combat reward (Samvelyan et al. 2019), since a Roach pays 10 only after ~145 hit points of coordinated
    fire, which random play almost never delivers. Both backends count the damage as the game's
    score_by_vital does. The economy's shaping is priced in minerals and paid in the map's score at
    `minerals_per_point` (a BuildMarines point is a Marine, 50 minerals). Where the score does not
    count the income (BuildMarines pays a Marine only, three structures and a few hundred minerals after
    the start), plus `bank_reward` x the worth of the change in the bank (the player's minerals and gas:
    paid as the workers bring them home, charged back as they are spent) and `production_reward` x the
    worth of what the income buys (`value_bought`; envs/engine_bridge.py PRODUCTION_WORTH says why): each
    unit, but workers, at its price, the first Barracks (or Refinery, Command Center) at its price (later
    ones nothing), and each Supply Depot at its price once the supply in use comes within one depot's
    supply of it (`depots_worth_paying`: at once for the depot that a nearly full supply needs), paid in
    the step the game takes the minerals (a unit queued, a structure begun: here nothing
    undoes it, with no cancel verb and no enemy on the economy maps), so the choice that spent them is
    paid at once. At the defaults (1 and 4) a mineral spent on a Marine pays 3 of its worth more than one
    left in the bank (4 for the Marine, less the 1 charged back) and the map's point besides, one spent on a
    first Barracks or a needed Supply Depot as much, on a later structure or a worker 1 less (a worker until
    it has mined its price back). Paid for the income alone, a policy mined and built nothing; for what it
    built alone, it never learnt to mine; for both alike, it hoarded; paid for the income and not charged
    for spending it, or paid back each structure's cost, it spent every 50 or 100 minerals as it had them
    and never saved the 150 of a Barracks.
    Less `idle_worker_penalty` per own worker without an order per game second (what pysc2's
    score_cumulative sums as idle_worker_time; only the economy maps have workers): a worker idling one
    step only delays its next trip, a cost PPO can hardly tell from noise, and trained policies left idle
    workers idle most steps, so that greedy play never sent them to work.
    The learner puts every map's returns on one scale (agent/model/return_scale.py), so rewards reach it
    unscaled; episode scores (progress bar, evaluation) are the map's own.

    Staggered starts: games that start together on a map whose episodes all last the time limit
    (MoveToBeacon, CollectMineralShards, the economy maps) would stay in step forever, and each training
    batch (32 steps of 64 games) would hold one phase of the episode only: the critic could never tell an
    opening from an ending. So with `stagger_steps` L, game i of n truncates its first episode after
    L * i // n steps (game 0 plays it whole); from then on the games' phases are spread over the episode.
    A cut episode is truncated, not terminated (PPO bootstraps from its last value), and is not a
    finished game: it is not logged here, and its last info says `cut`, so the score metrics skip it
    (agent/rllib/callbacks.py).
    """

    def _init_runner_games(self, seed_base: int, damage_reward: float, bank_reward: float,
                           production_reward: float, idle_worker_penalty: float, stagger: bool,
                           time_limit_loops: int, step_mul: int) -> None:
        self.seed_base = seed_base
        point = minerals_per_point(self.map_name)
        per_mineral = 0.0 if scores_income(self.map_name) else 1.0 / point
        # the game's running totals that pay per unit of change: name of the property -> reward per unit
        self.counter_rewards = {name: float(reward) for name, reward in
                                (("damage_dealt", damage_reward),
                                 ("resources_banked", bank_reward * per_mineral),
                                 ("value_bought", production_reward * per_mineral))
                                if reward}
        self._counted = {name: np.zeros(self.num_envs) for name in self.counter_rewards}
        self.idle_step_penalty = float(idle_worker_penalty) / point * step_mul / LOOPS_PER_GAME_SECOND
        # L: the agent steps of a game that lasts the time limit (its last step may be short)
        self.stagger_steps = -(-int(time_limit_loops) // int(step_mul)) if stagger else 0
        self._cut_at = np.zeros(self.num_envs, dtype=np.int64)  # 0: the game's episode is not cut
        self.worker_index = 0  # set by TrainCallbacks.on_environment_created
        self.finished: deque = deque(maxlen=1000)
        self._steps = np.zeros(self.num_envs, dtype=np.int64)
        self._returns = np.zeros(self.num_envs, dtype=np.float64)

    def _reset_seed(self, seed):
        """A reset restarts every game: clear their logs and return the seed for the vector env (which
        seeds game i with seed + i) in place of RLlib's `seed`."""
        self._steps[:] = 0
        self._returns[:] = 0.0
        self._cut_at = self.stagger_steps * np.arange(self.num_envs, dtype=np.int64) // self.num_envs
        if isinstance(seed, (int, np.integer)):
            return self.seed_base * SEED_STRIDE + self.worker_index * self.num_envs
        return seed

    def _count_from_start(self, reset_result):
        """After a reset: the counters pay their change from the games' start (where a game starts with
        units, `value_bought` is not 0)."""
        for name in self._counted:
            self._counted[name] = getattr(self, name)
        return reset_result

    def _shape_cut_and_log(self, was_done, rewards, terminated, truncated, infos):
        """-> (rewards with the shaping added, truncated with the staggered cuts); logs the games
        that ended and marks the ones cut this step in `infos["cut"]` (the caller restarts them next step).
        `was_done` marks games restarting this step (their counters start again from the new game's
        start and they pay nothing)."""
        rewards = np.asarray(rewards, dtype=np.float64)
        for name, reward in self.counter_rewards.items():
            count = getattr(self, name)
            rewards = rewards + np.where(was_done, 0.0, count - self._counted[name]) * reward
            self._counted[name] = count
        if self.idle_step_penalty:
            rewards = rewards - np.where(was_done, 0.0, self.idle_workers) * self.idle_step_penalty
        rewards = rewards.astype(np.float32)
        live = ~was_done
        self._steps[live] += 1
        self._returns[live] += rewards[live]
        cut = live & ~terminated & ~truncated & (self._steps == self._cut_at)
        self._cut_at[cut] = 0
        infos["cut"] = cut
        for i in np.flatnonzero(live & (terminated | truncated)):
            self.finished.append((int(self._steps[i]), float(infos["score"][i]), float(self._returns[i])))
        self._steps[was_done] = 0
        self._returns[was_done] = 0.0
        return rewards, truncated | cut


class TrainVectorEnv(RunnerGames, EntityVectorEnv):
    """The engine vector env for training (RunnerGames)."""

    def __init__(self, *args, seed_base: int = 0, damage_reward: float = 0.0, bank_reward: float = 0.0,
                 production_reward: float = 0.0, idle_worker_penalty: float = 0.0, stagger: bool = True,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self._init_runner_games(seed_base, damage_reward, bank_reward, production_reward,
                                idle_worker_penalty, stagger, self.entity_spec.time_limit_loops,
                                self._engine_args["step_mul"])

    def reset(self, *, seed=None, options=None):
        return self._count_from_start(super().reset(seed=self._reset_seed(seed), options=options))

    def step(self, actions):
        obs, rewards, terminated, truncated, infos = super().step(actions)
        rewards, truncated = self._shape_cut_and_log(self.restarted, rewards, terminated, truncated, infos)
        self._needs_reset |= infos["cut"]
        return obs, rewards, terminated, truncated, infos


class TrainGamesVectorEnv(RunnerGames, gym.vector.SyncVectorEnv):
    """`num_envs` EntityEnv games of any backend stepped one after another (RunnerGames), for backends
    that play one game per instance: on pysc2 every game is a StarCraft II process of this env runner.

    Autoreset is gymnasium's NEXT_STEP mode, which RLlib assumes; infos are gymnasium's dict of arrays.
    `sc2_env_cls` replaces pysc2's SC2Env (tests: pysc2's mock_sc2_env.SC2TestEnv); None plays the game,
    which must be installed on every node that runs an env runner.
    """

    def __init__(self, map_name: str, num_envs: int = 1, *, backend: str, step_mul: int, seed_base: int = 0,
                 damage_reward: float = 0.0, bank_reward: float = 0.0, production_reward: float = 0.0,
                 idle_worker_penalty: float = 0.0, stagger: bool = True, sc2_env_cls=None, **env_kwargs):
        if backend == "pysc2":  # fail as this runner starts, not at its first sample
            from envs import pysc2_compat
            from envs.pysc2_backend import find_game

            if sc2_env_cls is None:
                find_game(map_name)
            pysc2_compat.install()  # raises if this worker started without protobuf's Python runtime
        super().__init__(
            [lambda: EntityEnv(map_name, backend=backend, step_mul=step_mul, sc2_env_cls=sc2_env_cls,
                               **env_kwargs)] * num_envs,
            autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP)
        self.map_name = map_name
        self._init_runner_games(seed_base, damage_reward, bank_reward, production_reward,
                                idle_worker_penalty, stagger,
                                self.envs[0].unwrapped.entity_spec.time_limit_loops, step_mul)

    def reset(self, *, seed=None, options=None):
        return self._count_from_start(super().reset(seed=self._reset_seed(seed), options=options))

    def step(self, actions):
        was_done = self._autoreset_envs.copy()
        obs, rewards, terminated, truncated, infos = super().step(actions)
        rewards, truncated = self._shape_cut_and_log(was_done, rewards, terminated, truncated, infos)
        self._autoreset_envs = self._autoreset_envs | infos["cut"]  # NEXT_STEP autoreset restarts them
        return obs, rewards, terminated, truncated, infos

    @property
    def damage_dealt(self) -> np.ndarray:
        """[num_envs] enemy hit points and shields each game's own units removed since it (re)started."""
        return np.array([env.unwrapped.damage_dealt for env in self.envs], dtype=np.float64)

    @property
    def idle_workers(self) -> np.ndarray:
        """[num_envs] each game's own workers without an order."""
        return np.array([env.unwrapped.idle_workers for env in self.envs], dtype=np.float64)

    @property
    def resources_banked(self) -> np.ndarray:
        """[num_envs] each game's minerals and gas in the bank."""
        return np.array([env.unwrapped.resources_banked for env in self.envs], dtype=np.float64)

    @property
    def value_bought(self) -> np.ndarray:
        """[num_envs] what each game's player has paid for (envs/entity_env.py `value_bought`)."""
        return np.array([env.unwrapped.value_bought for env in self.envs], dtype=np.float64)


def make_train_env(ctx: dict, *, sc2_env_cls=None):
    """RLlib env creator: ctx = env_config plus `num_envs` (vector mode). `sc2_env_cls` (pysc2 backend):
    the stand-in for pysc2's SC2Env that tests give through an env creator of their own."""
    ctx = dict(ctx)
    backend = ctx.pop("backend", "engine")
    seed_base = int(ctx.pop("seed_base", 0))
    shaping = {name: float(ctx.pop(name, 0.0)) for name in ("damage_reward", "bank_reward",
                                                              "production_reward", "idle_worker_penalty")}
    stagger = bool(ctx.pop("stagger", True))
    map_name = ctx.pop("map_name")
    num_envs = int(ctx.pop("num_envs", 1))
    if backend == "engine":
        return TrainVectorEnv(map_name, num_envs, seed_base=seed_base, stagger=stagger, **shaping, **ctx)
    return TrainGamesVectorEnv(map_name, num_envs, backend=backend, seed_base=seed_base, stagger=stagger,
                               sc2_env_cls=sc2_env_cls, **shaping, **ctx)
