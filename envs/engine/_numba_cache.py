"""Drop a package's stale numba caches when any source its cached kernels compile in changes.

numba's `cache=True` checks only the file that defines a function ("cache invalidation fails to
recognize changes in symbols defined in a different file", Caching Limitations in
https://numba.readthedocs.io/en/stable/developer/caching.html): editing a callee in another module
(rules.py called from kernel.py) would silently keep running the old machine code. Each package with
cached kernels fingerprints the sources they compile in and clears its own cache files when the
fingerprint changes: the engine here, the entity layer in envs/entity_kernels.py (its kernels compile in
the engine's step kernel, so it adds `ENGINE_SOURCES` to its own).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_STAMP = "numba_sources.sha1"
# Every engine module, not a list of the kernel ones: a module left off a list would keep stale code,
# while an edit to a module without kernels costs one recompile. Constants are baked into the machine
# code too, and the raw observation's columns come from the schema one package up.
ENGINE_SOURCES = sorted(_HERE.glob("*.py")) + [_HERE.parent / "raw_schema.py"]


def refresh(package: Path = _HERE, sources: Iterable[Path] = ENGINE_SOURCES) -> None:
    """Clear the cached machine code in `package`/__pycache__ (by default the engine's) unless `sources`
    are as they were at the last call (a stamp file there holds their fingerprint)."""
    digest = hashlib.sha1()
    for path in sources:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    cache_dir = Path(package) / "__pycache__"
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
