"""The per-unit heads at a battle's size (many units and entity slots, games unlike one another) give the
numbers of the unoptimised computation (agent/benchmarks/reference.py): the same actions, log-probabilities
and gradients, whether the units' rows fill the per-game grid of the pointer matmul or leave holes in it."""

from __future__ import annotations

import pytest
import torch

from agent.benchmarks.reference import every_slot_decode, every_slot_forward
from agent.model.deciding import choosing, game_grid, per_game_matmul
from agent.model.policy import EntityPolicy
from envs.action_space import ActionLayout, Verb
from tests.policy_loss import loss_and_grads

F, S, V, GRID = 8, 3, 10, 3
B, U, N = 4, 24, 60
REAL = (60, 41, 27, 50)  # real entities per game; the rest of the N slots is padding
POSITION = (0, 1)
ORDERS = (2, 3, 4, 5)  # dx_own, dy_own, order_dx, order_dy


def make_policy(economy: bool) -> EntityPolicy:
    torch.manual_seed(3)
    policy = EntityPolicy(num_features=F, num_scalars=S, num_unit_types=V, grid_size=GRID, width=16,
                          key_dim=8, encoder="none", position_features=POSITION, order_features=ORDERS,
                          economy=economy)
    with torch.no_grad():  # logits that differ clearly between choices, and claims and distances that count
        for head in [policy.verb_head, *policy.target_heads.values()]:
            head.weight.mul_(30.0)
        policy.claim_gain.bias.copy_(torch.tensor([-2.0, 1.5]))
        policy.distance_gain.bias.fill_(-0.5)
    return policy


def battle_obs(economy: bool, all_decide: bool) -> dict:
    """B games of U unit slots and N entity slots. Unless `all_decide`: dead unit slots (no-op only), a
    unit whose one legal action is an entity target, and one with no legal action, unevenly over games."""
    gen = torch.Generator().manual_seed(4)
    layout = ActionLayout(max_entities=N, grid_size=GRID, economy=economy)
    mask = torch.zeros(B, N, dtype=torch.int8)
    for game, real in enumerate(REAL):
        mask[game, :real] = 1
    action_mask = (torch.rand(B, U, layout.num_actions, generator=gen) < 0.5).to(torch.int8)
    for seg in layout.segments:
        if seg.size == N:  # padding is no target, except in game 1 (the entity mask must exclude it)
            for game in (0, 2, 3):
                action_mask[game, :, seg.start + REAL[game]: seg.start + seg.size] = 0
    action_mask[..., 0] = 1
    entities = torch.randn(B, N, F, generator=gen) * 3
    entities[:, :U, 4:6] = 0.0
    # Standing orders: every third unit's targets the entity 30 slots on.
    entities[:, :U:3, 4:6] = entities[:, 30:30 + U:3, 2:4] - entities[:, :U:3, 2:4]
    if not all_decide:
        action_mask[0, 15:] = 0  # game 0: its last units dead
        action_mask[0, 15:, 0] = 1
        action_mask[1, ::2] = 0  # game 1: every other unit dead
        action_mask[1, ::2, 0] = 1
        action_mask[2, 5] = 0  # game 2: a unit with one legal target, one with no legal action
        action_mask[2, 5, layout.encode(Verb.ATTACK_ENTITY, 7)] = 1
        action_mask[2, 9] = 0
    return {"entities": entities, "unit_type": torch.randint(1, V, (B, N), generator=gen),
            "entity_mask": mask, "scalars": torch.randn(B, S, generator=gen), "action_mask": action_mask}


def test_per_game_matmul_is_each_rows_product_with_its_games_matrix():
    gen = torch.Generator().manual_seed(5)
    right = torch.randn(3, 4, 7, generator=gen)
    # a decoding step (at most one row per game); holes and any order; every slot of the grid
    for rows in (torch.tensor([11, 2]), torch.tensor([11, 2, 0, 5, 10, 9]), torch.arange(15)):
        left = torch.randn(len(rows), 2, 4, generator=gen)
        assert game_grid(rows, 5, 3).dense == (len(rows) == 15)
        expected = torch.einsum("lmk,lkn->lmn", left, right[rows // 5])
        torch.testing.assert_close(per_game_matmul(left, right, rows, 5), expected)


@pytest.mark.parametrize("economy", [False, True])
@pytest.mark.parametrize("all_decide", [False, True])
def test_heads_at_scale_act_and_learn_as_the_unoptimised_computation(economy, all_decide):
    policy = make_policy(economy)
    obs = battle_obs(economy, all_decide)
    rows = choosing(obs["action_mask"].bool()).flatten().nonzero().squeeze(1)
    assert game_grid(rows, U, B).dense == all_decide  # both layouts of the pointer matmul are exercised
    with torch.no_grad():
        assert policy.heads(obs).standing.sum() > 10  # standing orders join the claims
        for sample in (False, True):
            got = policy.decode(obs, sample=sample, generator=torch.Generator().manual_seed(6))
            want = every_slot_decode(policy, obs, sample=sample, generator=torch.Generator().manual_seed(6))
            assert torch.equal(got[0], want[0])
            torch.testing.assert_close(torch.softmax(got[1], -1), torch.softmax(want[1], -1), atol=1e-6,
                                       rtol=1e-5)
        actions = got[0]
    layout = ActionLayout(max_entities=N, grid_size=GRID, economy=economy)
    verbs = set(torch.as_tensor(layout.verb_of_action)[actions].unique().tolist())
    assert {Verb.MOVE_ENTITY, Verb.ATTACK_ENTITY, Verb.MOVE_POINT, Verb.ATTACK_POINT} <= verbs

    _, logp, grads = loss_and_grads(policy, *policy(obs, actions)[:2], actions)
    _, want_logp, want_grads = loss_and_grads(policy, *every_slot_forward(policy, obs, actions)[:2], actions)
    assert len(grads) == len(list(policy.parameters()))  # every parameter takes part
    torch.testing.assert_close(logp, want_logp, atol=1e-4, rtol=1e-5)
    for got, want in zip(grads, want_grads, strict=True):
        scale = want.abs().max().clamp(min=1.0)
        torch.testing.assert_close(got / scale, want / scale, atol=1e-5, rtol=1e-4)
