"""The scale of the value head: raw value = scale x the head's output, with the scale adapted to the returns.

Every map pays on its own scale (a beacon 1, a Roach 10, a SMAC win 200), and PPO's value loss is tuned
for targets of order 1: RLlib clamps the squared value error at `vf_clip_param`, so a critic whose errors
exceed about sqrt(10) gets no gradient at all. PPO therefore learns in units of `scale`: rewards are
divided by it before advantages and value targets are computed (agent/rllib/learner.py), and `scale`
follows the root mean square of the value targets, so they stay of order 1 on every map.

This is PopArt's adaptive rescaling without its shift (van Hasselt et al. 2016, "Learning values across
many orders of magnitude"): when the scale changes, the value head's output layer is rescaled by
old / new, so the raw values it predicts are preserved exactly ("Preserving Outputs Precisely"). No shift
keeps advantage estimation exact: with raw value = scale x output, every TD error is scale x its scaled
counterpart. Dividing rewards by a running return scale is the reward scaling of Engstrom et al. 2020
("Implementation Matters in Deep Policy Gradients"); here the statistic is the value targets' own.

The statistics are buffers, saved with the weights: a resumed run continues with exactly the same scale.
"""

from __future__ import annotations

import math

import torch
from torch import nn

# Per PPO iteration, the weight of the newest batch's mean square in the running mean (debiased as Adam's
# moments are): about the last ten iterations count, so the scale follows returns that grow as the policy
# learns, while one lucky batch moves it by a tenth.
DECAY = 0.9
# A map whose returns have been zero so far (random play that never scores) gets its rewards multiplied
# by at most 1/FLOOR when the first ones arrive.
FLOOR = 1e-2


class ReturnScale(nn.Module):
    """Buffers: `scale` (the divisor in use), `second_moment` (running mean of squared raw value targets,
    before debiasing) and `updates` (how many batches it has seen)."""

    def __init__(self) -> None:
        super().__init__()
        # float32 like the weights: RLlib's state round trip (checkpoints, weight sync) turns float64 into
        # float32, and a resumed run must continue with exactly the numbers it saved.
        self.register_buffer("scale", torch.ones(()))
        self.register_buffer("second_moment", torch.zeros(()))
        self.register_buffer("updates", torch.zeros(()))

    @torch.no_grad()
    def update(self, mean_square: float, output_layer: nn.Linear) -> tuple[float, float]:
        """Fold in a batch's mean squared raw value target; rescale `output_layer` (the value head's last
        layer) so that its raw values stay the same. Returns (old scale, new scale)."""
        if not math.isfinite(mean_square) or mean_square < 0:
            raise ValueError(f"mean squared return must be finite and >= 0, got {mean_square}")
        old = float(self.scale)
        self.updates += 1
        self.second_moment.mul_(DECAY).add_((1.0 - DECAY) * mean_square)
        debiased = float(self.second_moment) / (1.0 - DECAY ** float(self.updates))
        self.scale.fill_(max(math.sqrt(debiased), FLOOR))
        new = float(self.scale)  # as stored
        output_layer.weight.mul_(old / new)
        output_layer.bias.mul_(old / new)
        return old, new
