"""`perceiver-sc2 bench env` compares the entity env with raw engine replays of the very same games."""

import pytest

from envs.env_throughput import single_env_overhead


@pytest.mark.parametrize("workload", ["dense", "sparse"])
def test_overhead_replays_the_env_games(workload):
    # single_env_overhead raises unless both replays end on the env's final game loop and score.
    result = single_env_overhead(300, seed=2, workload=workload)
    # Overheads are the env's CPU time over the baselines' for the same steps.
    env_rate = result["env_steps_per_cpu_s"]
    assert result["overhead_cpu"] == pytest.approx(result["raw_steps_per_cpu_s"] / env_rate)
    assert result["overhead_vs_arrays"] == pytest.approx(result["array_steps_per_cpu_s"] / env_rate)
