"""Cell lists: uniform grids over the playable area, so that target search, calls for help and collisions
look only at nearby units - linear in the unit count where a scan of every unit would be quadratic.

Three grids, rebuilt every game loop: the agent's units and the enemy's (at the loop's start, for target
search and calls for help) and the ground units (when they collide). A grid is a counting sort of units
by cell: the units of cell c are items[k, start[k, c]:start[k, c + 1]], in slot order. A search visits
the cells within its reach, grown by GRID_SLACK for the units' moves since the grid was built, and ranks
the units it finds as the plain scans do (ties go to the lower slot, as in a scan in slot order), so a
game plays the same either way (tests/test_engine_grid.py). Small fights skip the grids: below
CELL_LIST_MIN living units a scan is cheaper than the grid's upkeep.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from envs.engine.jit import inline
from envs.engine.maps import CELL_LISTS, CELL_MODES, MAX_UNITS, PLAY_X0, PLAY_X1, PLAY_Y0, PLAY_Y1
from envs.engine.state import NUM_AGENT, NUM_ENEMY, X, Y
from envs.engine.units import FLAG_GROUND, FLAGS, RADIUS

AGENT_GRID, ENEMY_GRID, GROUND_GRID = range(3)
SIDE_CELL = 4.0  # target search reaches about 8 (scan range 6.5 plus both radii): up to 5 x 5 cells
GRID_SLACK = 0.5  # > the fastest unit's move per loop (2.95 / 16) plus a margin for pushes
CELL_LIST_MIN = 128  # "auto": loops that start with this many living units or more use the grids
_NEVER, _ALWAYS = CELL_MODES["never"], CELL_MODES["always"]


class Grids(NamedTuple):
    """The three grids' geometry and cell lists (scratch space of a kernel call)."""

    origin: np.ndarray  # float64 [3, 3]: x0, y0, cell size of each grid
    shape: np.ndarray  # int64 [3, 2]: cells along x and y
    start: np.ndarray  # int64 [3, cells + 1]
    items: np.ndarray  # int64 [3, M]
    cell: np.ndarray  # int64 [M], build scratch
    near: np.ndarray  # int64 [M], collision candidates of one unit (combat.collide)
    built: np.ndarray  # float64 [M, 2], each unit's position when it was last put in a grid
    on: np.ndarray  # int64 [1], 1 when this loop uses the grids


@njit(cache=True)
def new_grids(tables, max_units):
    """Grids over the map's playable area (plus a margin): side grids of SIDE_CELL, a ground grid whose
    cells are wider than any two touching ground units plus GRID_SLACK."""
    mf, tf, ti = tables.map_f, tables.type_f, tables.type_i
    rmax = 0.0
    for t in range(tf.shape[0]):
        if (ti[t, FLAGS] & FLAG_GROUND) != 0:
            rmax = max(rmax, tf[t, RADIUS])
    origin = np.empty((3, 3), np.float64)
    shape = np.empty((3, 2), np.int64)
    cells = 1
    for k in range(3):
        size = SIDE_CELL if k != GROUND_GRID else 2.0 * rmax + 2.0 * GRID_SLACK
        origin[k, 0], origin[k, 1], origin[k, 2] = mf[PLAY_X0] - 1.0, mf[PLAY_Y0] - 1.0, size
        shape[k, 0] = int((mf[PLAY_X1] - mf[PLAY_X0] + 2.0) / size) + 1
        shape[k, 1] = int((mf[PLAY_Y1] - mf[PLAY_Y0] + 2.0) / size) + 1
        cells = max(cells, shape[k, 0] * shape[k, 1])
    mode = tables.map_i[CELL_LISTS]
    use = mode == _ALWAYS or (mode != _NEVER and tables.map_i[MAX_UNITS] >= CELL_LIST_MIN)
    m = max_units if use else 1
    return Grids(origin, shape, np.zeros((3, cells + 1 if use else 1), np.int64), np.empty((3, m), np.int64),
                 np.empty(m, np.int64), np.empty(m, np.int64), np.empty((m, 2), np.float64),
                 np.zeros(1, np.int64))


@inline
def grids_on(state, tables, g, grids):
    """Decide, at a loop's start, whether this loop uses the grids."""
    mode = tables.map_i[CELL_LISTS]
    n = state.game[g, NUM_AGENT] + state.game[g, NUM_ENEMY]
    grids.on[0] = 1 if mode == _ALWAYS or (mode != _NEVER and n >= CELL_LIST_MIN) else 0
    return grids.on[0] == 1


@inline
def cell_index(grids, k, x, y):
    size = grids.origin[k, 2]
    cx = min(max(int(math.floor((x - grids.origin[k, 0]) / size)), 0), grids.shape[k, 0] - 1)
    cy = min(max(int(math.floor((y - grids.origin[k, 1]) / size)), 0), grids.shape[k, 1] - 1)
    return cy * grids.shape[k, 0] + cx


@inline
def drift(state, g, grids, v):
    """How far unit v is from where the last grid build saw it."""
    return math.hypot(state.unit_f[g, v, X] - grids.built[v, 0], state.unit_f[g, v, Y] - grids.built[v, 1])


@inline
def cell_range(grids, k, lo, hi, axis):
    """The cells along `axis` (0 x, 1 y) that meet the interval [lo, hi]: first and last."""
    o, size, n = grids.origin[k, axis], grids.origin[k, 2], grids.shape[k, axis]
    a = min(max(int(math.floor((lo - o) / size)), 0), n - 1)
    b = min(max(int(math.floor((hi - o) / size)), 0), n - 1)
    return a, b


@inline
def build(state, g, grids, k, slots, n):
    """Grid k over the units slots[:n] (in slot order), at their current positions."""
    uf, start, items, cell = state.unit_f, grids.start, grids.items, grids.cell
    cells = grids.shape[k, 0] * grids.shape[k, 1]
    for c in range(cells + 1):
        start[k, c] = 0
    for i in range(n):
        v = slots[i]
        c = cell_index(grids, k, uf[g, v, X], uf[g, v, Y])
        cell[i] = c
        grids.built[v, 0] = uf[g, v, X]
        grids.built[v, 1] = uf[g, v, Y]
        start[k, c + 1] += 1
    for c in range(cells):
        start[k, c + 1] += start[k, c]
    for i in range(n):  # start[c] runs ahead as cell c fills, ending at the next cell's start
        c = cell[i]
        items[k, start[k, c]] = slots[i]
        start[k, c] += 1
    for c in range(cells, 0, -1):
        start[k, c] = start[k, c - 1]
    start[k, 0] = 0
