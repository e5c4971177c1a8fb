"""Entity observations and per-unit actions over the engine, for a batch of games, in one compiled call.

`EntityEnv` (engine backend, a batch of one) and `EntityVectorEnv` both step the engine through this
class. A step is one numba call: the translate kernel groups the units' actions into raw commands, the
engine kernel checks and applies them and advances the games, and the featurize kernel writes the next
observation. No Python object is built per unit or per command, and the per-step Python cost is a
fixed handful of calls (what `perceiver-sc2 bench env` measures). The pysc2 backend needs
`RawCommand`s and takes `Translator.__call__` instead; both paths share the same kernels.

The bridge holds the games' `UnitMemory` (slots, last actions, orders): reset games through the bridge
(`reset`, `reset_game`) so that a new episode starts with an empty memory.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from envs.economy_kernels import spendable_minerals, withhold_unaffordable
from envs.engine.arena import unpack
from envs.engine.commands import Commands
from envs.engine.economy import food
from envs.engine.economy_data import COST, FOOD_MAX, FOOD_PROVIDED, PRODUCT, SCV, SUPPLY_DEPOT
from envs.engine.engine import CODE_OF_FUNCTION, kernel_codes
from envs.engine.kernel import step_kernel
from envs.engine.state import (
    ALIVE,
    BUILD_LEFT,
    KIND,
    LOOP,
    MINERALS,
    NUM_ORDERS,
    NUM_SLOTS,
    OWNER,
    OWNER_AGENT,
    PREV_SCORE,
    SCORE_UNITS,
    TRAIN_MARINE,
    TRAIN_SCV,
    TYPE,
    VESPENE,
)
from envs.engine.state import DAMAGE_DEALT as GAME_DAMAGE_DEALT
from envs.engine.state import DONE as GAME_DONE
from envs.engine.state import OUTCOME as GAME_OUTCOME
from envs.engine.state import SCORE as GAME_SCORE
from envs.engine.units import UNIT_TYPES, Flag
from envs.entity_kernels import featurize_batch, group_actions
from envs.featurize import EntitySpec, empty_observation, featurize_tables, new_memory
from envs.raw_schema import MAX_SELECTED_UNITS
from envs.raw_schema import Player as PL
from envs.translate import GroupedCommands, Translator
from envs.unit_memory import remember_actions

# columns of `EngineBridge.status` [B, 7]
REWARD, DONE, OUTCOME, SCORE, DAMAGE_DEALT, IDLE_WORKERS, BANKED = range(7)
_IDLE = int(PL.idle_worker_count)


# What the production reward (agent/rllib/train_env.py) pays on, per unit type: a unit at its price but
# the worker, whose worth is what it mines. A structure is worth its price once, the first of its type the
# player owns (what it unlocks: the first Barracks the Marines), and
# nothing after, so that the bank reward charges every later one its cost: with each structure paid back
# what it cost, a policy spent every 100 minerals on a Supply Depot and never held the 150 of a Barracks
# (docs/traces/BuildMarines_bank_quarter_100k_sampled.json); paid at full price, it built 22 Barracks and
# trained 2 Marines (…_spent_once_200k_sampled.json). Supply Depots are the exception: `depots_worth_paying`.
PRODUCTION_WORTH = COST.astype(np.float64)
PRODUCTION_WORTH[SCV] = 0.0
_STRUCTURES = [k for k, t in enumerate(UNIT_TYPES) if t.flags & Flag.STRUCTURE]
FIRST_OF_TYPE_WORTH = np.zeros_like(PRODUCTION_WORTH)
FIRST_OF_TYPE_WORTH[_STRUCTURES] = PRODUCTION_WORTH[_STRUCTURES]
PRODUCTION_WORTH[_STRUCTURES] = 0.0
FIRST_OF_TYPE_WORTH[SUPPLY_DEPOT] = 0.0
DEPOT_SUPPLY = int(FOOD_PROVIDED[SUPPLY_DEPOT])


@njit(cache=True)
def depots_worth_paying(depots, used, other_cap):
    """How many of the player's `depots` Supply Depots (begun or finished) the production reward counts at
    their price: those whose supply is in use or within one depot's supply of it, below the supply
    ceiling, with `used` the supply taken (units and queued ones) and `other_cap` what its finished other
    structures provide. A depot begun while fewer than 8 supply are left is paid at once, one begun
    earlier when the units fill it to that point, one past the ceiling never. Paid only as the first of
    its type, a later depot cost its price at once and paid only through Marines trained a minute later;
    trained so, a policy gave the depot a median 0.44 where one was legal, never the most, and its greedy
    play built nothing (docs/traces/BuildMarines_one_builder_seed0_1600k.json)."""
    needed = -(-max(0, min(used + DEPOT_SUPPLY, FOOD_MAX) - other_cap) // DEPOT_SUPPLY)
    return min(depots, needed)


@njit(cache=True)
def _values_bought(state):
    """[B] what each game's player has paid for, in minerals and gas: its own units alive and queued for
    training at their PRODUCTION_WORTH, each structure type it owns (begun or finished) at the
    FIRST_OF_TYPE_WORTH of its first, and its Supply Depots at their price as `depots_worth_paying` counts
    them (`value_bought` in envs/entity_env.py reads the same from a raw observation)."""
    ui, oi, game = state.unit_i, state.order_i, state.game
    values = np.zeros(game.shape[0])
    owned = np.zeros(len(FIRST_OF_TYPE_WORTH), np.bool_)
    for g in range(game.shape[0]):
        owned[:] = False
        depots = other_cap = 0
        for u in range(game[g, NUM_SLOTS]):
            if ui[g, u, ALIVE] == 1 and ui[g, u, OWNER] == OWNER_AGENT:
                t = ui[g, u, TYPE]
                values[g] += PRODUCTION_WORTH[t] + (0.0 if owned[t] else FIRST_OF_TYPE_WORTH[t])
                owned[t] = True
                if t == SUPPLY_DEPOT:
                    depots += 1
                elif ui[g, u, BUILD_LEFT] == 0:
                    other_cap += FOOD_PROVIDED[t]
                for k in range(ui[g, u, NUM_ORDERS]):
                    kind = oi[g, u, k, KIND]
                    if kind == TRAIN_SCV or kind == TRAIN_MARINE:
                        values[g] += PRODUCTION_WORTH[PRODUCT[kind]]
        used, _ = food(state, g)  # units and the ones queued, as the game counts supply
        values[g] += COST[SUPPLY_DEPOT] * depots_worth_paying(depots, used, other_cap)
    return values


@njit(cache=True)
def _observe(state, raw, feat, memory, out, status):
    """Featurize every game's engine observation into `out`; per-game status into `status`."""
    game = state.game
    int_params, float_params, type_lut, order_kind, sites, passive_type = feat
    entities, unit_type, entity_mask, scalars, action_mask, tags, dropped = out
    featurize_batch(raw.units, raw.positions, raw.radii, raw.counts, game[:, LOOP], raw.player, int_params,
                    float_params, type_lut, order_kind, sites, passive_type, memory, entities, unit_type,
                    entity_mask, scalars, action_mask, tags, dropped)
    for g in range(game.shape[0]):
        status[g, REWARD] = (game[g, GAME_SCORE] - game[g, PREV_SCORE]) / SCORE_UNITS
        status[g, DONE] = game[g, GAME_DONE]
        status[g, OUTCOME] = game[g, GAME_OUTCOME]
        status[g, SCORE] = game[g, GAME_SCORE] / SCORE_UNITS
        status[g, DAMAGE_DEALT] = game[g, GAME_DAMAGE_DEALT] / 2.0
        status[g, IDLE_WORKERS] = raw.player[g, _IDLE]
        status[g, BANKED] = game[g, MINERALS] + game[g, VESPENE]


@njit(cache=True)
def _step(engine_args, actions, action_mask, slot_tags, active, tables, commands, feat, memory_tables, memory,
          out, status, illegal, rejected, withheld):
    """Group the actions into commands (on an economy map, those the step's minerals pay for), remember
    them, step the engine with them, featurize: one env step of B games. Returns the number of commands;
    illegal[b], rejected[b] and withheld[b] count dropped actions, refused commands and withheld actions."""
    ibuf, fbuf, layout, bot, step_mul = engine_args
    state, engine_tables, raw, scratch, _ = unpack(ibuf, fbuf, layout)
    max_selected, function_of_action, slot_of_action, point_of_action, solo_of_action, code_of_function, \
        cost_of_action, queued_of_action = tables
    verb_of_action, world_point_of_action = memory_tables
    ints, unit_tags, points, results, result_arg = commands
    withheld[:] = 0
    if cost_of_action.max() > 0:  # an economy map: minerals are spent once (envs/economy_kernels.py)
        spendable = np.empty(actions.shape[0], np.int64)
        for g in range(actions.shape[0]):  # `raw` still holds the observation the actions were chosen on
            spendable[g] = spendable_minerals(raw.units[g], raw.counts[g], raw.player[g])
        sent = np.empty_like(actions)
        withhold_unaffordable(actions, cost_of_action, spendable, active, sent, withheld)
        actions = sent
    k, per_game_illegal = group_actions(actions, action_mask, slot_tags, active, max_selected,
                                        function_of_action, slot_of_action, point_of_action, solo_of_action,
                                        ints, unit_tags, points)
    remember_actions(actions, action_mask, slot_tags, active, slot_of_action, verb_of_action,
                     world_point_of_action, memory)
    codes = np.empty(k, np.int64)
    if kernel_codes(ints[2, :k], ints[4, :k], code_of_function, max_selected, codes) >= 0:
        raise ValueError("translate produced a command the engine does not support")
    queued = queued_of_action[ints[1, :k]]
    engine_commands = Commands(ints[0, :k], codes, queued, ints[3, :k], ints[4, :k], unit_tags, ints[5, :k],
                               points[0, :k], points[1, :k], results[:k], result_arg[:k])
    step_kernel(state, engine_tables, engine_commands, bot, step_mul, active, raw, scratch)
    illegal[:] = per_game_illegal
    rejected[:] = 0
    for c in range(k):
        if results[c] != 0:
            rejected[ints[0, c]] += 1
    _observe(state, raw, feat, memory, out, status)
    return k


class EngineBridge:
    """`reset`, `reset_game`, `observe` and `step` over a `BatchedEngine`. After `observe` and `step`: `obs`
    (fresh arrays, safe to hand out), `tags` (raw tag per entity slot), `status` [B, 7] (reward, done,
    outcome, score, damage dealt, idle workers, resources collected) and, after a step,
    `illegal`/`rejected` per game and `last_commands` (valid until the next step)."""

    def __init__(self, spec: EntitySpec, engine):
        self.spec, self.engine = spec, engine
        self.num_games = B = engine.num_games
        translate = Translator(spec)
        self._tables = (MAX_SELECTED_UNITS, *translate.kernel_tables(), CODE_OF_FUNCTION,
                        translate.cost_of_action, translate.queued_of_action)
        self._memory_tables = translate.memory_tables()
        self._queued_of_action = translate.queued_of_action
        self.memory = new_memory(spec, B)
        self._memory_arrays = self.memory.arrays()  # updated in place, never replaced
        self._engine_args = engine.kernel_args()
        self._feat = featurize_tables(spec)
        self._active = np.ones(B, np.int64)
        self.tags = np.zeros((B, spec.max_entities), np.int64)
        self.dropped = np.zeros(B, np.int64)
        self.status = np.zeros((B, 7))
        self.illegal, self.rejected, self.withheld = (np.zeros(B, np.int64) for _ in range(3))
        self.obs = empty_observation(spec, B)
        size = B * spec.max_units  # at most one command per unit
        self._commands = (np.empty((6, size), np.int64), np.empty(size, np.int64), np.empty((2, size)),
                          np.zeros(size, np.int64), np.zeros(size, np.int64))
        self._num_commands = 0

    def _new_obs(self) -> tuple:
        # fresh arrays each step: what the env returns is never overwritten later (no copy needed)
        self.obs = empty_observation(self.spec, self.num_games, zeroed=False)
        o = self.obs
        return (o["entities"], o["unit_type"], o["entity_mask"], o["scalars"], o["action_mask"], self.tags,
                self.dropped)

    def reset(self, seeds=None) -> dict[str, np.ndarray]:
        """Start a new episode in every game (reseeded with `seeds` if given) and observe them all."""
        self.engine.reset(seeds)
        self.memory.clear()
        return self.observe()

    def reset_game(self, i: int, seed: int | None = None) -> None:
        """Start a new episode in game i; its first observation comes with the next `observe` or `step`."""
        self.engine.reset_game(i, seed)
        self.memory.clear(i)

    def observe(self) -> dict[str, np.ndarray]:
        """Featurize the engine's current observation of every game (after a reset)."""
        _observe(self.engine.state, self.engine.raw, self._feat, self._memory_arrays, self._new_obs(),
                 self.status)
        return self.obs

    def step(self, actions: np.ndarray, active: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Send actions [B, U], chosen on the latest `obs`, for the `active` games (default all), advance
        those games `step_mul` loops and observe. Actions the mask forbids are dropped and counted."""
        actions = np.asarray(actions)
        B, U = self.num_games, self.spec.max_units
        if actions.shape != (B, U):
            raise ValueError(f"expected {U} actions (one per unit slot) for each of {B} games, "
                             f"got shape {actions.shape}")
        self._active[:] = 1 if active is None else active
        mask = self.obs["action_mask"]  # the actions were chosen on this; `_new_obs` replaces `obs`
        # `tags` is read (slots of the chosen actions) before featurize rewrites it in the same call.
        self._num_commands = _step(self._engine_args, actions.astype(np.int64, copy=False), mask, self.tags,
                                   self._active, self._tables, self._commands, self._feat,
                                   self._memory_tables, self._memory_arrays, self._new_obs(), self.status,
                                   self.illegal, self.rejected, self.withheld)
        return self.obs

    def values_bought(self) -> np.ndarray:
        """[B] what each game's player has paid for (`_values_bought`): computed when asked (only
        BuildMarines' shaping reads it)."""
        return _values_bought(self.engine.state)

    @property
    def last_commands(self) -> GroupedCommands:
        """The raw commands of the latest step (in `BatchedEngine.step_grouped` form) and their results:
        views of buffers the next step overwrites."""
        ints, tags, points, results, _ = self._commands
        k = self._num_commands
        return GroupedCommands(ints[:, :k], tags, points[:, :k], self.illegal.copy(), self._queued_of_action,
                               results[:k])
