"""Drop stale numba caches of the engine's kernels when any engine source file changes.

numba's `cache=True` keys a cached function on its own file only: editing a callee in another module
(rules.py called from kernel.py) would silently keep running the old machine code. We fingerprint
every kernel source file and clear the package's cache files when the fingerprint changes, and those of
the compiled callers outside the package (envs/engine_bridge.py calls the step kernel).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_STAMP = "numba_sources.sha1"
# the modules holding or feeding @njit code (constants are baked into the machine code too)
_KERNEL_SOURCES = ("bots.py", "combat.py", "commands.py", "jit.py", "kernel.py", "lookup.py", "maps.py",
                   "obs.py", "reward.py", "rng.py", "rules.py", "state.py", "units.py", "weapons.py")
_CALLERS = (_HERE.parent / "__pycache__", "engine_bridge.*")


def refresh() -> None:
    digest = hashlib.sha1()
    for path in [_HERE / n for n in _KERNEL_SOURCES] + [_HERE.parent / "raw_schema.py"]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    cache_dir = _HERE / "__pycache__"
    stamp = cache_dir / _STAMP
    try:
        if stamp.exists() and stamp.read_text() == digest.hexdigest():
            return
        for folder, prefix in ((cache_dir, "*"), _CALLERS):
            for suffix in (".nbi", ".nbc"):
                for f in folder.glob(prefix + suffix):
                    f.unlink(missing_ok=True)
        cache_dir.mkdir(exist_ok=True)
        stamp.write_text(digest.hexdigest())
    except OSError:  # read-only install: numba then caches elsewhere or recompiles
        pass
