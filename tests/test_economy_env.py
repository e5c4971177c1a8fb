"""The entity env's economy verbs: combat maps unchanged, the economy layout, masks the engine agrees with,
gymnasium's checks, and masked random and scripted play on CollectMineralsAndGas and BuildMarines."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the env ids)
from agent.evaluation.economy_agent import economy_agent
from agent.model.policy import EntityPolicy
from agent.training.build import env_kwargs, policy_kwargs
from agent.training.config import load_config
from envs.action_space import COMBAT_VERBS, ECONOMY_VERBS, ActionLayout, Target, Verb
from envs.engine import ECONOMY_MAP_NAMES, MAP_NAMES, BatchedEngine
from envs.engine.state import MINERALS
from envs.entity_env import entity_spec
from envs.featurize import featurize
from envs.raw_schema import FeatureUnit as FU
from envs.raw_schema import OrderId, Player
from envs.translate import Translator

ROOT = Path(__file__).resolve().parent.parent
# Written by tests/fixtures/combat_shapes.py from the commit whose checkpoints must keep loading.
COMBAT_SHAPES = json.loads((ROOT / "tests" / "fixtures" / "combat_shapes.json").read_text())
SCV, COMMAND_CENTER, SUPPLY_DEPOT = 45, 18, 19


@pytest.mark.parametrize("map_name", MAP_NAMES)
def test_combat_maps_keep_their_spaces_and_parameter_shapes(map_name):
    frozen = COMBAT_SHAPES["maps"][map_name]
    cfg = load_config(ROOT / "configs" / f"{map_name}.yaml")
    env = gym.make(f"perceiver_sc2/{map_name}-v0", **env_kwargs(cfg)).unwrapped
    assert {k: list(s.shape) for k, s in env.observation_space.spaces.items()} == frozen["observation"]
    assert env.action_space.nvec.tolist() == frozen["action_nvec"]
    kwargs = policy_kwargs(cfg)
    assert {k: kwargs[k] for k in frozen["policy_kwargs"]} == frozen["policy_kwargs"]
    assert kwargs["economy"] is False
    # the frozen kwargs (a checkpoint's) build the same network as today's
    shapes = [{k: list(v.shape) for k, v in EntityPolicy(**args).state_dict().items()}
              for args in (frozen["policy_kwargs"], kwargs)]
    assert shapes[0] == shapes[1] == frozen["parameters"]


def test_the_economy_layout_appends_its_verbs_to_the_combat_layout():
    combat = ActionLayout(max_entities=10, grid_size=3)
    economy = ActionLayout(max_entities=10, grid_size=3, economy=True)
    assert economy.segments[: len(COMBAT_VERBS)] == combat.segments
    sizes = {Target.NONE: 1, Target.ENTITY: 10, Target.POINT: 9}
    tail = economy.segments[len(COMBAT_VERBS):]
    assert [s.verb for s in tail] == list(ECONOMY_VERBS)
    assert economy.num_actions == combat.num_actions + sum(sizes[s.target] for s in tail)
    assert economy.decode(economy.encode(Verb.BUILD_BARRACKS, 4)) == (Verb.BUILD_BARRACKS, 4)
    with pytest.raises(ValueError, match="economy verb"):
        combat.encode(Verb.GATHER, 0)


@pytest.mark.parametrize("map_name", ECONOMY_MAP_NAMES)
def test_economy_maps_pass_gymnasiums_env_checker(map_name):
    env = gym.make(f"perceiver_sc2/{map_name}-v0")
    check_env(env.unwrapped, skip_render_check=True)
    spec = env.unwrapped.entity_spec
    assert spec.economy and env.unwrapped.layout.economy
    allowed = {Verb.BUILD_REFINERY, Verb.BUILD_COMMAND_CENTER} <= set(spec.economy_verbs)
    assert allowed == (map_name == "CollectMineralsAndGas")  # BuildMarines allows neither


def _slots(obs, env, type_id):
    return [s for s in range(env.entity_spec.max_units)
            if obs["entity_mask"][s] and env.last_raw.raw_units[
                list(env.last_raw.raw_units[:, 29]).index(env.slot_tags[s]), 0] == type_id]


def test_the_start_of_collect_minerals_and_gas_masks_what_the_game_refuses():
    env = gym.make("perceiver_sc2/CollectMineralsAndGas-v0").unwrapped
    obs, _ = env.reset(seed=3)
    layout, mask = env.layout, obs["action_mask"]
    scv, cc = _slots(obs, env, SCV)[0], _slots(obs, env, COMMAND_CENTER)[0]
    fields = np.flatnonzero(obs["entity_mask"] & (env.last_raw.raw_units[
        [list(env.last_raw.raw_units[:, 29]).index(t) if t else 0 for t in env.slot_tags], 0] == 341))
    assert len(fields) == 16
    gather = layout.segment(Verb.GATHER)
    assert set(np.flatnonzero(mask[scv, gather.start:gather.start + gather.size])) == set(fields)
    # 50 minerals: no structure is affordable, nothing to return; the Command Center only trains
    for verb in (Verb.RETURN, Verb.BUILD_SUPPLY_DEPOT, Verb.BUILD_REFINERY, Verb.BUILD_COMMAND_CENTER):
        seg = layout.segment(verb)
        assert not mask[scv, seg.start:seg.start + seg.size].any(), verb
    assert np.flatnonzero(mask[cc]).tolist() == [0, layout.encode(Verb.TRAIN_SCV)]
    assert not mask[scv, layout.encode(Verb.TRAIN_SCV)]


@pytest.mark.parametrize("map_name", ECONOMY_MAP_NAMES)
def test_build_cells_are_legal_exactly_where_the_engine_accepts_the_build(map_name):
    """With minerals to spare, every cell build the mask allows the engine accepts, and every one it
    forbids the engine refuses (the footprint and the Barracks' Supply Depot rule)."""
    spec = entity_spec(map_name)
    engine = BatchedEngine(map_name, 1, [0])
    raw = engine.reset()[0].copy()
    raw.player[Player.minerals] = 1000
    engine.state.game[0, MINERALS] = 1000
    obs, slots = featurize(raw, spec)
    scv = next(s for s in range(spec.max_units) if raw.raw_units[list(raw.raw_units[:, 29]).index(
        slots.tags[s]), 0] == SCV)
    function, _, point, _ = Translator(spec).kernel_tables()
    segments = [spec.layout.segment(v) for v in (Verb.BUILD_SUPPLY_DEPOT, Verb.BUILD_BARRACKS,
                                                   Verb.BUILD_COMMAND_CENTER) if v in spec.economy_verbs]
    actions = [a for seg in segments for a in range(seg.start, seg.start + seg.size)]
    k = len(actions)
    results = engine.step_grouped(np.zeros(k, np.int64), function[actions], np.zeros(k, np.int64),
                                  np.zeros(k, np.int64), np.ones(k, np.int64), np.array([slots.tags[scv]]),
                                  np.zeros(k, np.int64), point[actions, 0], point[actions, 1])
    legal = obs["action_mask"][scv, actions].astype(bool)
    assert 0 < legal.sum() < k
    assert ((results == 0) == legal).all()


@pytest.mark.parametrize("map_name", ECONOMY_MAP_NAMES)
def test_masked_random_play_runs_a_thousand_steps_without_a_refused_command(map_name):
    env = gym.make(f"perceiver_sc2/{map_name}-v0").unwrapped
    obs, _ = env.reset(seed=1)
    rng = np.random.default_rng(1)
    chosen, ended = set(), 0
    for _ in range(1000):
        actions = np.array([rng.choice(np.flatnonzero(row)) for row in obs["action_mask"]])
        chosen |= {env.layout.decode(int(a))[0] for a in actions}
        obs, _, terminated, truncated, info = env.step(actions)
        assert info["illegal_actions"] == 0 and info["rejected_commands"] == 0, env.last_raw.action_results
        if terminated or truncated:
            obs, _ = env.reset()
            ended += 1
    assert ended == (1 if map_name == "CollectMineralsAndGas" else 0)  # 840 and 1800 steps a game
    assert {Verb.GATHER, Verb.TRAIN_SCV} <= chosen
    assert (Verb.MOVE_POINT in chosen) == (map_name != "BuildMarines")  # it removes the unit commands


@pytest.mark.parametrize(("map_name", "steps"), [("CollectMineralsAndGas", 400), ("BuildMarines", 700)])
def test_the_scripted_player_harvests_builds_and_trains_through_the_verbs(map_name, steps):
    env = gym.make(f"perceiver_sc2/{map_name}-v0").unwrapped
    obs, _ = env.reset(seed=0)
    agent = economy_agent(map_name, env.entity_spec, env)
    verbs, rejected = set(), 0
    for _ in range(steps):
        actions = agent.act(obs)
        verbs |= {env.layout.decode(int(a))[0] for a in actions}
        obs, _, _, _, info = env.step(actions)
        rejected += info["rejected_commands"] + info["withheld_actions"]
    own = env.last_raw.raw_units[env.last_raw.raw_units[:, 1] == 1, 0].tolist()
    assert {Verb.GATHER, Verb.TRAIN_SCV, Verb.BUILD_SUPPLY_DEPOT} <= verbs
    assert own.count(SCV) > 12 and 19 in own  # SCVs trained, a Supply Depot built
    if map_name == "BuildMarines":
        assert info["score"] >= 1 and 21 in own  # a Barracks, and Marines from it
    else:
        assert info["score"] > 1000 and {Verb.BUILD_REFINERY, Verb.BUILD_COMMAND_CENTER} <= verbs
    assert rejected <= steps // 50  # what the mask cannot see: minerals or supply spent twice in a step


def _depots(env):
    units = env.last_raw.raw_units
    return units[(units[:, FU.unit_type] == SUPPLY_DEPOT) & (units[:, FU.alliance] == 1), FU.build_progress]


def _build_a_depot(env, obs):
    """Send the workers to mine, then one of them to build a Supply Depot once it is affordable; yields
    (observation, builder slot or None) after each step until the depot is finished."""
    gather, depot = env.layout.segment(Verb.GATHER), env.layout.segment(Verb.BUILD_SUPPLY_DEPOT)
    builder = None
    for step in range(400):
        mask = obs["action_mask"]
        actions = np.zeros(len(mask), np.int64)  # the Command Center trains nothing: no SCV adds value
        if step == 0:
            gathers = mask[:, gather.start:gather.start + gather.size]
            actions = np.where(gathers.any(-1), gather.start + gathers.argmax(-1), 0)
        cells = mask[:, depot.start:depot.start + depot.size]
        if builder is None and cells.any():
            builder = int(np.flatnonzero(cells.any(-1))[0])
            actions[builder] = depot.start + cells[builder].argmax()
        obs, _, _, _, _ = env.step(actions)
        yield obs, builder
        if len(_depots(env)) and _depots(env)[0] == 100:
            return
    raise AssertionError("no Supply Depot finished in 400 steps")


def test_a_structure_that_trains_nothing_is_observed_but_takes_no_action_slot():
    """A Supply Depot has no verb: it sits among the entities after the action slots, which keep the
    SCVs and the Command Center (it trains), built or building alike."""
    env = gym.make("perceiver_sc2/BuildMarines-v0").unwrapped
    start, _ = env.reset(seed=0)
    U = env.entity_spec.max_units
    seen_building = False
    for obs, _ in _build_a_depot(env, start):
        raw = env.last_raw.raw_units
        depots = raw[(raw[:, FU.unit_type] == SUPPLY_DEPOT) & (raw[:, FU.alliance] == 1), FU.tag]
        if not len(depots):
            continue
        seen_building |= bool(_depots(env)[0] < 100)
        slot = list(env.slot_tags).index(depots[0])
        assert slot >= U and obs["entity_mask"][slot]  # observed; action rows are the first U slots only
        acting = {int(t) for t in env.slot_tags[:U] if t}
        own = raw[(raw[:, FU.alliance] == 1) & (raw[:, FU.unit_type] != SUPPLY_DEPOT), FU.tag]
        assert acting == {int(t) for t in own}  # every SCV and the Command Center
    assert seen_building


def test_build_marines_masks_the_unit_commands_and_its_marines_take_no_action_slot():
    """BuildMarines allows no move, attack or stop (pysc2 docs/mini_games.md), so a Marine has no verb:
    it is observed after the action slots, and no unit may choose a combat verb but no-op; on
    CollectMineralsAndGas an SCV may still move."""
    env = gym.make("perceiver_sc2/BuildMarines-v0").unwrapped
    obs, _ = env.reset(seed=0)
    agent = economy_agent("BuildMarines", env.entity_spec, env)
    U, combat_end = env.entity_spec.max_units, env.layout.segment(Verb.GATHER).start
    for _ in range(700):
        assert not obs["action_mask"][:, 1:combat_end].any()
        assert obs["action_mask"][:, combat_end:].any()  # the SCVs' and Command Center's verbs
        obs, _, _, _, info = env.step(agent.act(obs))
        raw = env.last_raw.raw_units
        marines = {int(t) for t in raw[(raw[:, FU.unit_type] == 48) & (raw[:, FU.alliance] == 1), FU.tag]}
        if marines:
            break
    assert marines and info["rejected_commands"] == 0
    assert not marines & {int(t) for t in env.slot_tags[:U]}
    assert marines <= {int(t) for t in env.slot_tags[U:]}
    gas = gym.make("perceiver_sc2/CollectMineralsAndGas-v0").unwrapped
    obs, _ = gas.reset(seed=0)
    move = gas.layout.segment(Verb.MOVE_POINT)
    assert obs["action_mask"][:, move.start:move.start + move.size].any()


def test_value_bought_counts_a_structure_from_when_its_worker_pays_alike_on_both_paths():
    """The production reward's counter: the first Supply Depot (100 minerals, 480 game loops) adds nothing
    while its worker walks and its price from the step the worker begins it (the game takes the minerals
    then), the workers nothing at all; the engine path's compiled count equals the count read from the
    raw observation, as the pysc2 path reads it."""
    from envs.entity_env import value_bought

    env = gym.make("perceiver_sc2/BuildMarines-v0").unwrapped
    obs, _ = env.reset(seed=0)
    start = 400  # the first Command Center (BurnySc2/sc2-techtree data.json); its 12 SCVs are workers
    assert env.value_bought == value_bought(env.last_raw) == start
    walking_steps = building_steps = 0
    for _, builder in _build_a_depot(env, obs):
        assert env.value_bought == value_bought(env.last_raw)
        if not len(_depots(env)):
            walking_steps += builder is not None  # ordered, not yet begun: nothing paid
            assert env.value_bought == start
        elif _depots(env)[0] < 100:
            building_steps += 1
            assert env.value_bought == start + 100
    assert walking_steps >= 1 and building_steps >= 480 // 8 - 1  # the build: steps of 8 game loops
    assert env.value_bought == start + 100


def test_value_bought_counts_each_unit_queued_and_each_depot_it_fills_alike_on_both_paths():
    """Marines count their price from the step they are queued (the game takes the minerals and the
    supply then), a second Barracks nothing, and a Supply Depot its price once the supply in use comes
    within 8 of its own: 15 SCVs use 15 of 31 (the Command Center's 15 and two depots' 16), so one depot
    counts; three Marines queued bring the use to 18, within 8 of the second depot's supply, which then
    counts too. On the engine's compiled count and on the raw observation's."""
    from envs.engine.economy_data import COST, MARINE, SUPPLY_DEPOT
    from envs.engine_bridge import _values_bought
    from envs.entity_env import value_bought
    from envs.raw_schema import RawCommand
    from envs.raw_schema import RawFunction as RF
    from tests.test_economy import economy, tags

    eng, obs = economy(scvs=15, minerals=150, extra=(("SupplyDepot", 34.0, 34.0), ("SupplyDepot", 38.0, 34.0),
                                                     ("Barracks", 36.5, 23.5), ("Barracks", 36.5, 19.5)))
    structures = 400 + 150  # the first Command Center and Barracks
    assert (obs.player[Player.food_used], obs.player[Player.food_cap]) == (15, 31)
    assert value_bought(obs) == _values_bought(eng._batch.state)[0] == structures + COST[SUPPLY_DEPOT]
    obs = eng.step([RawCommand(RF.Train_Marine_quick, True, tuple(tags(obs, 21)[:1]))] * 3)
    assert int(obs.player[Player.minerals]) == 0  # three queued, paid for, none trained yet
    assert obs.player[Player.food_used] == 18
    assert value_bought(obs) == _values_bought(eng._batch.state)[0] == \
        structures + 3 * COST[MARINE] + 2 * COST[SUPPLY_DEPOT]


def test_depots_past_the_supply_ceiling_count_alike_on_both_paths():
    """30 finished Supply Depots and a Command Center provide 255 supply, shown as the ceiling of 200; 12
    SCVs use 12 of it, so one depot counts, on the engine's compiled count and on the raw observation's."""
    from envs.engine.economy_data import COST, SUPPLY_DEPOT
    from envs.engine_bridge import _values_bought
    from envs.entity_env import value_bought
    from tests.test_economy import economy

    depots = tuple(("SupplyDepot", 14.0 + 2 * (i % 10), 36.0 + 2 * (i // 10)) for i in range(30))
    eng, obs = economy(scvs=12, extra=depots)
    assert (obs.player[Player.food_used], obs.player[Player.food_cap]) == (12, 200)
    assert value_bought(obs) == _values_bought(eng._batch.state)[0] == 400 + COST[SUPPLY_DEPOT]


@pytest.mark.parametrize("depots, used, other_cap, paid", [
    (1, 12, 15, 1),  # BuildMarines' start: 12 of 15 used, a first depot is needed at once
    (1, 7, 15, 0),  # 8 left without it: not yet
    (3, 23, 15, 2),  # 23 of 39: the third depot's supply is 16 away
    (3, 24, 15, 3),  # within 8
    (2, 40, 15, 2),  # supply-blocked: only the depots there count
    (0, 14, 15, 0),
    (56, 12, 15, 1),  # depots nobody will use: the one needed
    (30, 200, 15, 24),  # at the ceiling of 200: the 24 depots that reach it from the Command Center's 15
])
def test_a_supply_depot_counts_once_the_supply_in_use_comes_within_one_depot_of_it(depots, used, other_cap,
                                                                                    paid):
    from envs.engine_bridge import depots_worth_paying

    assert depots_worth_paying(depots, used, other_cap) == paid


def test_a_builder_may_only_keep_at_its_structure_until_it_is_finished():
    """From its build order to the finished Supply Depot (walking there, then building), the builder's one
    legal action is no-op; then it may mine again."""
    env = gym.make("perceiver_sc2/BuildMarines-v0").unwrapped
    obs, _ = env.reset(seed=0)
    gather = env.layout.segment(Verb.GATHER)
    kept_at_it = 0
    for seen, builder in _build_a_depot(env, obs):
        if builder is not None and (not len(_depots(env)) or _depots(env)[0] < 100):
            assert np.flatnonzero(seen["action_mask"][builder]).tolist() == [0]
            kept_at_it += 1
    assert kept_at_it >= 480 // 8 - 1
    assert seen["action_mask"][builder, gather.start:gather.start + gather.size].any()


def test_a_supply_depot_is_offered_only_below_two_depots_of_free_supply():
    """A player that builds a Supply Depot whenever one is offered and mines with every idle worker: the
    depot is offered exactly while it is affordable and the free supply, counting the depots under way
    (begun, or ordered and not begun), is under 16; so it never holds more than 23 in hand, and is held
    back with 100 minerals to spend and a worker free to build once two are under way."""
    from envs.economy_kernels import spendable_minerals

    env = gym.make("perceiver_sc2/BuildMarines-v0").unwrapped
    obs, _ = env.reset(seed=0)
    gather, depot = env.layout.segment(Verb.GATHER), env.layout.segment(Verb.BUILD_SUPPLY_DEPOT)
    held_back = built = 0
    for _ in range(900):
        raw, mask = env.last_raw, obs["action_mask"]
        units = raw.raw_units[(raw.raw_units[:, FU.alliance] == 1)]
        depots, orders = units[:, FU.unit_type] == SUPPLY_DEPOT, units[:, FU.order_id_0]
        unfinished = int((depots & (units[:, FU.build_progress] < 100)).sum())
        ordered = int(((units[:, FU.order_length] > 0) & (orders == OrderId.Build_SupplyDepot)).sum())
        headroom = raw.player[Player.food_cap] + 8 * max(unfinished, ordered) - raw.player[Player.food_used]
        affordable = spendable_minerals(raw.raw_units, len(raw.raw_units), raw.player) >= 100
        assert headroom < 24
        cells = mask[:, depot.start:depot.start + depot.size]
        assert cells.any() == (affordable and headroom < 16)
        held_back += affordable and headroom >= 16
        actions = np.zeros(len(mask), np.int64)
        for slot in range(env.entity_spec.max_units):
            row = np.flatnonzero(raw.raw_units[:, FU.tag] == env.slot_tags[slot])
            gathers = mask[slot, gather.start:gather.start + gather.size]
            if len(row) and raw.raw_units[row[0], FU.order_length] == 0 and gathers.any():
                actions[slot] = gather.start + gathers.argmax()
        if cells.any():
            builder = int(np.flatnonzero(cells.any(-1))[0])
            actions[builder] = depot.start + cells[builder].argmax()
            built += 1
        obs, *_ = env.step(actions)
    assert held_back > 0 and built == 2  # 12 of 15 used: depots at 3 and 11 free, none at 19


def test_minerals_are_spent_once_in_a_step_and_while_a_builder_walks():
    """One worker a step may build: the first SCV in slot order. A Supply Depot and an SCV ordered on
    under 150 minerals: the first in slot order is sent, the other keeps its order (withheld, and
    counted), on both paths. While the builder walks to its site its 100 minerals are spoken for: the mask
    lets no one spend them, and once the depot is placed (and paid) they are not counted twice."""
    from envs.economy_kernels import spendable_minerals

    env = gym.make("perceiver_sc2/BuildMarines-v0").unwrapped
    obs, _ = env.reset(seed=0)
    depot, train = env.layout.segment(Verb.BUILD_SUPPLY_DEPOT), env.layout.encode(Verb.TRAIN_SCV)
    noop = np.zeros(env.entity_spec.max_units, np.int64)
    while env.last_raw.player[Player.minerals] < 100:
        obs, *_ = env.step(noop)
    assert env.last_raw.player[Player.minerals] < 150
    scvs = sorted(_slots(obs, env, SCV))
    cells = obs["action_mask"][:, depot.start:depot.start + depot.size]
    assert np.flatnonzero(cells.any(-1)).tolist() == [scvs[0]]  # the one builder
    cc = _slots(obs, env, COMMAND_CENTER)[0]
    actions = noop.copy()
    actions[scvs[0]], actions[cc] = depot.start + np.flatnonzero(cells[scvs[0]])[0], train
    first, second = sorted((scvs[0], cc))
    sent, withheld = Translator(env.entity_spec).affordable(actions, env.last_raw)  # the pysc2 path's
    assert withheld == 1 and sent[first] == actions[first] and sent[second] == 0
    obs, _, _, _, info = env.step(actions)
    assert info["withheld_actions"] == 1 and info["rejected_commands"] == 0 and info["illegal_actions"] == 0
    while not obs["action_mask"][:, depot.start:depot.start + depot.size].any():
        obs, *_ = env.step(noop)
    cells = obs["action_mask"][:, depot.start:depot.start + depot.size]
    builder = int(np.flatnonzero(cells.any(-1))[0])
    actions = noop.copy()
    actions[builder] = depot.start + np.flatnonzero(cells[builder])[0]
    obs, *_ = env.step(actions)
    row = list(env.last_raw.raw_units[:, FU.tag]).index(env.slot_tags[builder])
    assert env.last_raw.raw_units[row, FU.order_id_0] == OrderId.Build_SupplyDepot
    walked = 0
    while not len(_depots(env)):
        raw = env.last_raw
        spendable = spendable_minerals(raw.raw_units, len(raw.raw_units), raw.player)
        assert spendable == raw.player[Player.minerals] - 100
        cells = obs["action_mask"][:, depot.start:depot.start + depot.size]
        assert cells.any() == (spendable >= 100)
        cc = _slots(obs, env, COMMAND_CENTER)[0]
        assert obs["action_mask"][cc, env.layout.encode(Verb.TRAIN_SCV)] == (spendable >= 50)
        obs, *_ = env.step(noop)
        walked += 1
    assert walked >= 1
    raw = env.last_raw
    assert spendable_minerals(raw.raw_units, len(raw.raw_units), raw.player) == raw.player[Player.minerals]
