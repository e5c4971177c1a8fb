"""Run directories and checkpoints: atomic saves, the `latest` pointer, and loading a policy without Ray.

    runs/<name>/config.json            the resolved training config (what --resume reads)
    runs/<name>/metrics.jsonl          one JSON line per training iteration (learning curves)
    runs/<name>/tb/                    TensorBoard event files
    runs/<name>/checkpoints/iter_000010/   algorithm/ (RLlib's state), policy.pt, policy.json,
                                       train_state.json (the run's counters; written last)
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
from agent.outputs import read_json
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


def _weights_mismatch(expected: dict[str, torch.Tensor], saved: dict) -> str | None:
    """Why `saved` weights do not fit a network whose state_dict is `expected`, or None if they do."""
    missing = [k for k in expected if k not in saved]
    extra = [k for k in saved if k not in expected]
    if missing or extra:
        parts = [f"{len(missing)} of its tensors are missing (e.g. {missing[0]})"] if missing else []
        parts += [f"{len(extra)} saved tensors are not in it (e.g. {extra[0]})"] if extra else []
        return "; ".join(parts)
    for key, tensor in expected.items():
        value = saved[key]
        if not isinstance(value, torch.Tensor) or value.shape != tensor.shape:
            shape = list(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            return f"{key} is {shape} in the checkpoint but {list(tensor.shape)} in the network"
    return None


def load_policy(path: str | Path):
    """Rebuild the trained policy without Ray: -> (EntityPolicy in eval mode, meta dict).

    meta["env"] holds the gymnasium kwargs to make the same env (map_name, max_entities, max_units,
    grid_size, step_mul, enemy_bot), meta["config"] the full training config, meta["iteration"] the
    training iteration. `path`: a checkpoint directory, or a run directory (its latest checkpoint).
    A damaged file or weights that do not fit this version's network raise a one-line UserError saying why.
    """
    ckpt = resolve_checkpoint(path)
    meta_path, weights_path = ckpt / POLICY_META, ckpt / POLICY_WEIGHTS
    meta = read_json(meta_path)
    if not isinstance(meta, dict) or not isinstance(meta.get("policy_kwargs"), dict):
        raise UserError(f"{meta_path}: no policy_kwargs mapping; not a policy checkpoint of this project")
    try:
        policy = EntityPolicy(**meta["policy_kwargs"])
    except (TypeError, ValueError, UserError) as err:  # kwargs of another version of EntityPolicy
        raise UserError(f"{meta_path}: its policy_kwargs do not build this version's network: "
                        f"{' '.join(str(err).split())[:200]}") from None
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError):
        # torch's own message is about its `weights_only` default, not about this file.
        raise UserError(f"{weights_path}: not a torch weights file as training saves them; "
                        "was it cut short or replaced?") from None
    why = _weights_mismatch(policy.state_dict(), state) if isinstance(state, dict) else "not a state dict"
    if why is not None:
        raise UserError(f"{weights_path}: the weights do not fit the network policy.json describes: {why}")
    policy.load_state_dict(state)
    policy.eval()
    return policy, meta
