"""`perceiver-sc2 bench env` compares the entity env with raw engine replays of the very same games."""

import pytest

from envs.env_throughput import single_env_overhead


@pytest.mark.parametrize("workload", ["dense", "sparse"])
def test_overhead_replays_the_env_games(workload):
    # single_env_overhead raises unless both replays end on the env's final game loop and score.
    result = single_env_overhead(300, seed=2, workload=workload)
    assert result["overhead_cpu"] > 0 and result["raw_steps_per_cpu_s"] > 0
