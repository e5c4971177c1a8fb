"""envs/raw_schema.py (written without pysc2) must agree with pysc2 4.0.0 itself."""

from __future__ import annotations

from envs import raw_schema
from tests.test_pysc2_compat import isolated


def _names(enum_cls):
    return [(member.name.lower(), int(member)) for member in enum_cls]


@isolated
def test_feature_unit_columns_match_pysc2():
    from pysc2.lib import features

    assert _names(raw_schema.FeatureUnit) == _names(features.FeatureUnit)
    assert raw_schema.NUM_UNIT_COLUMNS == len(features.FeatureUnit)


@isolated
def test_player_columns_and_score_width_match_pysc2():
    from pysc2.lib import features

    assert _names(raw_schema.Player) == _names(features.Player)
    assert raw_schema.NUM_PLAYER_COLUMNS == len(features.Player)
    assert raw_schema.NUM_SCORE_COLUMNS == len(features.ScoreCumulative)


@isolated
def test_alliance_matches_player_relative():
    from pysc2.lib import features

    pysc2_values = {name: value for name, value in _names(features.PlayerRelative) if name != "none"}
    assert dict(_names(raw_schema.Alliance)) == pysc2_values


@isolated
def test_raw_function_ids_names_and_kinds_match_raw_functions():
    from pysc2.lib import actions

    kinds = {
        actions.raw_cmd_pt: raw_schema.POINT_FUNCTIONS,
        actions.raw_cmd_unit: raw_schema.UNIT_FUNCTIONS,
        actions.raw_cmd: raw_schema.QUICK_FUNCTIONS,
    }
    for fn in raw_schema.RawFunction:
        pysc2_fn = actions.RAW_FUNCTIONS[int(fn)]
        assert pysc2_fn.name == fn.name, fn
        assert actions.RAW_FUNCTIONS[fn.name].id == int(fn)
        if fn is raw_schema.RawFunction.no_op:
            assert pysc2_fn.function_type is actions.raw_no_op
        else:
            assert fn in kinds[pysc2_fn.function_type], f"{fn.name} is {pysc2_fn.function_type.__name__}"
    listed = raw_schema.POINT_FUNCTIONS | raw_schema.UNIT_FUNCTIONS | raw_schema.QUICK_FUNCTIONS
    assert listed == set(raw_schema.RawFunction) - {raw_schema.RawFunction.no_op}


@isolated
def test_max_selected_units_is_pysc2_default():
    from pysc2.lib import features

    aif = features.AgentInterfaceFormat(use_raw_units=True, use_raw_actions=True, raw_resolution=64)
    assert raw_schema.MAX_SELECTED_UNITS == aif.max_selected_units


@isolated
def test_order_ids_are_pysc2s_and_cover_every_attack_and_move_ability():
    # raw_units report orders as RAW_ABILITY_ID_TO_FUNC_ID[ability] (pysc2 lib/features.py raw_order)
    from pysc2.lib import actions

    to_func = actions.RAW_ABILITY_ID_TO_FUNC_ID
    for order in raw_schema.OrderId:
        fn = actions.RAW_FUNCTIONS[int(order)]
        assert fn.name.rsplit("_", 1)[0] == order.name and to_func[fn.ability_id] == int(order), order

    def orders_of(generic):
        return {to_func[fn.ability_id] for fn in actions.RAW_FUNCTIONS
                if generic in (fn.ability_id, fn.general_id)}

    assert raw_schema.ATTACK_ORDERS == orders_of(3674)  # Attack
    assert raw_schema.MOVE_ORDERS == orders_of(3794) | {to_func[1]}  # Move, and Smart (ability 1)
    # the specific abilities of the orders the engine reports: Attack_Attack 23, Move_Move 16, Hold 18
    from envs.engine.obs import ORDER_FUNC_ID
    from envs.engine.state import ATTACK_POINT, ATTACK_UNIT, HOLD_POSITION, MOVE_POINT, MOVE_UNIT

    assert ORDER_FUNC_ID[ATTACK_POINT] == ORDER_FUNC_ID[ATTACK_UNIT] == to_func[23] == 4
    assert ORDER_FUNC_ID[MOVE_POINT] == ORDER_FUNC_ID[MOVE_UNIT] == to_func[16] == 547
    assert ORDER_FUNC_ID[HOLD_POSITION] == to_func[18] == 543
