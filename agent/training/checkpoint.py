"""Run directories and checkpoints: atomic saves, the `latest` pointer, and loading a policy without Ray.

    runs/<name>/config.json            the resolved training config (what --resume reads)
    runs/<name>/metrics.jsonl          one JSON line per training iteration (learning curves)
    runs/<name>/tb/                    TensorBoard event files
    runs/<name>/checkpoints/iter_000010/   RLlib algorithm state + policy.pt + policy.json
    runs/<name>/checkpoints/latest     name of the newest complete checkpoint

A checkpoint is written into a hidden temporary directory and renamed into place (rename is atomic on
POSIX), then `latest` is replaced atomically: a kill at any moment leaves the previous checkpoint intact
and `latest` pointing at a complete one. policy.pt holds the bare EntityPolicy weights (loadable with
`torch.load(weights_only=True)`), policy.json what is needed to rebuild the network and its env.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import torch

from agent.model.policy import EntityPolicy
from envs.errors import UserError

CHECKPOINTS = "checkpoints"
LATEST = "latest"
POLICY_WEIGHTS = "policy.pt"
POLICY_META = "policy.json"
TRAIN_STATE = "train_state.json"
_PREFIX = "iter_"
_TMP_PREFIX = ".tmp-"


def checkpoint_name(iteration: int) -> str:
    return f"{_PREFIX}{iteration:06d}"


def write_json_atomic(path: Path, data) -> None:
    """Write JSON through a temporary file and a rename: a kill leaves the old file or the new one."""
    tmp = path.with_name(f"{_TMP_PREFIX}{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def write_policy(directory: Path, policy_kwargs: dict, weights: dict[str, torch.Tensor], **meta) -> None:
    """policy.pt (the bare weights) and policy.json (the constructor kwargs and `meta`): what load_policy
    rebuilds the policy from."""
    torch.save(weights, Path(directory) / POLICY_WEIGHTS)
    text = json.dumps({"policy_kwargs": policy_kwargs, **meta}, indent=1)
    (Path(directory) / POLICY_META).write_text(text)


def save_checkpoint(run_dir: Path, iteration: int, write_contents, *, keep: int) -> Path:
    """Call `write_contents(tmp_dir)` to fill a fresh directory, then publish it as the newest checkpoint."""
    root = Path(run_dir) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / checkpoint_name(iteration)
    tmp = root / f"{_TMP_PREFIX}{final.name}.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    write_contents(tmp)
    if final.exists():  # re-saving an iteration (e.g. the final save right after a periodic one)
        shutil.rmtree(final)
    os.rename(tmp, final)
    pointer = root / f"{_TMP_PREFIX}{LATEST}.{os.getpid()}"
    pointer.write_text(final.name + "\n")
    os.replace(pointer, root / LATEST)
    _prune(root, keep)
    return final


def _complete_checkpoints(root: Path) -> list[Path]:
    return sorted(p for p in root.glob(f"{_PREFIX}*") if p.is_dir() and (p / TRAIN_STATE).is_file())


def _prune(root: Path, keep: int) -> None:
    for old in _complete_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob(f"{_TMP_PREFIX}*"):  # left by a save that was killed or failed
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run directory, or None."""
    root = Path(run_dir) / CHECKPOINTS
    pointer = root / LATEST
    if pointer.is_file():
        candidate = root / pointer.read_text().strip()
        if (candidate / TRAIN_STATE).is_file():
            return candidate
    found = _complete_checkpoints(root) if root.is_dir() else []
    return found[-1] if found else None


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint directory, a run directory or its checkpoints/ directory -> the checkpoint to load."""
    path = Path(path)
    if (path / POLICY_WEIGHTS).is_file():
        return path
    for run_dir in (path, path.parent):
        found = latest_checkpoint(run_dir) if (run_dir / CHECKPOINTS).is_dir() else None
        if found is not None and (found / POLICY_WEIGHTS).is_file():
            return found
    if not path.exists():
        raise UserError(f"checkpoint not found: {path}")
    raise UserError(f"no policy checkpoint in {path} (expected {POLICY_WEIGHTS} or a run directory)")


def load_policy(path: str | Path):
    """Rebuild the trained policy without Ray: -> (EntityPolicy in eval mode, meta dict).

    meta["env"] holds the gymnasium kwargs to make the same env (map_name, max_entities, max_units,
    grid_size, step_mul, enemy_bot), meta["config"] the full training config, meta["iteration"] the
    training iteration. `path`: a checkpoint directory, or a run directory (its latest checkpoint).
    """
    ckpt = resolve_checkpoint(path)
    try:
        meta = json.loads((ckpt / POLICY_META).read_text())
        policy = EntityPolicy(**meta["policy_kwargs"])
        state = torch.load(ckpt / POLICY_WEIGHTS, map_location="cpu", weights_only=True)
        policy.load_state_dict(state)
    except (OSError, KeyError, ValueError, TypeError, RuntimeError, pickle.UnpicklingError) as err:
        raise UserError(f"cannot load the policy in {ckpt}: {' '.join(str(err).split())[:300]}") from None
    policy.eval()
    return policy, meta
