"""Stale numba caches are dropped when a source their kernels compile in changes, and only then."""

from __future__ import annotations

from pathlib import Path

from envs.engine._numba_cache import ENGINE_SOURCES, refresh


def _package(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A package with one source and a cached kernel in its __pycache__: -> (package, source, cache)."""
    source = tmp_path / "kernels.py"
    source.write_text("X = 1\n")
    cache = tmp_path / "__pycache__" / "kernels.step-10.py311.1.nbc"
    cache.parent.mkdir()
    return tmp_path, source, cache


def test_cache_kept_while_sources_are_unchanged_and_dropped_when_one_changes(tmp_path):
    package, source, cache = _package(tmp_path)
    callee = tmp_path / "callee.py"
    callee.write_text("Y = 2\n")
    refresh(package, [source, callee])  # first call: stamps the sources
    cache.write_bytes(b"machine code")
    index = cache.with_name("kernels.step-10.py311.nbi")
    index.write_bytes(b"index")
    other = cache.with_name("kernels.cpython-311.pyc")  # Python's bytecode is not numba's to drop
    other.write_bytes(b"bytecode")

    refresh(package, [source, callee])
    assert cache.exists() and index.exists()

    callee.write_text("Y = 3\n")  # a callee in another file: numba alone would keep the old code
    refresh(package, [source, callee])
    assert not cache.exists() and not index.exists() and other.exists()


def test_a_read_only_cache_folder_is_left_alone(tmp_path, monkeypatch):
    package, source, cache = _package(tmp_path)
    cache.write_bytes(b"machine code")

    def refuse(*args, **kwargs):
        raise PermissionError("read-only")

    monkeypatch.setattr(Path, "unlink", refuse)
    refresh(package, [source])  # no error: numba then recompiles or caches elsewhere
    assert cache.exists()


def test_the_engine_fingerprints_every_module_of_its_package_and_the_raw_schema():
    engine = Path(ENGINE_SOURCES[0]).parent
    assert set(ENGINE_SOURCES) == set(engine.glob("*.py")) | {engine.parent / "raw_schema.py"}


def test_every_cached_kernel_module_of_the_entity_layer_is_fingerprinted():
    """A cached kernel compiles in the kernels it calls from other files, which numba does not track, so
    the entity layer's list must name every module of it that holds a cached kernel."""
    from envs import entity_kernels

    root = Path(entity_kernels.__file__).parent
    cached = {p.name for p in root.glob("*.py") if "@njit(cache=True" in p.read_text()}
    assert cached and cached <= set(entity_kernels.KERNEL_SOURCES)
