"""EntityPolicy: masking, padding and order invariance, units decoded in order, every encoder by name."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

from agent.model.encoders import ENCODERS
from agent.model.policy import FLOAT_MIN, EntityPolicy, choose, greedy
from envs.action_space import COMBAT_VERBS, ActionLayout, Target, Verb
from envs.errors import UserError
from tests.policy_loss import loss_and_grads

F, S, V, GRID, U = 6, 3, 10, 3, 2
POSITION = (0, 1)  # entity feature columns read as x, y
SMALL = {
    "perceiver_io": {"num_latents": 4, "num_layers": 1, "self_heads": 2},
    "transformer": {"num_layers": 1, "num_heads": 2, "head_dim": 8, "mlp_dim": 32},
    "deepsets": {},
    "none": {},
}


def make_policy(encoder: str = "perceiver_io", seed: int = 0) -> EntityPolicy:
    torch.manual_seed(seed)
    policy = EntityPolicy(num_features=F, num_scalars=S, num_unit_types=V, grid_size=GRID, width=16,
                          key_dim=8, encoder=encoder, encoder_options=SMALL[encoder],
                          position_features=POSITION)
    # Scale the small-initialised heads up so that logits differ clearly between choices; make a unit
    # avoid the entities and like the cells the units before it picked, and prefer near entities.
    with torch.no_grad():
        for head in [policy.verb_head, *policy.target_heads.values()]:
            head.weight.mul_(50.0)
        policy.claim_gain.bias.copy_(torch.tensor([-3.0, 2.0]))
        policy.distance_gain.bias.fill_(-1.0)
    return policy.eval()


def make_obs(num_real: int, num_slots: int, *, seed: int = 0, batch: int = 2) -> dict:
    """Random real entities in slots 0..num_real-1 (own units first), garbage in the padding."""
    gen = torch.Generator().manual_seed(seed)
    layout = ActionLayout(max_entities=num_slots, grid_size=GRID)
    mask = torch.zeros(batch, num_slots, dtype=torch.int8)
    mask[:, :num_real] = 1
    action_mask = (torch.rand(batch, U, layout.num_actions, generator=gen) < 0.6).to(torch.int8)
    for verb in (Verb.MOVE_ENTITY, Verb.ATTACK_ENTITY):
        seg = layout.segment(verb)
        action_mask[..., seg.start + num_real : seg.start + seg.size] = 0  # padding is never a target
    action_mask[..., 0] = 1  # no-op always legal
    return {
        "entities": torch.randn(batch, num_slots, F, generator=gen) * 3,
        "unit_type": torch.randint(1, V, (batch, num_slots), generator=gen),
        "entity_mask": mask,
        "scalars": torch.randn(batch, S, generator=gen),
        "action_mask": action_mask,
    }


def probs(policy: EntityPolicy, obs: dict) -> torch.Tensor:
    """Each unit's distribution as the greedy decode met it (after the units before it chose)."""
    with torch.no_grad():
        _, logits, _, _ = policy.decode(obs, sample=False)
    return torch.softmax(logits, dim=-1)


def remap(obs: dict, num_slots: int, order: list[int]) -> dict:
    """The same observation with entity slot k of the result = slot order[k] of `obs` (or padding)."""
    old = ActionLayout(max_entities=obs["entities"].shape[1], grid_size=GRID)
    new = ActionLayout(max_entities=num_slots, grid_size=GRID)
    batch = obs["entities"].shape[0]
    out = make_obs(0, num_slots, seed=99, batch=batch)  # padding garbage of its own
    out["scalars"] = obs["scalars"].clone()
    out["action_mask"] = torch.zeros(batch, U, new.num_actions, dtype=torch.int8)
    for k, j in enumerate(order):
        for key in ("entities", "unit_type", "entity_mask"):
            out[key][:, k] = obs[key][:, j]
    for seg_old, seg_new in zip(old.segments, new.segments, strict=True):
        if seg_old.target is Target.ENTITY:
            for k, j in enumerate(order):
                out["action_mask"][..., seg_new.start + k] = obs["action_mask"][..., seg_old.start + j]
        else:
            out["action_mask"][..., seg_new.start : seg_new.start + seg_new.size] = (
                obs["action_mask"][..., seg_old.start : seg_old.start + seg_old.size])
    return out


def mapped_probs(p: torch.Tensor, num_slots: int, order: list[int], old_slots: int) -> torch.Tensor:
    """Probabilities over the old layout's actions read from the new layout's (order as in remap)."""
    old = ActionLayout(max_entities=old_slots, grid_size=GRID)
    new = ActionLayout(max_entities=num_slots, grid_size=GRID)
    out = torch.zeros(*p.shape[:-1], old.num_actions)
    for action in range(old.num_actions):
        verb, target = old.decode(action)
        if old.segment(verb).target is Target.ENTITY:
            if target not in order:
                continue  # an old padding slot: illegal in both, probability 0
            target = order.index(target)
        out[..., action] = p[..., new.encode(verb, target)]
    return out


def test_masked_actions_get_zero_probability_and_are_never_sampled():
    policy = make_policy()
    obs = make_obs(5, 8)
    p = probs(policy, obs)
    illegal = obs["action_mask"] == 0
    assert illegal.any() and (p[illegal] == 0).all()
    assert torch.allclose(p.sum(-1), torch.ones(p.shape[:-1]))
    generator = torch.Generator().manual_seed(1)
    draws = torch.stack([torch.as_tensor(policy.act(obs, sample=True, generator=generator)[0])
                         for _ in range(50)])
    assert obs["action_mask"].gather(-1, draws.permute(1, 2, 0)).all()  # every draw of every unit is legal
    assert len({tuple(d.flatten().tolist()) for d in draws}) > 1  # and they are draws, not one fixed choice
    # One generator seed, one sequence of draws.
    again = torch.Generator().manual_seed(1)
    assert torch.equal(torch.as_tensor(policy.act(obs, sample=True, generator=again)[0]), draws[0])
    greedy = torch.as_tensor(policy.act(obs)[0])
    assert torch.equal(greedy, head_modes(p, ActionLayout(max_entities=8, grid_size=GRID)))
    assert obs["action_mask"].gather(-1, greedy.unsqueeze(-1)).all()


def head_modes(p: torch.Tensor, layout: ActionLayout) -> torch.Tensor:
    """Per unit: the verb whose targets hold the most probability, then that verb's likeliest target."""
    verb_p = torch.stack([p[..., seg.start:seg.start + seg.size].sum(-1) for seg in layout.segments], -1)
    out = torch.empty(p.shape[:-1], dtype=torch.long)
    for index in torch.cartesian_prod(*(torch.arange(n) for n in p.shape[:-1])):
        seg = layout.segments[int(verb_p[tuple(index)].argmax())]
        out[tuple(index)] = seg.start + int(p[tuple(index)][seg.start:seg.start + seg.size].argmax())
    return out


def test_greedy_takes_the_likeliest_verb_even_when_its_targets_split_the_probability():
    layout = ActionLayout(max_entities=4, grid_size=1)
    logits = torch.full((1, layout.num_actions), FLOAT_MIN)
    logits[0, layout.encode(Verb.NO_OP)] = math.log(0.3)
    attack = layout.segment(Verb.ATTACK_ENTITY)
    logits[0, attack.start:attack.start + 4] = torch.log(torch.tensor([0.2, 0.15, 0.2, 0.15]))
    # The joint argmax would keep the order (0.3 > 0.2); the attack verb holds 0.7.
    assert int(logits.argmax()) == layout.encode(Verb.NO_OP)
    assert int(greedy(logits, layout)[0]) == layout.encode(Verb.ATTACK_ENTITY, 0)


def test_masked_logits_carry_no_gradient():
    policy = make_policy()
    obs = make_obs(5, 8)
    obs["entities"].requires_grad_(True)
    logits, _, _ = policy(obs, torch.as_tensor(policy.act(obs, sample=True)[0]))
    illegal = obs["action_mask"] == 0
    (logits * illegal).sum().backward()
    assert (logits[illegal] == FLOAT_MIN).all()
    assert all(p.grad is None or (p.grad == 0).all() for p in policy.parameters())


def test_a_padded_unit_slot_can_only_no_op():
    policy = make_policy()
    obs = make_obs(5, 8)
    obs["action_mask"][:, 1] = 0
    obs["action_mask"][:, 1, 0] = 1
    assert torch.equal(probs(policy, obs)[:, 1, 0], torch.ones(2))


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_padding_does_not_change_a_units_distribution(encoder):
    policy = make_policy(encoder)
    obs = make_obs(5, 6)
    wide = remap(obs, 11, list(range(5)))  # same 5 entities, 6 padded slots of other garbage
    expected = probs(policy, obs)
    got = mapped_probs(probs(policy, wide), 11, list(range(5)), 6)
    assert torch.allclose(got, expected, atol=1e-5)
    with torch.no_grad():
        values = [policy.value(policy.decode(o, sample=False)[2]) for o in (obs, wide)]
    assert torch.allclose(values[0], values[1], atol=1e-5)


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_entity_order_permutes_the_targets_only(encoder):
    policy = make_policy(encoder)
    obs = make_obs(6, 8)
    order = [0, 1, 5, 7, 2, 6, 4, 3]  # own units stay in slots 0..U-1; the rest and the padding shuffle
    shuffled = remap(obs, 8, order)
    expected = probs(policy, obs)
    got = mapped_probs(probs(policy, shuffled), 8, order, 8)
    assert torch.allclose(got, expected, atol=1e-5)


def test_changing_an_entity_changes_the_distribution():
    # Guards the invariance tests against a policy that ignores its input.
    policy = make_policy()
    obs = make_obs(5, 8)
    other = {k: v.clone() for k, v in obs.items()}
    other["entities"][:, 3] += 1.0
    assert not torch.allclose(probs(policy, obs), probs(policy, other), atol=1e-3)


def test_verb_marginal_is_independent_of_the_number_of_legal_targets():
    # Joint logit = verb logit + log p(target | verb): more legal targets must not inflate a verb.
    policy = make_policy()
    obs = make_obs(6, 8, batch=1)
    obs["action_mask"][:] = 1
    few = {k: v.clone() for k, v in obs.items()}
    seg = ActionLayout(max_entities=8, grid_size=GRID).segment(Verb.ATTACK_ENTITY)
    few["action_mask"][..., seg.start + 1 : seg.start + seg.size] = 0  # only the first target left
    p_all, p_few = probs(policy, obs), probs(policy, few)
    attack = slice(seg.start, seg.start + seg.size)
    assert torch.allclose(p_all[..., attack].sum(-1), p_few[..., attack].sum(-1), atol=1e-5)
    assert not torch.allclose(p_all[..., seg.start], p_few[..., seg.start], atol=1e-4)


def test_unknown_encoder_name_is_a_user_error():
    with pytest.raises(UserError, match="perceiver_io"):
        EntityPolicy(num_features=F, num_scalars=S, num_unit_types=V, grid_size=GRID, encoder="lstm")


def test_action_mask_of_the_wrong_width_is_rejected():
    policy = make_policy()
    obs = make_obs(5, 8)
    obs["action_mask"] = obs["action_mask"][..., :-1]
    with pytest.raises(ValueError, match="layout"):
        policy.act(obs)


def test_noop_bias_makes_an_untrained_unit_keep_its_order():
    torch.manual_seed(0)
    kwargs = dict(num_features=F, num_scalars=S, num_unit_types=V, grid_size=GRID, width=16, key_dim=8,
                  encoder="deepsets", encoder_options={})
    obs = make_obs(5, 8)
    obs["action_mask"][:] = 1
    p_plain = probs(EntityPolicy(**kwargs).eval(), obs)[..., 0]
    p_bias = probs(EntityPolicy(**kwargs, noop_bias=2.0).eval(), obs)[..., 0]
    # n legal verbs with near-zero initial logits: 1/n without the bonus, e^2 / (e^2 + n - 1) with it.
    n = len(COMBAT_VERBS)
    assert torch.allclose(p_plain, torch.full_like(p_plain, 1 / n), atol=0.02)
    expected = math.exp(2.0) / (math.exp(2.0) + n - 1)
    assert torch.allclose(p_bias, torch.full_like(p_bias, expected), atol=0.02)


def test_a_unit_with_an_order_keeps_it_by_the_keep_bias_and_learns_it():
    torch.manual_seed(0)
    kwargs = dict(num_features=F, num_scalars=S, num_unit_types=V, grid_size=GRID, width=16, key_dim=8,
                  encoder="deepsets", encoder_options={}, order_column=2)
    obs = make_obs(5, 8)
    obs["action_mask"][:] = 1
    obs["entities"][:, :U, 2] = 0.0
    obs["entities"][:, 0, 2] = 1.0  # unit 0 has an order, the others have none
    policy = EntityPolicy(**kwargs, keep_bias=3.0).eval()
    p_noop = probs(policy, obs)[..., 0]
    # n legal verbs with near-zero initial logits: e^3 / (e^3 + n - 1) with an order, 1/n without.
    n = len(COMBAT_VERBS)
    kept = math.exp(3) / (math.exp(3) + n - 1)
    assert torch.allclose(p_noop[:, 0], torch.full_like(p_noop[:, 0], kept), atol=0.02)
    assert torch.allclose(p_noop[:, 1:], torch.full_like(p_noop[:, 1:], 1 / n), atol=0.02)
    # The bonus is a parameter: PPO's gradient on the ordered unit's no-op moves it.
    logits, _, _ = policy.train()(obs, torch.zeros(2, U, dtype=torch.long))
    torch.log_softmax(logits[:, 0], -1)[:, 0].sum().backward()
    assert policy.keep_gain.grad is not None and float(policy.keep_gain.grad) > 0
    # Without an order column there is no such parameter, and no bonus.
    assert EntityPolicy(**{**kwargs, "order_column": None}).keep_gain is None


def entity_action(verb: Verb, slot: int, num_slots: int = 8) -> int:
    return ActionLayout(max_entities=num_slots, grid_size=GRID).encode(verb, slot)


def test_a_unit_sees_only_the_actions_of_the_units_before_it():
    policy = make_policy()
    obs = make_obs(5, 8)
    obs["action_mask"][:] = 1
    base = torch.tensor([[entity_action(Verb.MOVE_ENTITY, 2), 0]] * 2)
    later_changed = base.clone()
    later_changed[:, 1] = entity_action(Verb.MOVE_ENTITY, 3)
    earlier_changed = base.clone()
    earlier_changed[:, 0] = entity_action(Verb.ATTACK_ENTITY, 4)
    with torch.no_grad():
        logits, later, earlier = (policy(obs, a)[0] for a in (base, later_changed, earlier_changed))
    assert torch.equal(logits, later)  # the last unit's choice reaches no one
    assert torch.equal(logits[:, 0], earlier[:, 0])  # the first unit sees no claims
    # The second unit: entity 2 lost its claim and entity 4 gained one (gain -3); nothing else moved.
    layout = ActionLayout(max_entities=8, grid_size=GRID)
    seg = layout.segment(Verb.MOVE_ENTITY)
    target = torch.log_softmax(logits[:, 1, seg.start : seg.start + seg.size], dim=-1)
    target_earlier = torch.log_softmax(earlier[:, 1, seg.start : seg.start + seg.size], dim=-1)
    shift = target_earlier - target
    assert torch.allclose(shift[:, 2] - shift[:, 0], torch.full((2,), 3.0), atol=1e-4)
    assert torch.allclose(shift[:, 4] - shift[:, 0], torch.full((2,), -3.0), atol=1e-4)
    assert torch.allclose(shift[:, [1, 3]] - shift[:, :1], torch.zeros(2, 2), atol=1e-4)


def test_decode_gives_the_logits_that_training_recomputes():
    policy = make_policy()
    obs = make_obs(5, 8, batch=64)
    for sample in (True, False):
        with torch.no_grad():
            generator = torch.Generator().manual_seed(2)
            actions, logits, value_in, _ = policy.decode(obs, sample=sample, generator=generator)
            again, value_again, _ = policy(obs, actions)
        assert torch.allclose(logits, again, atol=1e-5)
        assert torch.equal(value_in, value_again)
    # With a strong negative entity gain, the second unit never takes the entity the first one took
    # (when its verb has other legal targets: the claims shape p(target | verb) only).
    obs = make_obs(5, 8, batch=128)
    obs["action_mask"][:] = 1
    with torch.no_grad():
        policy.claim_gain.bias.copy_(torch.tensor([-100.0, 0.0]))
        actions, logits, _, _ = policy.decode(obs, sample=True, generator=torch.Generator().manual_seed(3))
    layout = ActionLayout(max_entities=8, grid_size=GRID)
    verbs = torch.as_tensor(layout.verb_of_action)[actions]
    slots = torch.as_tensor(layout.target_of_action)[actions]
    pointers = torch.tensor([Verb.MOVE_ENTITY, Verb.ATTACK_ENTITY, Verb.QUEUE_MOVE_ENTITY])
    entity_verbs = torch.isin(verbs, pointers)
    both = entity_verbs.all(dim=1)
    assert both.sum() > 10 and (slots[both, 0] != slots[both, 1]).all()


def test_distance_gain_moves_a_units_pointer_toward_near_entities():
    policy = make_policy()
    obs = make_obs(5, 8)
    obs["action_mask"][:] = 1
    actions = torch.zeros(2, U, dtype=torch.long)
    seg = ActionLayout(max_entities=8, grid_size=GRID).segment(Verb.MOVE_ENTITY)

    def pointer() -> torch.Tensor:  # unit 0's log p(target | move to entity) over the 5 real entities
        with torch.no_grad():
            logits, _, _ = policy(obs, actions)
        return torch.log_softmax(logits[:, 0, seg.start : seg.start + 5], dim=-1)

    with_gain = pointer()
    with torch.no_grad():
        policy.distance_gain.bias.zero_()
    shift = with_gain - pointer()
    xy = obs["entities"][:, :5, list(POSITION)]
    distance = (xy - xy[:, :1]).norm(dim=-1)  # from unit 0 (slot 0) to each entity
    assert distance[:, 1:].min() > 0.1
    assert torch.allclose(shift - shift[:, :1], -(distance - distance[:, :1]), atol=1e-4)  # gain -1


def test_unseen_gain_moves_a_units_cell_choice_toward_cells_not_seen_for_long():
    cells = GRID * GRID
    torch.manual_seed(0)
    policy = EntityPolicy(num_features=F, num_scalars=S + cells, num_unit_types=V, grid_size=GRID, width=16,
                          key_dim=8, encoder="deepsets", unseen_cells=True).eval()
    obs = make_obs(5, 8)
    obs["scalars"] = torch.cat([obs["scalars"], torch.rand(2, cells)], dim=-1)
    obs["action_mask"][:] = 1
    actions = torch.zeros(2, U, dtype=torch.long)
    seg = ActionLayout(max_entities=8, grid_size=GRID).segment(Verb.MOVE_POINT)

    def cell_choice() -> torch.Tensor:  # unit 0's log p(cell | move to a point)
        with torch.no_grad():
            logits, _, _ = policy(obs, actions)
        return torch.log_softmax(logits[:, 0, seg.start : seg.start + seg.size], dim=-1)

    untrained = cell_choice()
    with torch.no_grad():
        policy.unseen_gain.bias.fill_(2.0)
    shift = cell_choice() - untrained
    unseen = obs["scalars"][:, -cells:]
    assert torch.allclose(shift - shift[:, :1], 2.0 * (unseen - unseen[:, :1]), atol=1e-4)


def test_without_the_pointer_terms_units_are_decoded_independently():
    torch.manual_seed(0)
    policy = EntityPolicy(num_features=F, num_scalars=S, num_unit_types=V, grid_size=GRID, width=16,
                          key_dim=8, encoder="deepsets", ordered_decoding=False).eval()
    names = {name.split(".")[0] for name, _ in policy.named_parameters()}
    assert not names & {"claim_gain", "distance_gain"}
    obs = make_obs(5, 8, batch=16)
    with torch.no_grad():
        some, _, _ = policy(obs, torch.zeros(16, U, dtype=torch.long))
        other, _, _ = policy(obs, torch.as_tensor(policy.act(obs, sample=True)[0]))
        actions, logits, _, _ = policy.decode(obs, sample=True, generator=torch.Generator().manual_seed(4))
    assert torch.equal(some, other) and torch.equal(logits, some)
    # One uniform per unit slot, drawn up front, through each unit's own cumulative distribution.
    uniforms = torch.rand(16, U, generator=torch.Generator().manual_seed(4))
    cumulative = torch.softmax(some, -1).cumsum(-1)
    expected = torch.searchsorted(cumulative, (uniforms * cumulative[..., -1]).unsqueeze(-1), right=True)
    assert torch.equal(actions, expected.squeeze(-1))


def test_the_model_package_imports_neither_ray_nor_the_engine():
    # `envs` itself registers the gymnasium ids from the engine's map names; the simulation stays unloaded.
    heavy = ("ray", "numba", "envs.engine.engine", "envs.entity_env")
    code = f"import sys; import agent.model.policy; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def single_choice_obs(batch: int = 64) -> dict:
    """Games whose unit slots mix free units, dead slots (no-op only), a unit whose only legal action is
    an entity target, and a unit with no legal action at all."""
    obs = make_obs(5, 8, batch=batch, seed=5)
    layout = ActionLayout(max_entities=8, grid_size=GRID)
    dead = torch.arange(batch) % 4 == 0
    obs["action_mask"][dead, 0] = 0
    obs["action_mask"][dead, 0, 0] = 1
    forced_target = torch.arange(batch) % 4 == 1
    obs["action_mask"][forced_target, 0] = 0
    obs["action_mask"][forced_target, 0, layout.encode(Verb.MOVE_ENTITY, 3)] = 1
    obs["action_mask"][7, 1] = 0
    obs["entity_mask"][::3, 4] = 0  # fewer real entities in some games: the encoder skips their padding
    return obs


def with_orders(policy: EntityPolicy, obs: dict) -> dict:
    """The policy reads standing orders from feature columns 2..5; unit 1 of even games targets entity 4."""
    policy.order_features = (2, 3, 4, 5)
    obs = {key: value.clone() for key, value in obs.items()}
    ents = obs["entities"]
    ents[..., 4:6] = 0.0
    ents[::2, 1, 4:6] = ents[::2, 4, 2:4] - ents[::2, 1, 2:4]
    return obs


@pytest.mark.parametrize("orders", [False, True])
@pytest.mark.parametrize("sample", [True, False])
def test_decoding_only_the_units_with_a_choice_matches_decoding_every_slot(sample, orders):
    from agent.benchmarks.reference import every_slot_decode

    policy = make_policy()
    obs = single_choice_obs()
    if orders:
        obs = with_orders(policy, obs)
    with torch.no_grad():
        actions, logits, value_in, _ = policy.decode(obs, sample=sample,
                                                     generator=torch.Generator().manual_seed(6))
        expected_actions, expected_logits, expected_value_in, _ = every_slot_decode(
            policy, obs, sample=sample, generator=torch.Generator().manual_seed(6))
    assert torch.equal(actions, expected_actions)
    assert torch.allclose(value_in, expected_value_in, atol=1e-5)
    logp = torch.log_softmax(logits, -1).gather(-1, actions.unsqueeze(-1))
    expected_logp = torch.log_softmax(expected_logits, -1).gather(-1, actions.unsqueeze(-1))
    assert torch.allclose(logp, expected_logp, atol=1e-5)
    assert torch.allclose(torch.softmax(logits, -1), torch.softmax(expected_logits, -1), atol=1e-6)
    # The forced units took their one legal action (the entity target too, which later units saw claimed).
    layout = ActionLayout(max_entities=8, grid_size=GRID)
    assert (actions[::4, 0] == 0).all() and (actions[1::4, 0] == layout.encode(Verb.MOVE_ENTITY, 3)).all()
    assert (logp[::4, 0] == 0).all() and (logp[1::4, 0] == 0).all()


@pytest.mark.parametrize("orders", [False, True])
def test_training_logits_and_gradients_match_every_slot_through_the_heads(orders):
    from agent.benchmarks.reference import every_slot_forward

    policy = make_policy().train()
    obs = single_choice_obs()
    if orders:
        obs = with_orders(policy, obs)
    with torch.no_grad():
        actions, _, _, _ = policy.decode(obs, sample=True, generator=torch.Generator().manual_seed(7))

    loss, _, grads = loss_and_grads(policy, *policy(obs, actions)[:2], actions)
    expected_loss, _, expected_grads = loss_and_grads(policy, *every_slot_forward(policy, obs, actions)[:2],
                                                      actions)
    assert torch.allclose(loss, expected_loss, atol=1e-3)
    assert len(grads) == len(expected_grads)
    for got, want in zip(grads, expected_grads, strict=True):
        assert torch.allclose(got, want, atol=1e-4, rtol=1e-4)


def test_decode_with_no_unit_to_decide():
    policy = make_policy()
    obs = make_obs(5, 8)
    obs["action_mask"][:] = 0
    obs["action_mask"][..., 0] = 1
    with torch.no_grad():
        actions, logits, _, _ = policy.decode(obs, sample=True)
    assert (actions == 0).all() and (logits[..., 0] == 0).all() and (logits[..., 1:] == FLOAT_MIN).all()


def test_sampling_follows_the_distribution():
    logits = torch.tensor([0.0, 1.0, FLOAT_MIN, 2.0, FLOAT_MIN, -1.0]).expand(100_000, -1)
    layout = ActionLayout(max_entities=1, grid_size=1)  # unused when sampling
    uniforms = torch.rand(100_000, generator=torch.Generator().manual_seed(8))
    counts = torch.bincount(choose(logits, layout, uniforms), minlength=6).double()
    expected = torch.softmax(logits[0].double(), -1) * 100_000
    assert counts[2] == 0 and counts[4] == 0
    legal = expected > 0
    chi2 = (((counts - expected)[legal]) ** 2 / expected[legal]).sum()
    assert chi2 < 16.3  # chi-square with 3 degrees of freedom, p = 0.001
    # The edges of [0, 1) land on the first and the last legal action.
    assert choose(logits[:2], layout, torch.tensor([0.0, 1.0 - 1e-7])).tolist() == [0, 5]


def test_the_encoder_over_the_real_entities_is_the_encoder_over_every_slot():
    from agent.model.encoders import encode_real

    for name in ENCODERS:
        policy = make_policy(name)
        obs = single_choice_obs(16)
        mask = obs["entity_mask"].bool()
        mask[5] = False  # a game without entities
        x = torch.randn(16, 8, 16, generator=torch.Generator().manual_seed(9))
        with torch.no_grad():
            real, real_pooled = encode_real(policy.encoder, x, mask)
            every, every_pooled = policy.encoder(x, mask)
        assert torch.allclose(real, every, atol=1e-5) and torch.allclose(real_pooled, every_pooled, atol=1e-5)
