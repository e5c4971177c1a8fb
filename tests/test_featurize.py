"""featurize and translate on hand-built raw observations: slots, padding, masks, commands."""

import numpy as np
import pytest

from envs.action_space import COMBAT_VERBS, Verb
from envs.featurize import ENTITY_FEATURES, OTHER_UNIT_TYPE, EntitySpec, featurize, new_memory
from envs.raw_schema import FeatureUnit as FU
from envs.raw_schema import RawFunction
from envs.translate import Translator
from envs.unit_memory import QUEUE_LIMIT
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


@pytest.mark.parametrize("order_id, move, attack", [
    (2, 0, 1), (4, 0, 1), (10, 0, 1),  # Attack (generic), Attack_Attack (what the game reports), Scan_Move
    (13, 1, 0), (547, 1, 0), (1, 1, 0),  # Move (generic), Move_Move (the game's), Smart
    (17, 0, 0), (543, 0, 0), (0, 0, 0), (99999, 0, 0),  # hold positions, none, an id beyond any table
])
def test_order_features_read_generic_and_specific_order_ids(order_id, move, attack):
    raw = battle()
    raw.raw_units[4, FU.order_length] = 1  # the Marine with tag 501 (slot 0)
    raw.raw_units[4, FU.order_id_0] = order_id
    obs, _ = featurize(raw, spec())
    assert obs["entities"][0, F["has_order"]] == 1
    assert (obs["entities"][0, F["order_move"]], obs["entities"][0, F["order_attack"]]) == (move, attack)


def test_action_mask():
    s = spec()
    obs, _ = featurize(battle(), s)
    mask, layout = obs["action_mask"], s.layout
    assert mask[2].tolist() == [1] + [0] * (layout.num_actions - 1)  # absent unit: only no-op
    attack = layout.segment(Verb.ATTACK_ENTITY)
    assert np.flatnonzero(mask[0, attack.start : attack.start + attack.size]).tolist() == [4, 5, 6]
    move = layout.segment(Verb.MOVE_ENTITY)
    assert np.flatnonzero(mask[0, move.start : move.start + move.size]).tolist() == [1, 4, 5, 6, 7]
    cells = layout.segment(Verb.ATTACK_POINT)
    assert mask[0, cells.start : cells.start + cells.size].all()
    queue = layout.segment(Verb.QUEUE_MOVE_ENTITY)  # a queued move goes wherever a move goes
    queued, moved = (mask[0, seg.start : seg.start + seg.size] for seg in (queue, move))
    assert (queued == moved).all()


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
    # Cell 0 is the lowest-x, lowest-y cell of the playable area: its centre, world (24.75, 22.0), is raw
    # pixel (24, 42) (y flipped: 64 - 22), sent as that pixel's centre.
    assert move.function == RawFunction.Move_pt and move.unit_tags == (501,)
    assert move.target == (24.5, 42.5)


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


# --- slots that last, and what the env remembers of its commands (envs.unit_memory)

def test_a_unit_keeps_its_slot_when_another_dies_and_new_units_take_free_slots():
    s, memory = spec(U=4), new_memory(spec(U=4))
    roach = unit(ROACH, 4, 40, 28, tag=900)
    marines = [unit(MARINE, 1, 24, 26 + i, tag=503 - i) for i in range(3)]  # tags 503, 502, 501
    _, slots = featurize(raw_obs(marines + [roach]), s, memory)
    assert slots.tags[:4].tolist() == [501, 502, 503, 0]
    # 502 dies: the others stay where they were, its slot is empty and may only no-op.
    obs, slots = featurize(raw_obs([marines[0], marines[2], roach]), s, memory)
    assert slots.tags[:4].tolist() == [501, 0, 503, 0]
    assert obs["entity_mask"][:4].tolist() == [1, 0, 1, 0] and obs["action_mask"][1, 1:].sum() == 0
    # Two new units: the lowest free slots, in tag order.
    newcomers = [unit(MARINE, 1, 30, 30, tag=505), unit(MARINE, 1, 31, 30, tag=504)]
    _, slots = featurize(raw_obs([marines[0], marines[2], roach] + newcomers), s, memory)
    assert slots.tags[:4].tolist() == [501, 504, 503, 505]
    memory.clear()  # a new episode: slots are given afresh
    _, slots = featurize(raw_obs([marines[0], roach] + newcomers), s, memory)
    assert slots.tags[:4].tolist() == [503, 504, 505, 0]


def test_own_units_beyond_U_come_after_enemies_and_neutrals_and_are_dropped_first():
    marines = [unit(MARINE, 1, 24, 22 + i, tag=510 - i) for i in range(4)]  # tags 510, 509, 508, 507
    others = [unit(ROACH, 4, 40, 28, tag=900), unit(BEACON, 3, 38, 30, tag=700),
              unit(ROACH, 4, 30, 28, tag=901), unit(BEACON, 3, 26, 30, tag=701)]
    _, slots = featurize(raw_obs(marines + others), spec(N=8, U=2))
    assert slots.tags.tolist() == [507, 508, 901, 900, 701, 700, 509, 510] and slots.num_dropped == 0
    _, slots = featurize(raw_obs(marines + others), spec(N=7, U=2))
    assert slots.tags.tolist() == [507, 508, 901, 900, 701, 700, 509] and slots.num_dropped == 1
    _, slots = featurize(raw_obs(marines + others), spec(N=5, U=2))  # then the farther neutral
    assert slots.tags.tolist() == [507, 508, 901, 900, 701] and slots.num_dropped == 3
    _, slots = featurize(raw_obs(marines + others), spec(N=3, U=2))  # enemies go last, farthest first
    assert slots.tags.tolist() == [507, 508, 901] and slots.num_dropped == 5


def test_without_own_units_enemies_are_ordered_by_distance_to_the_map_centre():
    raw = raw_obs([unit(ROACH, 4, x, y, tag=t) for x, y, t in ((20, 32, 900), (33, 31, 901), (40, 32, 902))])
    obs, slots = featurize(raw, spec(N=6, U=2))
    assert slots.tags.tolist() == [0, 0, 901, 902, 900, 0] and obs["entity_mask"][:2].sum() == 0


def test_a_unit_beyond_U_takes_the_slot_a_dead_unit_frees():
    s, memory = spec(N=8, U=2), new_memory(spec(N=8, U=2))
    marines = [unit(MARINE, 1, 24, 22 + i, tag=501 + i) for i in range(3)]
    _, slots = featurize(raw_obs(marines), s, memory)
    assert slots.tags[:3].tolist() == [501, 502, 503]  # 503 waits beyond U, in slot 2
    _, slots = featurize(raw_obs([marines[1], marines[2]]), s, memory)
    assert slots.tags[:3].tolist() == [503, 502, 0]


def _with_orders(raw, busy_tags):
    """Mark the units with these tags as carrying one order (raw order_length 1)."""
    raw.raw_units[np.isin(raw.raw_units[:, FU.tag], list(busy_tags)), FU.order_length] = 1
    return raw


def test_last_verb_order_target_and_targeted_by_after_known_commands():
    s = spec(U=4)
    memory, translate, layout = new_memory(s), Translator(s), s.layout
    last = [F[f"last_{v.name.lower()}"] for v in COMBAT_VERBS]

    def scene(marine_x, roach_visible=True, busy=(501, 502)):
        units = [unit(MARINE, 1, marine_x, 28.0, tag=501), unit(MARINE, 1, 24.0, 24.0, tag=502)]
        units += [unit(ROACH, 4, 30.0, 28.0, tag=901)] if roach_visible else []
        units += [unit(BEACON, 3, 34.0, 20.0, tag=700)]
        return featurize(_with_orders(raw_obs(units), busy), s, memory)

    obs, slots = scene(25.0)
    assert obs["entities"][:, last[0]:].sum() == 0  # nothing commanded yet
    roach, beacon = 4, 5
    assert slots.tags[[roach, beacon]].tolist() == [901, 700]
    # Both Marines attack the Roach.
    attack = layout.encode(Verb.ATTACK_ENTITY, roach)
    translate(np.array([attack, attack, 0, 0]), obs["action_mask"], slots, memory)
    obs, slots = scene(26.0)
    e = obs["entities"]
    attacked = np.eye(len(COMBAT_VERBS))[Verb.ATTACK_ENTITY].tolist()
    assert e[0, last].tolist() == attacked and e[1, last].tolist() == attacked
    assert e[0, [F["order_dx"], F["order_dy"]]].tolist() == [(30 - 26) / 16, 0.0]
    assert e[1, [F["order_dx"], F["order_dy"]]].tolist() == [(30 - 24) / 16, (28 - 24) / 16]
    assert e[:, F["targeted_by"]].tolist() == [0, 0, 0, 0, 2 / 4] + [0] * 11
    # Marine 501 keeps its order (no-op), 502 moves to cell 5; the Roach leaves sight: 501's order keeps
    # pointing at where the Roach was last seen, and nothing visible is targeted.
    cell = 5
    translate(np.array([0, layout.encode(Verb.MOVE_POINT, cell), 0, 0]), obs["action_mask"], slots, memory)
    obs, slots = scene(27.0, roach_visible=False)
    e = obs["entities"]
    one_hot = np.eye(len(COMBAT_VERBS)).tolist()
    assert e[0, last].tolist() == one_hot[Verb.NO_OP] and e[1, last].tolist() == one_hot[Verb.MOVE_POINT]
    assert e[0, [F["order_dx"], F["order_dy"]]].tolist() == [(30 - 27) / 16, 0.0]
    cx, cy = s.cell_centres()[cell]
    np.testing.assert_array_equal(e[1, [F["order_dx"], F["order_dy"]]],
                                  np.float32([(cx - 24) / 16, (cy - 24) / 16]))
    assert e[:, F["targeted_by"]].sum() == 0
    # 501 moves to the beacon (a unit target), 502 stops: 502 has no order target any more.
    translate(np.array([layout.encode(Verb.MOVE_ENTITY, 4), layout.encode(Verb.STOP), 0, 0]),
              obs["action_mask"], slots, memory)  # the beacon is in slot 4 now the Roach is gone
    obs, slots = scene(28.0, roach_visible=False, busy=(501,))
    e = obs["entities"]
    assert slots.tags[4] == 700 and e[4, F["targeted_by"]] == 1 / 4
    assert e[0, [F["order_dx"], F["order_dy"]]].tolist() == [(34 - 28) / 16, (20 - 28) / 16]
    assert e[1, last].tolist() == one_hot[Verb.STOP]
    assert e[1, [F["order_dx"], F["order_dy"]]].tolist() == [0, 0]
    # 501 reports no order any more (it arrived, or the game dropped it): its order is forgotten for good,
    # even once it carries an order again that the env did not give.
    obs, slots = scene(28.0, roach_visible=False, busy=())
    obs, slots = scene(28.0, roach_visible=False, busy=(501,))
    assert obs["entities"][0, [F["order_dx"], F["order_dy"]]].tolist() == [0, 0]
    assert obs["entities"][:, F["targeted_by"]].sum() == 0
    # A new episode forgets it all.
    translate(np.array([layout.encode(Verb.STOP)] * 2 + [0, 0]), obs["action_mask"], slots, memory)
    memory.clear()
    obs, _ = scene(28.0)
    assert obs["entities"][:, last[0]:].sum() == 0


def test_queued_moves_are_sent_queued_remembered_in_turn_and_limited():
    s = spec(U=4)
    memory, translate, layout = new_memory(s), Translator(s), s.layout
    shards = [(30.0 + 2 * k, 20.0, 700 + k) for k in range(QUEUE_LIMIT + 2)]

    def scene(orders, taken=0, hidden=()):
        units = [unit(MARINE, 1, 28.0, 20.0, tag=501)]
        units += [unit(BEACON, 3, x, y, tag=tag) for x, y, tag in shards[taken:] if tag not in hidden]
        raw = raw_obs(units)
        raw.raw_units[0, FU.order_length] = orders
        return featurize(raw, s, memory)

    def slot(obs_slots, tag):
        return int(np.flatnonzero(obs_slots.tags == tag)[0])

    obs, slots = scene(0)
    queue = layout.segment(Verb.QUEUE_MOVE_ENTITY)
    # An idle Marine's queued move is its order; later ones queue behind it, up to QUEUE_LIMIT.
    for k, (_, _, tag) in enumerate(shards[: QUEUE_LIMIT + 1]):
        actions = np.array([layout.encode(Verb.QUEUE_MOVE_ENTITY, slot(slots, tag)), 0, 0, 0])
        commands, illegal = translate(actions, obs["action_mask"], slots, memory)
        assert illegal == 0 and [(c.function, c.queued, c.target) for c in commands] == [
            (RawFunction.Move_unit, True, tag)]
        obs, slots = scene(k + 1)
        assert obs["entities"][0, F["queued_moves"]] == np.float32(k / QUEUE_LIMIT)
        x_end = shards[k][0]
        assert obs["entities"][0, [F["end_dx"], F["end_dy"]]].tolist() == [(x_end - 28) / 16, 0.0]
        assert obs["entities"][0, [F["order_dx"], F["order_dy"]]].tolist() == [(30 - 28) / 16, 0.0]
    # Four orders held: no further queued move is offered, a plain move still is.
    assert obs["action_mask"][0, queue.start : queue.start + queue.size].sum() == 0
    assert obs["action_mask"][0, layout.encode(Verb.MOVE_ENTITY, slot(slots, shards[-1][2]))] == 1
    targeted = obs["entities"][:, F["targeted_by"]]
    assert [targeted[slot(slots, tag)] for _, _, tag in shards] == [1 / 4] * (QUEUE_LIMIT + 1) + [0]
    # The game reports two orders fewer: the first two ended, the third is the current one.
    obs, slots = scene(QUEUE_LIMIT - 1, taken=2)
    e = obs["entities"][0]
    assert e[F["queued_moves"]] == np.float32((QUEUE_LIMIT - 2) / QUEUE_LIMIT)
    assert e[[F["order_dx"], F["order_dy"]]].tolist() == [(34 - 28) / 16, 0.0]
    assert obs["action_mask"][0, queue.start : queue.start + queue.size].sum() > 0
    # The last queued target out of sight: the route still ends where it was last seen.
    x_last, _, tag_last = shards[QUEUE_LIMIT]
    obs, slots = scene(QUEUE_LIMIT - 1, taken=2, hidden=(tag_last,))
    assert obs["entities"][0, F["end_dx"]] == np.float32((x_last - 28) / 16)
    obs, slots = scene(QUEUE_LIMIT - 1, taken=2)
    # A plain move replaces the whole queue.
    translate(np.array([layout.encode(Verb.MOVE_ENTITY, slot(slots, shards[-1][2])), 0, 0, 0]),
              obs["action_mask"], slots, memory)
    obs, slots = scene(1, taken=2)
    e = obs["entities"][0]
    assert e[F["queued_moves"]] == 0
    assert e[F["end_dx"]] == e[F["order_dx"]] == np.float32((shards[-1][0] - 28) / 16)
    assert obs["entities"][:, F["targeted_by"]].sum() == np.float32(1 / 4)


def test_an_illegal_action_is_remembered_as_the_no_op_it_became():
    s = spec(U=4)
    memory, layout = new_memory(s), s.layout
    obs, slots = featurize(battle(), s, memory)
    beacon = 7
    actions = np.array([layout.encode(Verb.ATTACK_ENTITY, beacon), 0, 0, 0])  # the beacon is no enemy
    commands, illegal = Translator(s)(actions, obs["action_mask"], slots, memory)
    assert commands == [] and illegal == 1
    obs, _ = featurize(battle(), s, memory)
    assert obs["entities"][0, F["last_no_op"]] == 1 and obs["entities"][0, F["last_attack_entity"]] == 0
    assert obs["entities"][:, F["targeted_by"]].sum() == 0


def test_own_units_beyond_U_carry_no_command_features():
    s = spec(N=8, U=1)
    memory = new_memory(s)
    far = [unit(MARINE, 1, 1.0, 1.0, tag=501), unit(MARINE, 1, 2.0, 2.0, tag=502)]
    units = far + [unit(ROACH, 4, 63.0, 63.0, tag=900)]
    obs, slots = featurize(raw_obs(units), s, memory)
    Translator(s)(np.array([s.layout.encode(Verb.ATTACK_ENTITY, 1)]), obs["action_mask"], slots, memory)
    obs, _ = featurize(_with_orders(raw_obs(units), (501, 502)), s, memory)
    e = obs["entities"]
    assert slots.tags[:3].tolist() == [501, 900, 502]
    assert e[0, F["order_dx"]] == (63 - 1) / 16 and e[0, F["order_dy"]] == (63 - 1) / 16
    assert e[1, F["targeted_by"]] == 1.0
    assert e[2, F["last_no_op"]:].sum() == 0  # the Marine beyond U (slot 2) carries no command features


def test_on_a_map_with_fog_each_cell_scalar_is_the_time_since_an_own_unit_saw_it():
    # 4 x 4 cells of 5.5 x 4 over x 22..44, y 20..36; a Marine sees 9 (centre to centre).
    fog = EntitySpec(max_entities=16, max_units=4, grid_size=4, playable=(22, 20, 44, 36),
                     time_limit_loops=1920, fog=True)
    assert fog.scalar_features[-16:] == tuple(f"unseen_cell_{k}" for k in range(16))
    assert len(spec(grid=4).scalar_features) == len(fog.scalar_features) - 16
    memory = new_memory(fog)
    corner_cell, diagonal_cell, far_cell, enemy_cell = 0, 5, 15, 12
    first = raw_obs([unit(MARINE, 1, 24.75, 22.0, tag=1), unit(ROACH, 4, 24.75, 34.0, tag=2)])
    cells = featurize(first, fog, memory)[0]["scalars"][-16:]
    assert cells[corner_cell] == 0.0 and cells[diagonal_cell] == 0.0  # 0 and 6.8 away
    assert cells[far_cell] == 1.0 and cells[enemy_cell] == 1.0  # never seen: an enemy sees for nobody
    later = raw_obs([unit(MARINE, 1, 41.25, 34.0, tag=1)], game_loop=960)
    cells = featurize(later, fog, memory)[0]["scalars"][-16:]
    assert cells[corner_cell] == pytest.approx(0.5)  # seen at loop 0, half the time limit ago
    assert cells[far_cell] == 0.0 and cells[enemy_cell] == 1.0  # 16.5 away from the Marine then and now
    memory.clear()  # a new episode has seen nothing
    cells = featurize(later, fog, memory)[0]["scalars"][-16:]
    assert cells[corner_cell] == 1.0 and cells[far_cell] == 0.0
