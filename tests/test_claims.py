"""Ordered decoding's claims: this step's picks of the units before, and the standing orders of the rest."""

from __future__ import annotations

import torch

from agent.model.claims import claims_before, first_claims, next_claims, standing_targets
from agent.model.policy import EntityPolicy
from envs.action_space import ActionLayout, Verb

F, S, V, GRID, U, N = 6, 3, 10, 2, 3, 8
COLUMNS = (2, 3, 4, 5)  # dx_own, dy_own, order_dx, order_dy


def _obs(batch: int = 1, seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    layout = ActionLayout(max_entities=N, grid_size=GRID)
    entities = torch.randn(batch, N, F, generator=gen)
    entities[:, :U, 4:] = 0.0  # no standing orders unless a test gives one
    return {"entities": entities, "unit_type": torch.randint(1, V, (batch, N), generator=gen),
            "entity_mask": torch.ones(batch, N, dtype=torch.int8),
            "scalars": torch.randn(batch, S, generator=gen),
            "action_mask": torch.ones(batch, U, layout.num_actions, dtype=torch.int8)}


def _order(obs: dict, unit: int, target: int, miss: float = 0.0) -> None:
    """Give `unit` a standing order on entity slot `target` (off by `miss` in offset units)."""
    e = obs["entities"]
    e[:, unit, 4:6] = e[:, target, 2:4] - e[:, unit, 2:4] + miss


def test_a_standing_order_is_matched_to_the_entity_it_targets():
    obs = _obs()
    _order(obs, 0, 5)
    _order(obs, 2, 6, miss=0.01)  # 0.16 world units off: a point order near the entity, not on it
    standing = standing_targets(obs["entities"], obs["entity_mask"], U, COLUMNS, GRID * GRID)
    assert standing.shape == (1, U, N + GRID * GRID)
    assert standing[0, 0].nonzero().flatten().tolist() == [5]
    assert standing[0, 1].sum() == 0 and standing[0, 2].sum() == 0


def test_claims_count_the_picks_before_and_the_standing_orders_of_the_others():
    width = N + GRID * GRID
    standing = torch.zeros(1, U, width)
    standing[0, 0, 5] = standing[0, 1, 6] = standing[0, 2, 5] = 1.0
    picked = torch.zeros(1, U, width)
    picked[0, 1, 7] = 1.0  # unit 1 attacks entity 7; units 0 and 2 keep their orders
    noop = torch.tensor([[True, False, True]])
    claims = claims_before(picked, noop, standing)
    expected = torch.zeros(1, U, width)
    expected[0, 0, 6] = expected[0, 0, 5] = 1.0  # unit 0: units 1 and 2 still on their standing orders
    expected[0, 1, 5] = 2.0  # unit 1: unit 0 kept entity 5, unit 2 will
    expected[0, 2, 5] = expected[0, 2, 7] = 1.0  # unit 2: unit 0 on 5, unit 1 switched to 7
    assert torch.equal(claims, expected)
    # Decoding unit by unit reaches the same claims.
    step = first_claims(standing, 1, width, standing)
    for unit in range(U):
        assert torch.equal(step[:, 0], claims[:, unit])
        step = next_claims(step, unit, picked[:, unit:unit + 1], noop[:, unit:unit + 1], standing)
    # Without standing orders only this step's picks of the units before count.
    assert torch.equal(claims_before(picked, noop, None), picked.cumsum(1) - picked)


def _policy() -> EntityPolicy:
    torch.manual_seed(0)
    policy = EntityPolicy(num_features=F, num_scalars=S, num_unit_types=V, grid_size=GRID, width=16,
                          key_dim=8, encoder="deepsets", order_features=COLUMNS).eval()
    with torch.no_grad():
        policy.claim_gain.bias.copy_(torch.tensor([3.0, -1.0]))  # focus fire: join the others' target
    return policy


def test_decoding_with_standing_orders_gives_the_logits_training_recomputes():
    policy = _policy()
    obs = _obs(batch=16, seed=1)
    for b in range(16):
        _order({k: v[b:b + 1] for k, v in obs.items()}, b % U, (b + 3) % N)
    with torch.no_grad():
        actions, logits, _, _ = policy.decode(obs, sample=True, generator=torch.Generator().manual_seed(2))
        again, _, _ = policy(obs, actions)
    assert torch.allclose(logits, again, atol=1e-5)


def test_a_later_units_standing_order_draws_an_earlier_units_fire():
    policy = _policy()
    obs = _obs()
    layout = ActionLayout(max_entities=N, grid_size=GRID)
    attack = layout.segment(Verb.ATTACK_ENTITY)
    with torch.no_grad():
        _, before, _, _ = policy.decode(obs, sample=False)
        _order(obs, 2, 6)  # unit 2, decided last, holds an order on entity 6
        _, after, _, _ = policy.decode(obs, sample=False)
    target = lambda x: torch.log_softmax(x[0, 0, attack.start:attack.start + N], -1)  # noqa: E731
    shift = target(after) - target(before)
    relative = shift[6] - shift[torch.arange(N) != 6]  # entity 6 against every other target
    assert torch.allclose(relative, torch.full_like(relative, 3.0), atol=0.05)  # gain 3 x one claim
