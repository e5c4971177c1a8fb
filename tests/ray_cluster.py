"""A real multi-node Ray cluster on this machine for tests (Ray's own `ray.cluster_utils.Cluster`).

Each node is a raylet with its own resources, as `ray start --head` / `ray start --address` make them.
The cluster is kept apart from any other Ray on the machine: Ray records "the current cluster" in
<temp dir>/ray_current_cluster, where a plain `ray.init()` anywhere would find it and join it, so the
cluster records itself (and keeps its sessions) in a private RAY_TMPDIR instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def _environ(**values: str | None) -> Iterator[None]:
    """Set (or, with None, remove) environment variables for the duration of the block."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def local_cluster(*node_cpus: int, without_env: tuple[str, ...] = ()) -> Iterator:
    """A cluster of len(node_cpus) nodes (the first is the head) with that many CPUs each; the nodes'
    processes start without the variables named in `without_env`. Yields the Cluster."""
    from ray.cluster_utils import Cluster

    # Unix socket paths live under the temp dir and must stay short (108 bytes): not under pytest's tmp_path.
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    isolated = dict(RAY_TMPDIR=temp_dir, **{name: None for name in without_env})
    cluster = None
    try:
        with _environ(**isolated):
            cluster = Cluster(initialize_head=True,
                              head_node_args={"num_cpus": node_cpus[0], "include_dashboard": False})
            for cpus in node_cpus[1:]:
                cluster.add_node(num_cpus=cpus)
            cluster.wait_for_nodes()
        yield cluster
    finally:
        if cluster is not None:
            with _environ(RAY_TMPDIR=temp_dir):  # shutdown forgets the address file of this temp dir
                cluster.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)


def raylet_pid(node) -> int:
    return node.all_processes["raylet"][0].process.pid


def worker_processes(node, actor_class: str) -> list[int]:
    """Pids of the node's worker processes currently running an actor of `actor_class` (Ray titles an
    actor's process `ray::<Class>` or `ray::<Class>.<method>`)."""
    parent, pids = raylet_pid(node), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            title = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended while we looked
            continue
        ppid = int(text[text.rindex(")") + 2:].split()[1])  # the field after the state, past "(comm)"
        if ppid == parent and title.startswith(f"ray::{actor_class}"):
            pids.append(int(stat.parent.name))
    return pids


def process_environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)
