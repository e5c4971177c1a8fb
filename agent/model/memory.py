"""The recurrent core: an LSTM between the encoded observation and the heads, as AlphaStar's core is
(Vinyals et al. 2019, "Grandmaster level in StarCraft II using multi-agent reinforcement learning").

Under fog (FindAndDefeatZerglings) the entity encoder sees only what is in sight; the core's state carries
what was seen before. The state is per game and starts at zero with every episode. Observations may come
with a time axis, [B, T, ...] (training: T steps of one episode per row, the state given at the first), or
without one, [B, ...] (acting: one step per game).
"""

from __future__ import annotations

import torch
from torch import nn

# Trailing dimensions of each observation key: whatever comes before them is batch (and time).
OBS_RANK = {"entities": 2, "unit_type": 1, "entity_mask": 1, "scalars": 1, "action_mask": 2}

State = tuple[torch.Tensor, torch.Tensor]  # (h, c), each [B, H]


def flatten_steps(obs: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], tuple[int, ...]]:
    """Observations with leading dims L ([B] or [B, T]) -> the same flattened to [prod(L), ...], and L."""
    lead = tuple(obs["entities"].shape[: obs["entities"].dim() - OBS_RANK["entities"]])
    flat = {key: value.reshape(-1, *value.shape[len(lead):]) for key, value in obs.items() if key in OBS_RANK}
    return flat, lead


class Core(nn.Module):
    """One LSTM layer of `dim` cells over the per-step features [.., dim_in]."""

    def __init__(self, dim_in: int, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.lstm = nn.LSTM(dim_in, dim, batch_first=True)

    def initial_state(self, batch: int, device: torch.device | None = None) -> State:
        zeros = torch.zeros(batch, self.dim, device=device)
        return zeros, zeros.clone()

    def forward(self, x: torch.Tensor, lead: tuple[int, ...],
                state: State | None) -> tuple[torch.Tensor, State]:
        """x [prod(lead), dim_in] of the steps in `lead` order ([B] = one step each, [B, T] = T steps each)
        -> ([prod(lead), dim], the state after each row's last step)."""
        batch, steps = lead[0], (lead[1] if len(lead) > 1 else 1)
        if state is None:
            state = self.initial_state(batch, x.device)
        h, c = (part.unsqueeze(0).contiguous() for part in state)  # [layers = 1, B, H]
        out, (h, c) = self.lstm(x.reshape(batch, steps, -1), (h, c))
        return out.reshape(batch * steps, -1), (h.squeeze(0), c.squeeze(0))
