"""The engine's two commands through the real CLI entry point: `demo` and `bench engine --quick`."""

from __future__ import annotations

import json
import statistics
import sys

from agent.cli import main


def test_demo_prints_a_score_summary(capsys):
    assert main(["demo", "--map", "MoveToBeacon", "--episodes", "3", "--seed", "4"]) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert out.startswith("MoveToBeacon: 3 episodes, scripted move_to_beacon vs idle bot: score mean")
    mean = float(out.split("score mean ")[1].split(",")[0])
    assert 20 <= mean <= 34
    assert main(["demo", "--map", "3m", "--episodes", "2"]) == 0
    assert "win rate" in capsys.readouterr().out


def test_demo_bad_arguments_exit_2(capsys):
    assert main(["demo", "--episodes", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--episodes must be >= 1" in err
    assert main(["demo", "--map", "3m", "--episodes", "1", "--enemy-bot", "nope"]) == 2
    assert "focus_fire" in capsys.readouterr().err


def test_bench_engine_quick_writes_json(tmp_path, capsys, monkeypatch):
    path = tmp_path / "bench.json"
    argv = ["bench", "engine", "--quick", "--json", str(path)]
    monkeypatch.setattr(sys, "argv", ["/usr/bin/perceiver-sc2", *argv])  # as the console script sees it
    assert main(argv) == 0
    data = json.loads(path.read_text())
    cases = {(r["map"], r["num_games"]) for r in data["results"]}
    combat = ("FindAndDefeatZerglings", "DefeatRoaches", "DefeatZerglingsAndBanelings", "3m", "8m", "2s3z",
              "3s5z", "27m_vs_30m", "bio_vs_zerg_128", "bio_vs_zerg_250")
    economy = ("CollectMineralsAndGas", "BuildMarines")  # played by their scripted players
    assert cases == {(m, b) for m in combat + economy for b in (1, 64)}
    assert data["command"] == "perceiver-sc2 bench engine --quick --json " + str(path)
    assert data["date"].endswith(" UTC") and "commit" in data
    for r in data["results"]:
        assert r["rejected_commands"] == 0  # the random commands and the scripted players' are all legal
        assert len(r["agent_steps_per_cpu_s"]) == len(r["agent_steps_per_wall_s"]) == r["repeats"] == 2
        assert r["agent_steps_per_cpu_s_median"] == statistics.median(r["agent_steps_per_cpu_s"])
        assert r["agent_steps_per_wall_s_median"] == statistics.median(r["agent_steps_per_wall_s"])
        # --quick: 2000 agent-steps a repeat, scaled by 32 / units on the large battles
        budget = 2_000 * 32 // r["units"] if r["units"] > 32 else 2_000
        assert r["agent_steps_per_repeat"] == budget // r["num_games"] * r["num_games"]
        large_single = r["units"] > 32 and r["num_games"] == 1
        assert ("cell_lists_never_agent_steps_per_cpu_s_median" in r) == large_single
    assert "agent-steps per CPU-s" in capsys.readouterr().out


def test_bench_engine_runs_only_the_maps_asked_for(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["bench", "engine", "--quick", "--maps", "BuildMarines", "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    cases = {(r["map"], r["num_games"]) for r in data["results"]}
    assert cases == {("BuildMarines", 1), ("BuildMarines", 64)}
    assert main(["bench", "engine", "--quick", "--maps", "Nowhere"]) == 2
    assert "bench engine has no map Nowhere" in capsys.readouterr().err
