"""Scripted agents through the entity env, and the evaluate command."""

import json

import pytest

from agent.cli import main
from agent.evaluation.evaluate import evaluate
from agent.evaluation.scripted import SCRIPTED_AGENTS, scripted_agent
from agent.evaluation.stats import bootstrap_ci, wilson_interval
from envs.engine import MAP_NAMES
from envs.entity_env import entity_spec
from envs.errors import UserError


def test_scripted_move_to_beacon_scores_like_pysc2_players():
    s = evaluate("scripted", "MoveToBeacon", episodes=30, seed=0, progress=False)
    assert 22 <= s["mean"] <= 32, s["mean"]  # pysc2 paper: human 26, GrandMaster 28


@pytest.mark.parametrize("map_name", MAP_NAMES)
def test_scripted_beats_random_with_separate_intervals(map_name):
    episodes = 12
    scripted = evaluate("scripted", map_name, episodes=episodes, seed=100, progress=False)
    random = evaluate("random", map_name, episodes=episodes, seed=100, progress=False)
    assert scripted["ci_low"] > random["ci_high"], (scripted["mean"], random["mean"])


def test_evaluate_cli_writes_json(tmp_path, capsys):
    out = tmp_path / "eval.json"
    code = main(["evaluate", "--agent", "scripted", "--map", "3m", "--episodes", "4", "--seed", "7",
                 "--json", str(out)])
    assert code == 0
    summary = json.loads(out.read_text())
    assert summary["episodes"] == 4 and len(summary["scores"]) == 4
    # The printed and saved statistics are those of the episodes it reports: a bootstrap of their scores
    # seeded by --seed, and a Wilson interval of their wins.
    assert (summary["mean"], summary["ci_low"], summary["ci_high"]) == bootstrap_ci(summary["scores"], seed=7)
    assert summary["win_rate"] == summary["wins"] / 4
    assert (summary["win_low"], summary["win_high"]) == wilson_interval(summary["wins"], 4)
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith(f"3m scripted: mean {summary['mean']:.2f} (95% CI {summary['ci_low']:.2f} to "
                           f"{summary['ci_high']:.2f})")


@pytest.mark.parametrize("argv, message", [
    (["--agent", "scripted", "--map", "NoSuchMap"], "unknown map 'NoSuchMap'"),
    (["--agent", "nobody", "--map", "3m"], "unknown agent 'nobody'"),
    (["--agent", "random", "--map", "3m", "--enemy-bot", "rush"], "unknown enemy bot 'rush'"),
    (["--agent", "random", "--map", "3m", "--backend", "sc3"], "unknown backend 'sc3'"),
    (["--agent", "random", "--map", "3m", "--episodes", "0"], "--episodes must be at least 1"),
])
def test_evaluate_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    if "--episodes" not in argv:
        argv = [*argv, "--episodes", "1"]
    assert main(["evaluate", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_every_map_has_a_scripted_agent_and_a_map_without_one_is_a_user_error():
    assert set(SCRIPTED_AGENTS) == set(MAP_NAMES)
    with pytest.raises(UserError, match="no scripted agent for Elsewhere"):
        scripted_agent("Elsewhere", entity_spec("3m"))
