"""A loss touching every part of the policy's output, for comparing two computations' gradients."""

from __future__ import annotations

import torch


def loss_and_grads(policy, logits: torch.Tensor, value_in: torch.Tensor, actions: torch.Tensor):
    """(loss, log-probabilities of `actions`, gradients of the parameters that have one) of log p(actions) +
    0.1 x entropy + value, from the policy's logits [B, U, A] and value features."""
    logp = torch.log_softmax(logits, -1)
    entropy = -(torch.softmax(logits, -1) * logp).sum()
    taken = logp.gather(-1, actions.unsqueeze(-1))
    loss = taken.sum() + 0.1 * entropy + policy.value(value_in).sum()
    policy.zero_grad()
    loss.backward()
    return loss.detach(), taken.detach(), [p.grad.clone() for p in policy.parameters() if p.grad is not None]
