"""Checkpoints: atomic publication, pruning, and loading the policy without Ray."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from agent.model.policy import EntityPolicy
from agent.training.checkpoint import (
    LATEST,
    POLICY_WEIGHTS,
    TRAIN_STATE,
    latest_checkpoint,
    load_policy,
    save_checkpoint,
    write_policy,
)
from envs.errors import UserError

KWARGS = {"num_features": 5, "num_scalars": 2, "num_unit_types": 7, "grid_size": 2, "width": 8, "key_dim": 4,
          "encoder": "deepsets", "encoder_options": {}}


def writer(policy: EntityPolicy, iteration: int, *, fail: bool = False):
    def write(tmp):
        write_policy(tmp, policy.constructor_kwargs, policy.state_dict(), iteration=iteration)
        if fail:  # what a kill between two files looks like to the next reader
            raise KeyboardInterrupt
        (tmp / TRAIN_STATE).write_text(json.dumps({"iteration": iteration}))

    return write


def test_interrupted_save_leaves_the_previous_latest(tmp_path):
    policy = EntityPolicy(**KWARGS)
    first = save_checkpoint(tmp_path, 1, writer(policy, 1), keep=3)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, 2, writer(policy, 2, fail=True), keep=3)
    assert latest_checkpoint(tmp_path) == first
    assert (tmp_path / "checkpoints" / LATEST).read_text().strip() == first.name
    # The next successful save publishes normally and sweeps the half-written directory away.
    third = save_checkpoint(tmp_path, 3, writer(policy, 3), keep=3)
    assert latest_checkpoint(tmp_path) == third
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == sorted([LATEST, first.name, third.name])


def test_a_dangling_latest_pointer_falls_back_to_the_newest_complete(tmp_path):
    policy = EntityPolicy(**KWARGS)
    first = save_checkpoint(tmp_path, 1, writer(policy, 1), keep=3)
    (tmp_path / "checkpoints" / LATEST).write_text("iter_000009\n")
    assert latest_checkpoint(tmp_path) == first


def test_only_the_newest_checkpoints_are_kept(tmp_path):
    policy = EntityPolicy(**KWARGS)
    for it in range(1, 6):
        save_checkpoint(tmp_path, it, writer(policy, it), keep=2)
    names = sorted(p.name for p in (tmp_path / "checkpoints").glob("iter_*"))
    assert names == ["iter_000004", "iter_000005"]


def test_load_policy_rebuilds_the_same_network(tmp_path):
    torch.manual_seed(3)
    policy = EntityPolicy(**KWARGS).eval()
    save_checkpoint(tmp_path, 7, writer(policy, 7), keep=3)
    loaded, meta = load_policy(tmp_path)  # a run directory resolves to its latest checkpoint
    assert meta["iteration"] == 7
    obs = {
        "entities": torch.randn(3, 6, 5),
        "unit_type": torch.randint(0, 7, (3, 6)),
        "entity_mask": torch.ones(3, 6, dtype=torch.int8),
        "scalars": torch.randn(3, 2),
        "action_mask": torch.ones(3, 2, policy.layout(6).num_actions, dtype=torch.int8),
    }
    actions = torch.randint(0, policy.layout(6).num_actions, (3, 2))
    with torch.no_grad():
        assert torch.equal(policy(obs, actions)[0], loaded(obs, actions)[0])


def test_load_policy_bad_paths_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_policy(tmp_path / "missing")
    with pytest.raises(UserError, match="no policy checkpoint"):
        load_policy(tmp_path)
    save_checkpoint(tmp_path, 1, writer(EntityPolicy(**KWARGS), 1), keep=3)
    (latest_checkpoint(tmp_path) / POLICY_WEIGHTS).write_bytes(b"not a torch file")
    with pytest.raises(UserError, match=r"policy\.pt: not a torch weights file as training saves them"):
        load_policy(tmp_path)


def test_load_policy_does_not_import_ray(tmp_path):
    save_checkpoint(tmp_path, 1, writer(EntityPolicy(**KWARGS), 1), keep=3)
    code = (f"import sys; from agent.training.checkpoint import load_policy; load_policy({str(tmp_path)!r}); "
            "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
