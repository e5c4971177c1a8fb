"""What the commands write: output paths checked before any work starts, files written atomically.

A command that plays a hundred episodes or trains for an hour must not find out at the end that it
cannot write its `--json`: `check_output_file` and `check_output_dir` refuse a bad path up front with a
one-line UserError. `atomic_path` then writes each file through a temporary sibling and one rename, so a
kill or a full disk leaves the previous file or the complete new one, never half of one. `read_json`
reads back what an earlier run wrote, with a one-line error for a damaged file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from envs.errors import UserError

TMP_PREFIX = ".tmp-"


def _writable_ancestor(path: Path, what: str) -> None:
    """The directory that will hold `path` exists and is writable, or can be created: its nearest existing
    ancestor is a directory this process may write in."""
    ancestor = path.parent.absolute()
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UserError(f"{what}: {ancestor} is a file, not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UserError(f"{what}: cannot write in {ancestor} (permission denied)")


def check_output_file(path: str | Path | None, option: str) -> Path | None:
    """Refuse now, naming `option`, an output file that could not be written later: a directory, a file
    without write permission, or a location whose directory cannot be created or written. None passes."""
    if path is None:
        return None
    path = Path(path)
    what = f"{option} {path}"
    if path.is_dir():
        raise UserError(f"{what}: is a directory; give a file name")
    if path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"{what}: the file is not writable (permission denied)")
    _writable_ancestor(path, what)
    return path


def check_output_dir(path: str | Path, option: str) -> Path:
    """Refuse now, naming `option`, an output directory that is a file or cannot be created or written."""
    path = Path(path)
    what = f"{option} {path}"
    if path.exists() and not path.is_dir():
        raise UserError(f"{what}: is a file, not a directory")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise UserError(f"{what}: cannot write in it (permission denied)")
    else:
        _writable_ancestor(path, what)
    return path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of `path` (same suffix) to write; when the block ends without an error it
    replaces `path` in one rename (atomic on POSIX), otherwise it is removed. Creates the parent directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_PREFIX}{os.getpid()}-{path.name}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path: str | Path, data, *, indent: int = 1) -> None:
    write_text_atomic(path, json.dumps(data, indent=indent) + "\n")


def read_json(path: str | Path):
    """The JSON a previous run wrote to `path`; a file that is not valid JSON (cut short, edited, from
    another tool) is a one-line UserError naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        where = f"line {err.lineno} column {err.colno}: {err.msg}" if isinstance(err, json.JSONDecodeError) \
            else "not UTF-8"
        raise UserError(f"{path}: not valid JSON ({where}); was it cut short or edited?") from None
    except OSError as err:
        raise UserError(f"cannot read {path}: {err.strerror}") from None
