"""The engine's arena (envs/engine/arena.py): its views hold the arrays they were made from, and the
compiled `unpack` sees the same memory as Python's views; engines never share their arrays."""

from __future__ import annotations

import numpy as np
import pytest

from envs.engine import BatchedEngine, Engine
from envs.engine.arena import pack, unpack
from envs.engine.commands import CMD_MOVE_POINT
from envs.engine.kernel import pack_commands, step_from_python
from envs.raw_schema import MAX_SELECTED_UNITS


def test_pack_copies_each_array_into_a_view_of_its_buffer():
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(2, 3, 4)), np.arange(12, dtype=np.int64).reshape(3, 4),
              np.array([2**63 + 5, 7], np.uint64), rng.normal(size=(2, 2, 2, 2)),
              np.arange(5, dtype=np.int64)]
    ibuf, fbuf, layout, views = pack(arrays)
    for a, v in zip(arrays, views, strict=True):
        assert v.dtype == a.dtype and v.shape == a.shape and v.flags.c_contiguous
        np.testing.assert_array_equal(v, a)
        assert np.shares_memory(v, ibuf if a.dtype != np.float64 else fbuf)
    assert ibuf.size == 12 + 2 + 5 and fbuf.size == 24 + 16
    views[1][2, 3] = -9  # a write through a view lands in the buffer, at the layout's offset
    assert ibuf[layout[1, 0] + 11] == -9


def test_unpack_sees_the_engines_arrays():
    eng = BatchedEngine("3s5z", num_games=3, seeds=[1, 2, 3])
    eng.reset()
    eng.step([[] for _ in range(3)])
    state, tables, raw, scratch, active = unpack(*eng.kernel_args()[:3])
    for name, python_side, compiled_side in [("state", eng.state, state), ("tables", eng.tables, tables),
                                             ("raw", eng.raw, raw)]:
        for field, a, b in zip(python_side._fields, python_side, compiled_side, strict=True):
            assert a.dtype == b.dtype and a.shape == b.shape, f"{name}.{field}"
            np.testing.assert_array_equal(a, b, err_msg=f"{name}.{field}")
            assert a.size == 0 or np.shares_memory(a, b), f"{name}.{field}"
    assert state.rng.dtype == np.uint64 and active.tolist() == [1, 1, 1]
    assert scratch.grids.on.shape == (1,) and scratch.command_slots.shape[0] >= 30


def test_engines_do_not_share_arrays():
    """Two engines of one map play on their own arrays: stepping one leaves the other's game as it was."""
    a, b = Engine("2s3z", seed=4), Engine("2s3z", seed=4)
    obs_a, obs_b = a.reset(), b.reset()
    for _ in range(20):
        obs_a = a.step([])
    assert obs_a.game_loop == 160 and b._batch.state.game[0, 0] == 0
    for _ in range(20):
        obs_b = b.step([])
    np.testing.assert_array_equal(obs_a.raw_units, obs_b.raw_units)
    for x, y in zip(a._batch.state, b._batch.state, strict=True):
        np.testing.assert_array_equal(x, y)


def test_kernel_refuses_more_tags_than_its_scratch_space():
    """The scratch space holds one command's units (at most max_selected_units); a caller that skipped the
    checks gets an error, not a write past the array."""
    eng = BatchedEngine("8m", num_games=1, seeds=[0])
    eng.reset()
    n = MAX_SELECTED_UNITS + 1
    ints, points = pack_commands([0], [CMD_MOVE_POINT], [0], [0], [n], [0], list(range(n)), [10.0], [10.0])
    with pytest.raises(ValueError, match="more unit tags"):
        step_from_python(*eng.kernel_args()[:3], ints, points, 1, 0, 8)
