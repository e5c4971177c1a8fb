"""An engine's arrays as views into two flat buffers, so that a compiled call takes a handful of arrays.

numba checks the type of every array argument on every call (about 80 ns an array, measured on an empty
kernel): the State, Tables, raw buffers and scratch space of one engine are three dozen arrays, which
cost a single game's step more than its observation. `pack` copies them into one int64 and one float64
buffer (uint64 arrays are int64 memory seen as uint64) and returns views of them; `unpack`, inside the
compiled code, rebuilds the named tuples from the buffers and their layout, as views again: three
argument checks instead of dozens, and nothing allocated per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

from envs.engine.grid import Grids, new_grids
from envs.engine.obs import RawBuffers
from envs.engine.state import State, Tables

MAX_DIMS = 4
OFFSET = 0  # layout columns: the array's first element in its buffer, then its shape padded with 1s


class Scratch(NamedTuple):
    """Work space of the kernels (they never allocate): one per engine, reused by every call; nothing in
    it outlives a game loop."""

    order: np.ndarray  # int64 [M], the order units act in this loop
    ground: np.ndarray  # int64 [M], the ground units (combat.collide)
    ground_xyr: np.ndarray  # float64 [3, M], their positions and radii (combat.collide)
    boxes: np.ndarray  # float64 [10], each side's bounding box (combat.side_boxes)
    sides: np.ndarray  # int64 [2, M], each side's living units (combat.side_boxes)
    side_count: np.ndarray  # int64 [2]
    side_xyr: np.ndarray  # float64 [2, 3, M], the position and radius of each unit of `sides`
    side_score: np.ndarray  # int64 [2, M], its target priority and threat (combat.threat)
    side_at: np.ndarray  # int64 [M], each slot's index in its side's list, -1 when not in one
    command_slots: np.ndarray  # int64 [>= tags per command], one command's units (commands.apply_commands)
    spawn_type: np.ndarray  # int64 [M], units to place (rules.spawn_sides)
    spawn_health: np.ndarray  # float64 [M]
    spawn_shield: np.ndarray  # float64 [M]
    grids: Grids  # cell lists (grid.py)


@njit(cache=True)
def new_scratch(tables, max_units, max_tags):
    m = max_units
    return Scratch(np.empty(m, np.int64), np.empty(m, np.int64), np.empty((3, m), np.float64),
                   np.empty(10, np.float64), np.empty((2, m), np.int64), np.zeros(2, np.int64),
                   np.empty((2, 3, m), np.float64), np.empty((2, m), np.int64), np.empty(m, np.int64),
                   np.empty(max(1, max_tags), np.int64), np.empty(m, np.int64), np.empty(m, np.float64),
                   np.empty(m, np.float64), new_grids(tables, m))


# Where each group of arrays starts in `flatten`'s order (`unpack` rebuilds them from these positions)
STATE_AT = 0
TABLES_AT = STATE_AT + len(State._fields)
RAW_AT = TABLES_AT + len(Tables._fields)
SCRATCH_AT = RAW_AT + len(RawBuffers._fields)
GRIDS_AT = SCRATCH_AT + len(Scratch._fields) - 1
ACTIVE_AT = GRIDS_AT + len(Grids._fields)


def flatten(state: State, tables: Tables, raw: RawBuffers, scratch: Scratch, active: np.ndarray) -> list:
    """The arrays in the order `pack` lays them out and `unpack` reads them."""
    return [*state, *tables, *raw, *scratch[:-1], *scratch.grids, active]


def pack(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """(int buffer, float buffer, layout int64 [len(arrays), 1 + MAX_DIMS], views): the arrays (int64,
    uint64 or float64, any shape up to MAX_DIMS) copied into two buffers, and a view of each there."""
    ints = [a.dtype != np.float64 for a in arrays]
    sizes = [a.size for a in arrays]
    ibuf = np.zeros(max(1, sum(s for s, i in zip(sizes, ints, strict=True) if i)), np.int64)
    fbuf = np.zeros(max(1, sum(s for s, i in zip(sizes, ints, strict=True) if not i)), np.float64)
    layout = np.ones((len(arrays), 1 + MAX_DIMS), np.int64)
    views, used = [], [0, 0]
    for k, (a, is_int) in enumerate(zip(arrays, ints, strict=True)):
        if a.dtype not in (np.int64, np.uint64, np.float64) or a.ndim > MAX_DIMS:
            raise TypeError(f"cannot pack a {a.dtype} array of {a.ndim} dimensions")
        buf, o = (ibuf, used[0]) if is_int else (fbuf, used[1])
        view = buf[o:o + a.size].view(a.dtype).reshape(a.shape)
        view[...] = a
        views.append(view)
        layout[k, OFFSET] = o
        layout[k, 1:1 + a.ndim] = a.shape
        used[0 if is_int else 1] += a.size
    return ibuf, fbuf, layout, views


@intrinsic
def _view(typingctx, buf, start, shape):
    """buf[start:start + prod(shape)] as a C-contiguous array of that shape: numba's `reshape` calls out to
    a C helper for every view, which `unpack` would pay three dozen times a call."""
    nd = len(shape)
    view_type = types.Array(buf.dtype, nd, "C")

    def codegen(context, builder, sig, args):
        src = make_array(sig.args[0])(context, builder, args[0])
        dst = make_array(view_type)(context, builder)
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(context.get_data_type(buf.dtype)))
        dims = cgutils.unpack_tuple(builder, args[2], nd)
        strides, step = [], itemsize
        for d in reversed(dims):
            strides.insert(0, step)
            step = builder.mul(step, d)
        populate_array(dst, data=builder.gep(src.data, [args[1]]), shape=dims, strides=strides,
                       itemsize=itemsize, meminfo=src.meminfo, parent=src.parent)
        return impl_ret_borrowed(context, builder, view_type, dst._getvalue())

    return view_type(buf, start, shape), codegen


@njit(cache=True, inline="always")
def _v1(buf, layout, k):
    o = layout[k, OFFSET]
    return buf[o:o + layout[k, 1]]


@njit(cache=True, inline="always")
def _v2(buf, layout, k):
    return _view(buf, layout[k, OFFSET], (layout[k, 1], layout[k, 2]))


@njit(cache=True, inline="always")
def _v3(buf, layout, k):
    return _view(buf, layout[k, OFFSET], (layout[k, 1], layout[k, 2], layout[k, 3]))


@njit(cache=True, inline="always")
def _v4(buf, layout, k):
    return _view(buf, layout[k, OFFSET], (layout[k, 1], layout[k, 2], layout[k, 3], layout[k, 4]))


@njit(cache=True, inline="always")
def unpack(ibuf, fbuf, layout):
    """(State, Tables, RawBuffers, Scratch, active) as views of the buffers `pack` filled."""
    i, f, lay, s, t, r, c, g = ibuf, fbuf, layout, STATE_AT, TABLES_AT, RAW_AT, SCRATCH_AT, GRIDS_AT
    rng = _v1(i, lay, s + 7).view(np.uint64)
    state = State(_v3(f, lay, s), _v3(i, lay, s + 1), _v4(i, lay, s + 2), _v4(f, lay, s + 3),
                  _v3(i, lay, s + 4), _v3(f, lay, s + 5), _v2(i, lay, s + 6), rng)
    tables = Tables(_v2(f, lay, t), _v2(i, lay, t + 1), _v1(f, lay, t + 2), _v1(i, lay, t + 3),
                    _v2(i, lay, t + 4), _v2(f, lay, t + 5))
    out = RawBuffers(_v3(i, lay, r), _v3(f, lay, r + 1), _v2(f, lay, r + 2), _v1(i, lay, r + 3),
                     _v2(i, lay, r + 4), _v2(i, lay, r + 5))
    grids = Grids(_v2(f, lay, g), _v2(i, lay, g + 1), _v2(i, lay, g + 2), _v2(i, lay, g + 3),
                  _v1(i, lay, g + 4), _v1(i, lay, g + 5), _v2(f, lay, g + 6), _v1(i, lay, g + 7))
    scratch = Scratch(_v1(i, lay, c), _v1(i, lay, c + 1), _v2(f, lay, c + 2), _v1(f, lay, c + 3),
                      _v2(i, lay, c + 4), _v1(i, lay, c + 5), _v3(f, lay, c + 6), _v2(i, lay, c + 7),
                      _v1(i, lay, c + 8), _v1(i, lay, c + 9), _v1(i, lay, c + 10), _v1(f, lay, c + 11),
                      _v1(f, lay, c + 12), grids)
    return state, tables, out, scratch, _v1(i, lay, ACTIVE_AT)
