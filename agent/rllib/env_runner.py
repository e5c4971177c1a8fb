"""An env runner whose episode metrics match the games played, whatever the learner does afterwards."""

from __future__ import annotations

from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner


class _ChunkStats:
    """What RLlib's episode metrics read from an earlier chunk of an episode, frozen at sample time."""

    def __init__(self, chunk) -> None:
        self._len, self._return, self._seconds = len(chunk), float(chunk.get_return()), chunk.get_duration_s()

    def __len__(self) -> int:
        return self._len

    def get_return(self) -> float:
        return self._return

    def get_duration_s(self) -> float:
        return self._seconds


class SnapshotEnvRunner(SingleAgentEnvRunner):
    """SingleAgentEnvRunner whose episode metrics cannot be changed by the learner.

    RLlib 2.60 keeps the chunks of unfinished episodes by reference to sum episode lengths and returns
    later. Sampling in the driver (num_env_runners=0), PPO's learner connector then appends a bootstrap
    timestep to those same objects, so every episode that spans two iterations is recorded one step
    too long (tests/test_train.py checks against the engine's own count). Freezing the numbers at
    the end of sample() keeps RLlib's metrics equal to the games played. (`prev_episode_chunks` in
    `on_episode_end` therefore holds these snapshots: length and return, no step data.)
    """

    def sample(self, *args, **kwargs):
        episodes = super().sample(*args, **kwargs)
        for chunks in self._ongoing_episodes_for_metrics.values():
            chunks[:] = [c if isinstance(c, _ChunkStats) else _ChunkStats(c) for c in chunks]
        return episodes
