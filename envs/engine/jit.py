"""How the engine's numba kernels are compiled: `kernel` and `inline` for code that never allocates.

The kernels read and write the arrays of `State` and `Tables` in place and allocate nothing, so they are
compiled without numba's reference counting (`_nrt=False`, the option numba uses for its own
allocation-free helpers). With it, numba increments and decrements the count of every array of both
tuples around each call and each inlined helper: atomic operations that cost several times the
simulation itself (one unit's loop ran about 8x slower). A function that allocates an array does not
compile under these decorators; the few that do (the entry points in kernel.py, wave spawns) use plain
`njit(cache=True)` and stay off the per-unit paths.
"""

from __future__ import annotations

from numba import njit

kernel = njit(cache=True, _nrt=False)
hot = njit(cache=True, _nrt=False, forceinline=True)  # on the per-loop path: LLVM inlines it into its callers
inline = njit(cache=True, inline="always", _nrt=False)  # small helpers, inlined into their callers
