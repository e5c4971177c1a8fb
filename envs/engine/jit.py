"""How the engine's numba kernels are compiled: `kernel` and `inline` for code that never allocates.

The kernels read and write the arrays of `State` and `Tables` in place and allocate nothing, so they are
compiled without numba's reference counting (`_nrt=False`, the option numba uses for its own
allocation-free helpers). With it, numba increments and decrements the count of every array of both
tuples around each call and each inlined helper: atomic operations that cost several times the
simulation itself (one unit's loop ran about 8x slower). A function that allocates an array does not
compile under these decorators; the few that do (the entry points in kernel.py, wave spawns) use plain
`njit(cache=True)` and stay off the per-unit paths.

numba calls one compiled function from another through a pointer, passing every array of `State` and
`Tables` as separate words (over a hundred a call), so the kernels on the per-loop path are `hot`: LLVM
inlines them into their caller (the loop ran about a third faster). Divisions follow numpy's error model
(no check for a zero divisor, which the kernels guard against where it can occur; identical results).
"""

from __future__ import annotations

from numba import njit

kernel = njit(cache=True, _nrt=False, error_model="numpy")
hot = njit(cache=True, _nrt=False, error_model="numpy", forceinline=True)  # per-loop path: inlined by LLVM
inline = njit(cache=True, inline="always", _nrt=False, error_model="numpy")  # small helpers, inlined by numba
