"""Staggered starts: game i of n cuts its first training episode after L * i // n steps (L = the map's time
limit in agent steps), so that the games of a fixed-length map do not stay in step for the whole run."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from agent.rllib.callbacks import TrainCallbacks
from agent.rllib.train_env import TrainVectorEnv, make_train_env
from tests.sc2_test_env import BeaconTestEnv

# MoveToBeacon's time limit, 1,920 game loops (tests/test_train.py plays it at the same step_mul), is 60
# agent steps of 32 loops.
STEPS = 60


def _play(env, steps: int):
    """-> per step: (terminated, truncated, restarted, cut) of every game, under no-op actions."""
    env.reset(seed=0)
    actions = np.zeros(env.action_space.shape, dtype=np.int64)
    history = []
    for _ in range(steps):
        _, _, terminated, truncated, infos = env.step(actions)
        history.append((terminated.copy(), truncated.copy(), env.restarted.copy(), infos["cut"].copy()))
    return history


def test_each_game_cuts_its_first_episode_at_its_share_of_the_time_limit_then_plays_whole_episodes():
    env = TrainVectorEnv("MoveToBeacon", 4, step_mul=32)
    assert env.entity_spec.time_limit_loops == 1920
    history = _play(env, 3 * STEPS)
    ends = [[t + 1 for t, (term, trunc, *_) in enumerate(history) if term[i] or trunc[i]] for i in range(4)]
    cuts = [[t + 1 for t, (_, trunc, *_) in enumerate(history) if trunc[i]] for i in range(4)]
    marked = [[t + 1 for t, (*_, cut) in enumerate(history) if cut[i]] for i in range(4)]
    # game i is cut once, after 15 * i steps; every episode after that lasts the whole 60 steps, plus the
    # step on which the game restarts (its action ignored)
    assert cuts == marked == [[], [15], [30], [45]]
    for i, first in enumerate((STEPS, 15, 30, 45)):
        assert ends[i][:2] == [first, first + 1 + STEPS], (i, ends[i])
    for t, (terminated, truncated, *_) in enumerate(history[:-1]):  # ended games restart on the next step
        np.testing.assert_array_equal(history[t + 1][2], terminated | truncated)
    # only whole games are logged as finished
    assert {steps for steps, _, _ in env.finished} == {STEPS}
    env.close()


def test_without_staggering_the_games_stay_in_step():
    env = TrainVectorEnv("MoveToBeacon", 4, step_mul=32, stagger=False)
    history = _play(env, 2 * STEPS + 1)
    assert not any(trunc.any() or cut.any() for _, trunc, _, cut in history)
    ended = [t + 1 for t, (term, *_) in enumerate(history) if term.any()]
    assert ended == [STEPS, 2 * STEPS + 1]
    assert all(term.all() for term, *_ in (history[t - 1] for t in ended))
    env.close()


def test_a_game_of_the_pysc2_backend_that_is_cut_restarts_on_the_next_step():
    ctx = {"map_name": "MoveToBeacon", "backend": "pysc2", "num_envs": 2, "step_mul": 8}
    env = make_train_env(ctx, sc2_env_cls=BeaconTestEnv)
    env.reset(seed=0)
    env._cut_at = np.array([0, 3])  # SC2TestEnv's episodes end after 10 steps, before the map's own cut
    actions = np.zeros(env.action_space.shape, dtype=np.int64)
    steps = [env.step(actions) for _ in range(5)]
    env.close()
    cut_game_1 = [False, False, True, False, False]
    assert [bool(s[3][1]) for s in steps] == [bool(s[4]["cut"][1]) for s in steps] == cut_game_1
    assert not any(bool(s[2][1]) or bool(s[3][0]) for s in steps)
    assert steps[3][1][1] == 0.0  # the restart step pays nothing
    assert list(env.finished) == []


def test_a_cut_episode_is_not_counted_in_the_score_metrics_but_a_truncated_game_is():
    logged = []
    logger = SimpleNamespace(log_value=lambda key, value, **kw: logged.append((key, value)))

    def episode(cut: bool, truncated: bool):
        info = {"score": 7.0, "won": 1.0, "cut": np.bool_(cut)}
        return SimpleNamespace(is_truncated=truncated, get_infos=lambda i: info)

    TrainCallbacks().on_episode_end(episode=episode(True, True), metrics_logger=logger)
    assert logged == []
    TrainCallbacks().on_episode_end(episode=episode(False, True), metrics_logger=logger)
    assert logged == [("episode_score", 7.0), ("episode_won", 1.0)]
