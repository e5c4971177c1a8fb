"""Training on the real game's path (env.backend=pysc2) with pysc2's own mock standing in for StarCraft II.

The env runner builds its games as the pysc2 backend does: EntityEnv -> Pysc2Backend -> an SC2Env-like
class, here tests/sc2_test_env.py's BeaconTestEnv, handed in through the training env creator. The
runner is remote, on a Ray node started without protobuf's Python runtime selected: only the driver's
runtime_env can give it the setting pysc2 needs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from agent.rllib.train_env import make_train_env
from agent.training.build import policy_kwargs
from agent.training.config import load_config
from envs.raw_schema import RawFunction
from tests.ray_cluster import local_cluster, process_environ, raylet_pid
from tests.sc2_test_env import (
    MARINE,
    MARINE_TAG,
    REWARD,
    SCORE,
    SELF,
    BeaconTestEnv,
    common_pb2,
    dummy_observation,
)

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "MoveToBeacon.yaml"
PROTOBUF = "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"
EPISODE_STEPS = 10  # pysc2's SC2TestEnv ends every episode after 10 steps
COMMAND_CENTER, SUPPLY_DEPOT, BARRACKS = 18, 19, 21  # pysc2 lib/units.py Terran
TRAIN_MARINE_ABILITY = 560  # pysc2 lib/actions.py Train_Marine_quick
TINY = ["env.num_envs=2", "ppo.train_batch_size=64", "ppo.minibatch_size=32", "ppo.num_epochs=1",
        "model.width=16", "model.key_dim=8", "model.encoder=deepsets", "model.encoder_options={}",
        "run.max_minutes=0", "run.max_env_steps=0",
        "ppo.lr_schedule=constant", "run.progress=false", "scale.torch_threads=1"]


def make_mock_train_env(ctx):
    """The training env creator with BeaconTestEnv in place of the game (Ray workers import it by name)."""
    return make_train_env(ctx, sc2_env_cls=BeaconTestEnv)


def runner_report(runner) -> tuple[str, list, list]:
    """What an env runner saw: its protobuf runtime, its finished games, the unit commands pysc2 took."""
    from google.protobuf.internal import api_implementation

    return api_implementation.Type(), list(runner.env.unwrapped.finished), list(BeaconTestEnv.sent)


def test_one_ppo_iteration_on_pysc2_in_a_remote_env_runner(tmp_path):
    import ray
    from pysc2.lib import actions

    from agent.rllib.ray_session import start_ray
    from agent.training.checkpoint import load_policy
    from agent.training.loop import Trainer

    ray.shutdown()  # start_ray must be the one that joins the cluster (a no-op if no Ray is running)
    with local_cluster(1, without_env=(PROTOBUF,)) as cluster:
        node = cluster.head_node
        assert PROTOBUF not in process_environ(raylet_pid(node))  # the node's workers start without it
        cfg = load_config(CONFIG, TINY + ["env.backend=pysc2", f"scale.address={cluster.address}",
                                          "scale.num_env_runners=1", "scale.restart_env_runners=false"])
        start_ray(cfg.scale)
        try:
            trainer = Trainer(cfg, tmp_path, env_creator=make_mock_train_env)
            try:
                row = trainer.step()
                trainer.save()
                [(protobuf, finished, sent)] = trainer.algo.env_runner_group.foreach_env_runner(
                    runner_report, local_env_runner=False)
            finally:
                trainer.close()
        finally:
            ray.shutdown()
    assert protobuf == "python"
    assert row["iteration"] == 1 and row["env_steps"] == 64
    assert row["env_steps_by_node"] == {node.node_id: 64}  # sampled by the remote runner on that node
    # RLlib's episodes are the mock's: NEXT_STEP autoreset over the EntityEnv games keeps them whole.
    assert len(finished) == row["episodes"] >= 4
    assert finished == [(EPISODE_STEPS, float(SCORE), EPISODE_STEPS * REWARD)] * len(finished)
    assert row["episode_len_mean"] == EPISODE_STEPS and row["episode_return_mean"] == EPISODE_STEPS * REWARD
    assert row["episode_score"] == SCORE
    # The policy's actions went through translate and pysc2's own transform_action to the Marine.
    abilities = {actions.RAW_FUNCTIONS[int(f)].ability_id for f in RawFunction}
    assert sent and all(tags == (MARINE_TAG,) and ability in abilities for ability, tags in sent)
    # The checkpoint is the same network as the engine's: a policy moves between backends unchanged.
    _, meta = load_policy(tmp_path)
    assert meta["config"]["env"]["backend"] == "pysc2"
    assert meta["policy_kwargs"] == json.loads(json.dumps(policy_kwargs(load_config(CONFIG, TINY))))


def _train_in_fresh_python(prelude: str, argv: list[str], sc2path: Path) -> subprocess.CompletedProcess:
    """`perceiver-sc2 ARGV` in a new interpreter without protobuf's runtime chosen (as from a shell)."""
    code = textwrap.dedent(prelude) + f"\nfrom agent.cli import main\nsys.exit(main({argv!r}))\n"
    env = {k: v for k, v in os.environ.items() if k != PROTOBUF}
    env["SC2PATH"] = str(sc2path)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


def test_train_on_pysc2_without_the_game_exits_2_naming_sc2path_before_ray(tmp_path):
    run_dir = tmp_path / "run"
    proc = _train_in_fresh_python(
        """
        import atexit, sys
        atexit.register(lambda: print("loaded:", [m for m in ("ray", "google.protobuf") if m in sys.modules]))
        """,
        ["train", str(CONFIG), "--set", "env.backend=pysc2", "--run-dir", str(run_dir)], tmp_path)
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.splitlines()
    assert line.startswith("perceiver-sc2 train: error: StarCraft II not found at SC2PATH=")
    assert "--set env.backend=engine" in line
    assert proc.stdout.strip() == "loaded: []"  # neither Ray nor protobuf was imported
    assert not run_dir.exists()


def test_train_on_pysc2_picks_protobufs_python_runtime_before_ray_loads(tmp_path):
    # A StarCraft II install as find_game checks it; Ray is never started: the stub stops the run there.
    (tmp_path / "Versions" / "Base75689").mkdir(parents=True)
    (tmp_path / "Versions" / "Base75689" / "SC2_x64").write_text("")
    (tmp_path / "Maps" / "mini_games").mkdir(parents=True)
    (tmp_path / "Maps" / "mini_games" / "MoveToBeacon.SC2Map").write_text("")
    proc = _train_in_fresh_python(
        """
        import sys, types
        from envs.errors import UserError

        def start_ray(*args):
            from google.protobuf.internal import api_implementation
            raise UserError(f"start_ray reached: protobuf {api_implementation.Type()}, ray "
                            f"{'loaded' if 'ray' in sys.modules else 'not loaded'}")

        sys.modules["agent.rllib.ray_session"] = types.SimpleNamespace(start_ray=start_ray,
                                                                     stop_requested=lambda: False)
        """,
        ["train", str(CONFIG), "--set", "env.backend=pysc2", "--run-dir", str(tmp_path / "run")], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == "perceiver-sc2 train: error: start_ray reached: protobuf python, ray loaded"


def test_pysc2_backend_settings_the_game_cannot_honour_fail_fast():
    from envs.errors import UserError

    with pytest.raises(UserError, match="'env.enemy_bot'"):
        load_config(CONFIG, ["env.backend=pysc2", "env.enemy_bot=focus_fire"])
    cfg = load_config(ROOT / "configs" / "DefeatRoaches.yaml", ["env.backend=pysc2"])
    assert cfg.env.backend == "pysc2" and cfg.ppo.damage_reward == 0.05  # the game reports damage too


class KthStepTestEnv(BeaconTestEnv):
    """BeaconTestEnv whose observation k steps after a reset shows, in its `fields`, what `fill(builder, k)`
    sets in pysc2's dummy observation builder."""

    fields: tuple[str, ...] = ()

    def fill(self, builder, k: int) -> None:
        raise NotImplementedError

    def edit(self, response, k: int) -> None:
        """What the builder cannot set, written into its built observation (a ResponseObservation)."""

    def step(self, actions, step_mul=None):
        timestep = super().step(actions, step_mul)[0]
        self._k = 0 if timestep.first() else getattr(self, "_k", 0) + 1
        builder = dummy_observation.Builder(self.observation_spec()[0])
        self.fill(builder, self._k)
        response = builder.score(SCORE).game_loop(8).build()
        self.edit(response, self._k)
        built = self._features[0].transform_obs(response)
        return [timestep._replace(observation={**timestep.observation, **{f: built[f] for f in self.fields}})]


class DamageTestEnv(KthStepTestEnv):
    """10k hit points and 3k shields of damage dealt after k steps."""

    fields = ("score_by_vital",)

    def fill(self, builder, k):
        builder.score_by_vital("total_damage_dealt", life=10 * k, shields=3 * k, energy=99)


class IdleTestEnv(KthStepTestEnv):
    """k idle workers in the player vector after k steps."""

    fields = ("player",)

    def fill(self, builder, k):
        builder.player_common(idle_worker_count=k)


class BankedTestEnv(KthStepTestEnv):
    """5k minerals and 4k gas in the bank after k steps."""

    fields = ("player",)

    def fill(self, builder, k):
        builder.player_common(minerals=5 * k, vespene=4 * k)


class BoughtTestEnv(KthStepTestEnv):
    """k + 1 own Marines after k steps, beside a Command Center, a Supply Depot half built and a Barracks
    training two Marines; k + 6 of the Command Center's 15 supply used (the Marines, the two queued and
    three SCVs not shown)."""

    fields = ("raw_units", "player")

    def fill(self, builder, k):
        unit, at = dummy_observation.FeatureUnit, common_pb2.Point(x=30.0, y=28.0, z=0)
        marines = [unit(MARINE, SELF, owner=1, pos=at, radius=0.375, health=45, health_max=45,
                        is_on_screen=True) for _ in range(k + 1)]
        depot = unit(SUPPLY_DEPOT, SELF, owner=1, pos=at, radius=1.375, health=200, health_max=400,
                     build_progress=0.5, is_on_screen=True)
        base = unit(COMMAND_CENTER, SELF, owner=1, pos=at, radius=2.75, health=1500, health_max=1500,
                    is_on_screen=True)
        barracks = unit(BARRACKS, SELF, owner=1, pos=at, radius=1.8125, health=1000, health_max=1000,
                        is_on_screen=True)
        builder.feature_units([base] + marines + [depot, barracks])
        builder.player_common(food_used=k + 6, food_cap=15)

    def edit(self, response, k):
        for _ in range(2):
            response.observation.raw_data.units[-1].orders.add(ability_id=TRAIN_MARINE_ABILITY)


def _shaped_rewards(test_env, steps: int, **shaping) -> np.ndarray:
    """[steps, 2] training rewards of two pysc2 games of `test_env` whose units do nothing."""
    ctx = {"map_name": "MoveToBeacon", "backend": "pysc2", "num_envs": 2, "step_mul": 8, **shaping}
    env = make_train_env(ctx, sc2_env_cls=test_env)
    env.reset(seed=0)
    actions = np.zeros(env.action_space.shape, dtype=np.int64)
    rewards = np.array([env.step(actions)[1] for _ in range(steps)])
    env.close()
    return rewards


def test_the_damage_reward_on_pysc2_reads_the_games_score_by_vital():
    rewards = _shaped_rewards(DamageTestEnv, EPISODE_STEPS + 1, damage_reward=0.05)
    # 13 hit points and shields a step (energy is not damage), 0.05 each, beside the map's reward of 1;
    # after its last step a game restarts and that step pays nothing
    np.testing.assert_allclose(rewards[:EPISODE_STEPS - 1], REWARD + 13 * 0.05, rtol=1e-6)
    np.testing.assert_allclose(rewards[EPISODE_STEPS], 0.0)


# The economy rewards pay these counters' change (their price per map: tests/test_return_scale.py).
# BankedTestEnv: 5 minerals and 4 gas a step since the reset, from the player vector; BoughtTestEnv: 50
# minerals a Marine from the raw units, the two in the Barracks' queue among them (paid, not yet
# trained), the price of the first Command Center (400) and Barracks (150), and from the second step that
# of the half-built Supply Depot (100), once the supply used (8 of 15) comes within the 8 it adds.
@pytest.mark.parametrize("test_env, counter, expected", [
    (BankedTestEnv, "resources_banked", [9, 18, 27]),
    (BoughtTestEnv, "value_bought", [750, 900, 950]),
])
def test_the_economy_counters_on_pysc2_read_the_games_observation(test_env, counter, expected):
    env = make_train_env({"map_name": "MoveToBeacon", "backend": "pysc2", "num_envs": 2, "step_mul": 8},
                         sc2_env_cls=test_env)
    env.reset(seed=0)
    actions = np.zeros(env.action_space.shape, dtype=np.int64)
    counts = []
    for _ in range(3):
        env.step(actions)
        counts.append(getattr(env, counter))
    env.close()
    np.testing.assert_array_equal(counts, [[n, n] for n in expected])


def test_the_idle_worker_penalty_on_pysc2_reads_the_games_player_vector():
    rewards = _shaped_rewards(IdleTestEnv, EPISODE_STEPS - 1, idle_worker_penalty=0.5)
    # step k shows k idle workers: 0.5 each per game second (16 game loops), a step being 8 loops
    expected = REWARD - 0.5 * 8 / 16 * np.arange(1, EPISODE_STEPS)
    np.testing.assert_allclose(rewards, np.stack([expected, expected], axis=1), rtol=1e-6)
