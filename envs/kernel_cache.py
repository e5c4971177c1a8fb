"""Drop stale numba caches of the entity layer's kernels when any source they compile in changes.

numba's `cache=True` checks only the file that defines a function ("cache invalidation fails to
recognize changes in symbols defined in a different file", Caching Limitations in
https://numba.readthedocs.io/en/stable/developer/caching.html). `engine_bridge._step` compiles in
`entity_kernels`, `unit_memory` and the engine's `step_kernel`, so an edit to any of them would keep
running the old machine code. We fingerprint those sources and clear this package's cache files when
the fingerprint changes (the engine guards its own package the same way, envs/engine/_numba_cache.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_STAMP = "numba_sources.sha1"
_SOURCES = ("action_space.py", "engine_bridge.py", "entity_kernels.py", "raw_schema.py", "unit_memory.py")


def refresh() -> None:
    digest = hashlib.sha1()
    for path in [_HERE / name for name in _SOURCES] + sorted((_HERE / "engine").glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    cache_dir = _HERE / "__pycache__"
    stamp = cache_dir / _STAMP
    try:
        if stamp.exists() and stamp.read_text() == digest.hexdigest():
            return
        for pattern in ("*.nbi", "*.nbc"):
            for f in cache_dir.glob(pattern):
                f.unlink(missing_ok=True)
        cache_dir.mkdir(exist_ok=True)
        stamp.write_text(digest.hexdigest())
    except OSError:  # read-only install: numba then caches elsewhere or recompiles
        pass
