"""Public Python API of the engine: `BatchedEngine` (B games stepped in one kernel call) and `Engine`.

Observations are `EngineObs` (a `RawObs`) whose arrays are VIEWS into the batch's buffers: they stay
valid until the next `step`, `reset` or `reset_game` of the same engine. Call `obs.copy()` to keep one.

Commands apply at the start of a step, in list order, before the enemy bot and the `step_mul` loops.
A malformed or invalid command is rejected as a whole (even if only one of its tags is bad; pysc2's game
would obey the valid tags) and reported in the next observation's `action_results` as
(command index, reason); the game carries on. Default enemy bot: the map's (`idle` for the minigames,
`focus_fire` for the SMAC maps).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

from envs.engine import commands as C
from envs.engine.arena import (
    ACTIVE_AT,
    GRIDS_AT,
    RAW_AT,
    SCRATCH_AT,
    STATE_AT,
    TABLES_AT,
    Scratch,
    flatten,
    new_scratch,
    pack,
)
from envs.engine.bots import BOT_ATTACK_NEAREST, BOT_FOCUS_FIRE, BOT_IDLE
from envs.engine.economy_commands import ECONOMY_REASONS, ECONOMY_TAG_REASONS
from envs.engine.economy_data import ECONOMY_FUNCTIONS
from envs.engine.grid import Grids
from envs.engine.kernel import pack_commands, reset_from_python, step_from_python, unpack_results
from envs.engine.maps import TIME_LIMIT_LOOPS, MapSpec, map_spec
from envs.engine.obs import RawBuffers
from envs.engine.rng import seed_state
from envs.engine.state import (
    DAMAGE_DEALT,
    DONE,
    LOOP,
    MAX_ORDERS,
    OUTCOME,
    PREV_SCORE,
    SCORE,
    SCORE_UNITS,
    State,
    Tables,
)
from envs.engine.units import build_tables
from envs.errors import UserError
from envs.raw_schema import (
    MAX_SELECTED_UNITS,
    NUM_PLAYER_COLUMNS,
    NUM_SCORE_COLUMNS,
    NUM_UNIT_COLUMNS,
    RawFunction,
    RawObs,
)

ENEMY_BOTS: tuple[str, ...] = ("idle", "attack_nearest", "focus_fire")
_BOT_CODE = {"idle": BOT_IDLE, "attack_nearest": BOT_ATTACK_NEAREST, "focus_fire": BOT_FOCUS_FIRE}

# RawFunction id -> (kernel code, argument kind)
_FUNCS = {
    int(RawFunction.no_op): (C.CMD_NO_OP, "none"),
    int(RawFunction.Move_pt): (C.CMD_MOVE_POINT, "pt"),
    int(RawFunction.Move_unit): (C.CMD_MOVE_UNIT, "unit"),
    int(RawFunction.Attack_pt): (C.CMD_ATTACK_POINT, "pt"),
    int(RawFunction.Attack_unit): (C.CMD_ATTACK_UNIT, "unit"),
    int(RawFunction.Smart_pt): (C.CMD_SMART_POINT, "pt"),
    int(RawFunction.Smart_unit): (C.CMD_SMART_UNIT, "unit"),
    int(RawFunction.Stop_quick): (C.CMD_STOP, "quick"),
    int(RawFunction.HoldPosition_quick): (C.CMD_HOLD, "quick"),
}
_FUNCS.update({fn: (code, kind) for fn, code, kind in ECONOMY_FUNCTIONS.values()})  # economy_commands.py

# RawFunction id -> kernel code (-1 = unsupported), for the array fast path
CODE_OF_FUNCTION = np.full(max(_FUNCS) + 1, -1, np.int64)
for _fn, (_code, _kind) in _FUNCS.items():
    CODE_OF_FUNCTION[_fn] = _code


@njit(cache=True)
def kernel_codes(function, tag_count, code_of_function, max_selected, out):
    """Kernel code of each command's RawFunction id into `out`; the index of the first command with an
    unsupported function or a tag count outside 1..max_selected, else -1. Compiled, so that the array
    paths (`step_grouped`, envs.engine_bridge) check commands without per-step numpy calls."""
    for k in range(function.shape[0]):
        fn = function[k]
        code = code_of_function[fn] if 0 <= fn < code_of_function.shape[0] else -1
        if code < 0 or tag_count[k] < 1 or tag_count[k] > max_selected:
            return k
        out[k] = code
    return -1

REASONS = {
    C.BAD_TAG: "unknown or dead unit tag",
    C.NOT_OWN_UNIT: "unit tag is not the agent's unit",
    C.BAD_TARGET_TAG: "unknown or dead target tag",
    C.TARGET_HIDDEN: "target is not visible",
    C.OFF_MAP: "target point is off the map",
    C.OUTSIDE_PLAYABLE: "target point is outside the playable area",
    C.NOT_ENEMY: "attack target is not an enemy",
    C.NO_WEAPON: "unit has no weapon",
    C.QUEUE_FULL: f"order queue full ({MAX_ORDERS})",
    C.GAME_OVER: "the episode is over; reset first",
    C.CANNOT_MOVE: "unit cannot move",
    **ECONOMY_REASONS,
}
_TAG_REASONS = {C.BAD_TAG, C.NOT_OWN_UNIT, C.BAD_TARGET_TAG, C.TARGET_HIDDEN, C.NOT_ENEMY, C.NO_WEAPON,
                C.QUEUE_FULL, C.CANNOT_MOVE, *ECONOMY_TAG_REASONS}

_TABLES = build_tables()


@dataclass
class EngineObs(RawObs):
    """A RawObs whose arrays may be views into engine buffers; `copy()` detaches it."""

    def copy(self) -> EngineObs:
        return EngineObs(self.raw_units.copy(), self.positions.copy(), self.radii.copy(), self.player.copy(),
                         self.game_loop, self.score_cumulative.copy(), self.reward, self.done, self.outcome,
                         list(self.action_results), self.damage_dealt)


def _parse(cmd) -> tuple[int, bool, list[int], int, float, float]:
    """Python-side argument checks. Returns (kernel code, queued, tags, target tag, px, py); raises
    ValueError with the reason for a malformed command."""
    try:
        fn, queued, tags, target = cmd
    except (TypeError, ValueError):
        raise ValueError("not a RawCommand (function, queued, unit_tags, target)") from None
    try:
        code, kind = _FUNCS[operator.index(fn)]
    except (TypeError, KeyError):
        raise ValueError(f"unknown or unsupported function id {fn!r}") from None
    if code == C.CMD_NO_OP:
        return code, False, [], 0, 0.0, 0.0
    try:
        tag_list = [operator.index(t) for t in tags]
    except TypeError:
        raise ValueError("unit_tags must be a sequence of integer tags") from None
    if not tag_list:
        raise ValueError("no unit tags")
    if len(tag_list) > MAX_SELECTED_UNITS:
        raise ValueError(f"{len(tag_list)} unit tags > max_selected_units {MAX_SELECTED_UNITS}")
    ttag, px, py = 0, 0.0, 0.0
    if kind == "unit":
        try:
            ttag = operator.index(target)
        except TypeError:
            raise ValueError(f"target must be a unit tag, got {target!r}") from None
    elif kind == "pt":
        try:
            px, py = target
            px, py = float(px), float(py)
        except (TypeError, ValueError):
            raise ValueError(f"target must be an (x, y) point, got {target!r}") from None
        if not (math.isfinite(px) and math.isfinite(py)):
            raise ValueError("target point is not finite")
    elif target is not None:
        raise ValueError(f"{RawFunction(fn).name} takes no target, got {target!r}")
    return code, bool(queued), tag_list, ttag, px, py


class BatchedEngine:
    """`num_games` independent games of one map, stepped together. Game i seeded s equals `Engine(seed=s)`."""

    def __init__(self, map_name: str | MapSpec, num_games: int = 1, seeds: Sequence[int] | None = None,
                 step_mul: int = 8, enemy_bot: str | None = None, game_steps_per_episode: int = 0):
        # a MapSpec instead of a name runs a custom map (tests, new maps)
        self.spec: MapSpec = map_name if isinstance(map_name, MapSpec) else map_spec(map_name)
        self.map_name = self.spec.name
        self.enemy_bot = enemy_bot or self.spec.default_bot
        if self.enemy_bot not in _BOT_CODE:
            raise UserError(f"unknown enemy_bot {self.enemy_bot!r}; choose one of: {', '.join(ENEMY_BOTS)}")
        if int(num_games) < 1 or int(step_mul) < 1 or int(game_steps_per_episode) < 0:
            raise UserError("num_games and step_mul must be >= 1 and game_steps_per_episode >= 0")
        self.num_games, self.step_mul = int(num_games), int(step_mul)
        seeds = list(range(self.num_games)) if seeds is None else [int(s) for s in seeds]
        if len(seeds) != self.num_games:
            raise UserError(f"got {len(seeds)} seeds for {self.num_games} games")
        self.seeds = seeds
        # the kernels' read-only tables; a test may swap in a modified copy (scenario.py)
        self.tables = Tables(*_TABLES, *self.spec.params())
        limit = int(self.tables.map_i[TIME_LIMIT_LOOPS])
        if game_steps_per_episode:  # pysc2 semantics: game loops, 0 = the map's own limit only
            limit = min(limit, int(game_steps_per_episode))
        self._loop_limit = limit
        B, M = self.num_games, self.spec.max_units
        state = State.zeros(B, M)
        state.rng[:] = [seed_state(s) for s in seeds]
        raw = RawBuffers(units=np.zeros((B, M, NUM_UNIT_COLUMNS), np.int64), positions=np.zeros((B, M, 2)),
                         radii=np.zeros((B, M)), counts=np.zeros(B, np.int64),
                         player=np.zeros((B, NUM_PLAYER_COLUMNS), np.int64),
                         score=np.zeros((B, NUM_SCORE_COLUMNS), np.int64))
        scratch = new_scratch(self.tables, M, MAX_SELECTED_UNITS)
        # every array lives in the arena (arena.py), written in place by every reset and step
        *self._arena, views = pack(flatten(state, self.tables, raw, scratch, np.ones(B, np.int64)))
        self.state = State(*views[STATE_AT:TABLES_AT])
        self.tables = Tables(*views[TABLES_AT:RAW_AT])
        self.raw = RawBuffers(*views[RAW_AT:SCRATCH_AT])
        self.scratch = Scratch(*views[SCRATCH_AT:GRIDS_AT], Grids(*views[GRIDS_AT:ACTIVE_AT]))
        self._active = views[ACTIVE_AT]  # the games the next step advances
        # each game's rows of the raw buffers, sliced once, and the latest observation's views of them
        self._rows_of_game = [(raw.units[i], raw.positions[i], raw.radii[i], raw.player[i], raw.score[i])
                              for raw in (self.raw,) for i in range(B)]
        self._rows = [(-1,) for _ in range(B)]
        self._all_active = True
        self._bot = _BOT_CODE[self.enemy_bot]
        self._started = False
        self._no_commands = np.zeros(0, np.int64), np.zeros(0, np.float64)

    # ------------------------------------------------------------------ reset
    def _reset(self, games: list[int], seeds: list[int | None]) -> None:
        g = np.asarray(games, np.int64)
        s = np.array([seed_state(x) if x is not None else 0 for x in seeds], np.uint64)
        re = np.array([x is not None for x in seeds], np.int64)
        reset_from_python(*self._arena, g, s, re, self._loop_limit)

    def reset(self, seeds: Sequence[int] | None = None) -> list[EngineObs]:
        """Start a new episode in every game (reseeding them if `seeds` is given)."""
        seeds = [None] * self.num_games if seeds is None else [int(s) for s in seeds]
        if len(seeds) != self.num_games:
            raise UserError(f"got {len(seeds)} seeds for {self.num_games} games")
        self._reset(list(range(self.num_games)), seeds)
        self._started = True
        return self._observe({})

    def reset_game(self, i: int, seed: int | None = None) -> EngineObs:
        """Start a new episode in game i only (vector-env autoreset); the other games are untouched."""
        self._reset([int(i)], [None if seed is None else int(seed)])
        self._started = True
        return self.observation(i)

    def observation(self, i: int, action_results: Sequence[tuple[int, str]] = ()) -> EngineObs:
        """Game i's latest observation (views, valid until the next step or reset)."""
        return self._obs(i, self.state.game[i].tolist(), int(self.raw.counts[i]), list(action_results))

    def _obs(self, i: int, game: list[int], n: int, action_results: list) -> EngineObs:
        """Game i's observation from its game row (as Python ints) and unit count."""
        rows = self._rows[i]
        if rows[0] != n:  # the views of the first n rows, made again only when n changes
            units, positions, radii, player, score = self._rows_of_game[i]
            rows = self._rows[i] = (n, units[:n], positions[:n], radii[:n], player, score)
        _, units, positions, radii, player, score = rows
        return EngineObs(units, positions, radii, player, game[LOOP], score,
                         (game[SCORE] - game[PREV_SCORE]) / SCORE_UNITS, game[DONE] == 1, game[OUTCOME],
                         action_results, game[DAMAGE_DEALT] / 2.0)

    def _observe(self, rejected: dict[int, list[tuple[int, str]]]) -> list[EngineObs]:
        """Every game's observation, with the refused commands of the games in `rejected`."""
        games, counts = self.state.game.tolist(), self.raw.counts.tolist()  # one conversion each
        return [self._obs(i, games[i], counts[i], sorted(rejected[i]) if i in rejected else [])
                for i in range(self.num_games)]

    # ------------------------------------------------------------------ step
    def step(self, commands_per_game: Sequence[Sequence], active: np.ndarray | None = None
             ) -> list[EngineObs]:
        """Apply each game's raw commands, advance every game `step_mul` loops, return one obs per game.

        `active` (bool [num_games]) leaves the games where it is False untouched (their obs is returned
        again with reward 0). Finished games never advance; reset them with `reset_game`.
        """
        if not self._started:
            raise RuntimeError("call reset() before step()")
        if len(commands_per_game) != self.num_games:
            raise ValueError(f"got commands for {len(commands_per_game)} games, expected {self.num_games}")
        if active is not None or not self._all_active:
            self._set_active(active)
        rejected: dict[int, list[tuple[int, str]]] = {}  # game -> (command index, reason), refused ones only
        games, codes, queued, t0, tn, ttags, tags, pxs, pys, where = [], [], [], [], [], [], [], [], [], []
        for gi, cmds in enumerate(commands_per_game):
            for ci, cmd in enumerate(cmds):
                try:
                    code, q, tl, tt, px, py = _parse(cmd)
                except ValueError as err:
                    rejected.setdefault(gi, []).append((ci, str(err)))
                    continue
                if code == C.CMD_NO_OP:
                    continue
                games.append(gi)
                codes.append(code)
                queued.append(q)
                t0.append(len(tags))
                tn.append(len(tl))
                tags += tl
                ttags.append(tt)
                pxs.append(px)
                pys.append(py)
                where.append((gi, ci))
        n = len(codes)
        if n:  # in `pack_commands`'s layout, built from the lists at once
            ints = np.array(games + codes + queued + t0 + tn + ttags + tags + [0] * (2 * n), np.int64)
            points = np.array(pxs + pys, np.float64)
        else:
            ints, points = self._no_commands
        if self._run(ints, points, n):
            result, result_arg = unpack_results(ints, n)
            for k in np.flatnonzero(result).tolist():
                code = int(result[k])
                reason = REASONS.get(code, f"rejected ({code})")
                if code in _TAG_REASONS:
                    reason = f"{reason} {int(result_arg[k])}"
                gi, ci = where[k]
                rejected.setdefault(gi, []).append((ci, reason))
        return self._observe(rejected)

    def _set_active(self, active: np.ndarray | None) -> None:
        """The games the next kernel call advances: `active` (bool [num_games]), or all of them if None."""
        if active is None:
            if not self._all_active:
                self._active[:] = 1
                self._all_active = True
            return
        act = np.asarray(active, bool)
        if act.shape != (self.num_games,):
            raise ValueError(f"active must have shape ({self.num_games},), got {act.shape}")
        self._active[:] = act
        self._all_active = False

    def _run(self, ints: np.ndarray, points: np.ndarray, n: int) -> int:
        """Step every active game with these n packed commands (`kernel.pack_commands`); returns how many
        were refused."""
        return step_from_python(*self._arena, ints, points, n, self._bot, self.step_mul)

    # ------------------------------------------------------------------ array fast path (entity envs)
    def step_grouped(self, game, function, queued, tag_start, tag_count, tags, target_tag, px, py,
                     active: np.ndarray | None = None) -> np.ndarray:
        """`step` for commands already held as flat arrays, with no Python object per command: command k
        belongs to game[k], calls RawFunction function[k] with unit tags tags[tag_start[k]:+tag_count[k]]
        and target tag target_tag[k] or raw point (px[k], py[k]). The kernel checks each command as in
        `step`; returns its result code per command (0 = accepted). Read the outcome with `arrays()`."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        function, tag_count = np.asarray(function, np.int64), np.asarray(tag_count, np.int64)
        codes = np.empty(len(function), np.int64)
        bad = kernel_codes(function, tag_count, CODE_OF_FUNCTION, MAX_SELECTED_UNITS, codes)
        if bad >= 0:
            raise ValueError(f"command {bad}: unsupported function id {int(function[bad])} or not "
                             f"1..{MAX_SELECTED_UNITS} unit tags ({int(tag_count[bad])})")
        self._set_active(active)
        n = len(function)
        ints, points = pack_commands(game, codes, queued, tag_start, tag_count, target_tag, tags, px, py)
        self._run(ints, points, n)
        return unpack_results(ints, n)[0]

    def kernel_args(self) -> tuple:
        """(int buffer, float buffer, layout, bot, step_mul): the engine's arena (`arena.unpack` turns it into
        `kernel.step_kernel`'s state, tables, raw buffers and scratch) and the other arguments around the
        commands and the active mask, for callers that step the engine from their own compiled code
        (envs.engine_bridge). The arrays live as long as the engine; every reset and step writes them in
        place."""
        return *self._arena, self._bot, self.step_mul

    def arrays(self) -> EngineArrays:
        """Every game's latest observation as batch arrays (views, valid until the next step or reset)."""
        game, raw = self.state.game, self.raw
        return EngineArrays(raw.units, raw.positions, raw.radii, raw.counts, game[:, LOOP],
                            (game[:, SCORE] - game[:, PREV_SCORE]) / SCORE_UNITS, game[:, DONE] == 1,
                            game[:, OUTCOME], game[:, SCORE] / SCORE_UNITS, game[:, DAMAGE_DEALT] / 2.0)


class EngineArrays(NamedTuple):
    """All games' observations at once: rows [B, M, ...] of which the first counts[b] are valid."""

    units: np.ndarray  # int64 [B, M, 46]
    positions: np.ndarray  # float64 [B, M, 2]
    radii: np.ndarray  # float64 [B, M]
    counts: np.ndarray  # int64 [B]
    game_loop: np.ndarray  # int64 [B]
    reward: np.ndarray  # float64 [B], score change over the last step
    done: np.ndarray  # bool [B]
    outcome: np.ndarray  # int64 [B]
    score: np.ndarray  # float64 [B], the map's score (score_cumulative[0] rounds it)
    damage_dealt: np.ndarray  # float64 [B], enemy hit points and shields the agent removed this episode


class Engine:
    """One game: a `BatchedEngine` of size 1 (one code path), with a single-game API."""

    def __init__(self, map_name: str | MapSpec, seed: int = 0, step_mul: int = 8,
                 enemy_bot: str | None = None, game_steps_per_episode: int = 0):
        self._batch = BatchedEngine(map_name, 1, [seed], step_mul, enemy_bot, game_steps_per_episode)
        self.spec = self._batch.spec
        self.map_name = self.spec.name
        self.enemy_bot = self._batch.enemy_bot
        self.step_mul = self._batch.step_mul

    def reset(self, seed: int | None = None) -> EngineObs:
        return self._batch.reset_game(0, seed)

    def step(self, commands: Sequence) -> EngineObs:
        return self._batch.step([commands])[0]
