"""featurize and translate on hand-built raw observations: slots, padding, masks, commands."""

import numpy as np
import pytest

from envs.action_space import Verb
from envs.featurize import ENTITY_FEATURES, OTHER_UNIT_TYPE, EntitySpec, featurize
from envs.raw_schema import RawFunction
from envs.translate import Translator
from tests.raw_units import BEACON, MARINE, ROACH, raw_obs, unit

F = {name: i for i, name in enumerate(ENTITY_FEATURES)}


def spec(N=16, U=4, grid=4):
    return EntitySpec(max_entities=N, max_units=U, grid_size=grid, playable=(22, 20, 44, 36),
                      time_limit_loops=1920)


def battle():
    # Two Marines (tags out of order), three Roaches at different distances, one beacon.
    return raw_obs([
        unit(ROACH, 4, 40.0, 28.0, tag=900),
        unit(MARINE, 1, 25.0, 28.0, tag=502, health=30),
        unit(BEACON, 3, 30.0, 22.0, tag=700),
        unit(ROACH, 4, 30.0, 28.0, tag=901),
        unit(MARINE, 1, 24.0, 27.0, tag=501),
        unit(ROACH, 4, 35.0, 28.0, tag=902),
    ])


def test_slots_own_by_tag_then_enemies_nearest_then_neutrals():
    obs, slots = featurize(battle(), spec())
    assert slots.tags[:6].tolist() == [501, 502, 0, 0, 901, 902]
    assert slots.tags[6:8].tolist() == [900, 700]
    assert obs["entity_mask"].tolist() == [1, 1, 0, 0] + [1] * 4 + [0] * 8
    assert obs["entities"][1, F["health_ratio"]] == pytest.approx(int(255 * 30 / 45) / 255)
    assert obs["entities"][4, F["is_enemy"]] == 1 and obs["entities"][7, F["is_neutral"]] == 1
    assert slots.num_dropped == 0


def test_padding_does_not_change_real_entities():
    small, s_slots = featurize(battle(), spec(N=32))
    large, l_slots = featurize(battle(), spec(N=128))
    real = small["entity_mask"] == 1
    np.testing.assert_array_equal(small["entities"][real], large["entities"][:32][real])
    np.testing.assert_array_equal(small["unit_type"], large["unit_type"][:32])
    np.testing.assert_array_equal(s_slots.tags, l_slots.tags[:32])
    assert large["entity_mask"][32:].sum() == 0


def test_overflow_keeps_nearest_enemies_and_counts_the_rest():
    obs, slots = featurize(battle(), spec(N=6, U=4))
    assert slots.tags.tolist() == [501, 502, 0, 0, 901, 902]
    assert slots.num_dropped == 2
    assert obs["scalars"][3] == pytest.approx(2 / 6)


def test_unknown_unit_type_goes_to_other_bucket():
    raw = raw_obs([unit(MARINE, 1, 25, 28, tag=501), unit(99999, 4, 30, 28, tag=600),
                   unit(1234, 4, 31, 28, tag=601)])
    obs, _ = featurize(raw, spec())
    assert obs["unit_type"][4] == OTHER_UNIT_TYPE and obs["unit_type"][5] == OTHER_UNIT_TYPE


def test_action_mask():
    s = spec()
    obs, _ = featurize(battle(), s)
    mask, layout = obs["action_mask"], s.layout
    assert mask[2].tolist() == [1] + [0] * (layout.num_actions - 1)  # absent unit: only no-op
    attack = layout.segment(Verb.ATTACK_ENTITY)
    assert np.flatnonzero(mask[0, attack.start : attack.start + attack.size]).tolist() == [4, 5, 6]
    move = layout.segment(Verb.MOVE_ENTITY)
    assert np.flatnonzero(mask[0, move.start : move.start + move.size]).tolist() == [1, 4, 5, 6, 7]
    assert mask[0, layout.segment(Verb.ATTACK_POINT).start :].all()


def test_translate_groups_targets_and_flips_points():
    s = spec()
    obs, slots = featurize(battle(), s)
    layout = s.layout
    translate = Translator(s)
    actions = np.array([layout.encode(Verb.ATTACK_ENTITY, 4), layout.encode(Verb.ATTACK_ENTITY, 4), 0, 0])
    commands, illegal = translate(actions, obs["action_mask"], slots)
    assert illegal == 0
    assert commands == [(RawFunction.Attack_unit, False, (501, 502), 901)]

    actions = np.array([layout.encode(Verb.MOVE_POINT, 0), layout.encode(Verb.STOP), 0, 0])
    commands, _ = translate(actions, obs["action_mask"], slots)
    stop, move = sorted(commands, key=lambda c: c.function, reverse=True)
    assert stop == (RawFunction.Stop_quick, False, (502,), None)
    # Cell 0 is the lowest-x, lowest-y cell of the playable area: world (24.75, 22.0) -> pixel y 64-22.
    assert move.function == RawFunction.Move_pt and move.unit_tags == (501,)
    assert move.target == pytest.approx((22 + 22 / 8, 64 - (20 + 16 / 8)))


def test_translate_drops_masked_and_out_of_range_actions():
    s = spec()
    obs, slots = featurize(battle(), s)
    layout = s.layout
    actions = np.array([
        layout.encode(Verb.ATTACK_ENTITY, 7),  # the beacon is not an enemy
        layout.encode(Verb.MOVE_ENTITY, 1),  # a unit may not move to itself
        layout.encode(Verb.STOP),  # slot 2 holds no unit
        layout.num_actions + 5,
    ])
    commands, illegal = Translator(s)(actions, obs["action_mask"], slots)
    assert commands == [] and illegal == 4


def test_translate_chunks_by_max_selected_units():
    marines = [unit(MARINE, 1, 23 + i % 10, 21 + i // 10, tag=1000 + i) for i in range(35)]
    s = spec(N=40, U=35)
    obs, slots = featurize(raw_obs(marines + [unit(ROACH, 4, 40, 30, tag=5)]), s)
    actions = np.full(35, s.layout.encode(Verb.ATTACK_ENTITY, 35))
    commands, _ = Translator(s)(actions, obs["action_mask"], slots)
    assert [len(c.unit_tags) for c in commands] == [30, 5]
    assert all(c.target == 5 for c in commands)
    assert sorted(t for c in commands for t in c.unit_tags) == list(range(1000, 1035))


def test_tags_follow_units_recreated_with_new_tags():
    s = spec()
    translate = Translator(s)
    first, slots = featurize(battle(), s)
    # A new wave: the map re-creates the Marines under new tags, Roaches too.
    wave = raw_obs([unit(MARINE, 1, 25, 28, tag=801), unit(MARINE, 1, 24, 27, tag=800),
                    unit(ROACH, 4, 38, 28, tag=950)])
    second, slots = featurize(wave, s)
    action = s.layout.encode(Verb.ATTACK_ENTITY, 4)
    commands, _ = translate(np.array([action, action, 0, 0]), second["action_mask"], slots)
    assert commands == [(RawFunction.Attack_unit, False, (800, 801), 950)]


def test_no_units_at_all():
    obs, slots = featurize(raw_obs([]), spec())
    assert obs["entity_mask"].sum() == 0 and slots.num_dropped == 0
    assert obs["action_mask"][:, 0].all() and obs["action_mask"][:, 1:].sum() == 0


def test_translate_refuses_a_wrong_number_of_actions():
    s = spec()
    obs, slots = featurize(battle(), s)
    with pytest.raises(ValueError, match="expected 4 actions"):
        Translator(s)(np.zeros(3, np.int64), obs["action_mask"], slots)
