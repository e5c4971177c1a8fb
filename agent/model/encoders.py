"""The entity-encoder zoo behind one interface, chosen by name (the ablation axis).

    enc = build_encoder("perceiver_io", dim_in=64, dim_out=64, num_latents=16)
    per_entity, pooled = enc(x, mask)   # x [B, N, dim_in], mask [B, N] bool (True = real entity)
                                        # -> [B, N, dim_out] (zeros at padding), [B, dim_out]

Every encoder ignores padding entirely: padded rows are zeroed on entry, masked as attention keys,
left out of pooling, and zero in the per-entity output. A batch row with no entity gives finite
outputs. Per-entity outputs are permutation-equivariant, pooled outputs permutation-invariant.
"""

from __future__ import annotations

import inspect
import math
import numbers
import types
import typing

import torch
from torch import nn

from envs.errors import UserError
from perceiver_io import PerceiverIO, SelfAttentionBlock


def masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real entities: h [B, N, C], mask [B, N] -> [B, C]; zeros for a row with none."""
    weights = mask.to(h.dtype)
    return torch.einsum("bnc,bn->bc", h, weights) / weights.sum(dim=1, keepdim=True).clamp(min=1.0)


def masked_max(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max over real entities: h [B, N, C], mask [B, N] -> [B, C]; zeros for a row with none."""
    top = h.masked_fill(~mask[..., None], float("-inf")).amax(dim=1)
    return torch.where(mask.any(dim=1, keepdim=True), top, top.new_zeros(()))


def _zero_padding(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    # where(), not a product, so that garbage (even inf/NaN) in padded rows cannot leak.
    return torch.where(mask[..., None], h, h.new_zeros(()))


class EntityEncoder(nn.Module):
    """Interface of every encoder.

    forward(x [B, N, dim_in], mask [B, N] bool) -> (per_entity [B, N, dim_out], pooled [B, dim_out]).
    """

    dim_out: int

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


class PerceiverIOEncoder(EntityEncoder):
    """M learned latents cross-attend to the entities, L latent blocks, then one decoder query per
    entity (the entity's own embedding: the unit-entity queries of Jaegle et al. 2022, Sec. 4.4).

    Options: num_latents=32, latent_dim=dim_out, num_layers=3, cross_heads=1, self_heads=8,
    decoder_heads=1, cross_mlp_ratio=1, self_mlp_ratio=1, decoder_mlp_ratio=1, decoder_layers=1 (see
    perceiver_io.PerceiverIO).
    pooled = Linear(LayerNorm(mean of the latents)): the latents already summarise the whole set.
    `forward(x, mask, return_attention=True)` also returns the encoder cross-attention weights
    [B, cross_heads, M, N] (zero on padded entities), computed on a separate, slower path.
    """

    def __init__(
        self,
        *,
        dim_in: int,
        dim_out: int,
        num_latents: int = 32,
        latent_dim: int | None = None,
        num_layers: int = 3,
        cross_heads: int = 1,
        self_heads: int = 8,
        decoder_heads: int = 1,
        cross_mlp_ratio: float = 1.0,
        self_mlp_ratio: float = 1.0,
        decoder_mlp_ratio: float = 1.0,
        decoder_layers: int = 1,
    ) -> None:
        super().__init__()
        latent_dim = dim_out if latent_dim is None else latent_dim
        self.perceiver = PerceiverIO(
            input_dim=dim_in,
            query_dim=dim_in,
            output_dim=dim_out,
            num_latents=num_latents,
            latent_dim=latent_dim,
            num_layers=num_layers,
            cross_heads=cross_heads,
            self_heads=self_heads,
            decoder_heads=decoder_heads,
            cross_mlp_ratio=cross_mlp_ratio,
            self_mlp_ratio=self_mlp_ratio,
            decoder_mlp_ratio=decoder_mlp_ratio,
            decoder_layers=decoder_layers,
            query_residual=True,
            final_project=True,
        )
        self.pool_norm = nn.LayerNorm(latent_dim)
        self.pool = nn.Linear(latent_dim, dim_out)
        self.dim_out = dim_out

    def forward(self, x: torch.Tensor, mask: torch.Tensor, *, return_attention: bool = False):
        x = _zero_padding(x, mask)
        out = self.perceiver(x, x, input_mask=mask, query_mask=mask, return_attention=return_attention)
        pooled = self.pool(self.pool_norm(out.latents.mean(dim=1)))
        if return_attention:
            return out.outputs, pooled, out.attention["encoder"]
        return out.outputs, pooled


class TransformerEncoder(EntityEncoder):
    """AlphaStar's entity transformer (Vinyals et al. 2019, supplementary "Entity encoder"): 3 layers of
    2-head self-attention with 128 channels per head for keys, queries and values, MLP hidden 1024.

    Options: num_layers=3, num_heads=2, head_dim=128, mlp_dim=1024. The residual width is dim_in
    (256 in AlphaStar). Differences from AlphaStar, kept for parity with the other encoders: pre-LayerNorm
    blocks with GELU MLPs, and linear output heads (LayerNorm -> Linear) where AlphaStar used ReLUs.
    pooled = Linear(masked mean of the final per-entity features), AlphaStar's `embedded_entity`.
    """

    def __init__(
        self,
        *,
        dim_in: int,
        dim_out: int,
        num_layers: int = 3,
        num_heads: int = 2,
        head_dim: int = 128,
        mlp_dim: int = 1024,
    ) -> None:
        super().__init__()
        channels = num_heads * head_dim
        self.blocks = nn.ModuleList(
            SelfAttentionBlock(
                dim=dim_in, num_heads=num_heads, qk_channels=channels, v_channels=channels, mlp_hidden=mlp_dim
            )
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(dim_in)
        self.out = nn.Linear(dim_in, dim_out)
        self.pool = nn.Linear(dim_in, dim_out)
        self.dim_out = dim_out

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = _zero_padding(x, mask)
        for block in self.blocks:
            h, _ = block(h, mask)
        h = self.norm(h)
        return _zero_padding(self.out(h), mask), self.pool(masked_mean(h, mask))


class DeepSetsEncoder(EntityEncoder):
    """DeepSets (Zaheer et al. 2017) with the pooled context joined back to every entity.

    phi: per-entity MLP (dim_in -> hidden -> hidden, ReLU); context = ReLU(Linear([masked mean, masked
    max] of phi)); per-entity = Linear(ReLU(W1 phi_i + W2 context)); pooled = Linear(context).
    Options: hidden_dim=dim_out.
    """

    def __init__(self, *, dim_in: int, dim_out: int, hidden_dim: int | None = None) -> None:
        super().__init__()
        hidden = dim_out if hidden_dim is None else hidden_dim
        self.phi = nn.Sequential(nn.Linear(dim_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.context = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU())
        # Linear([phi_i, context]) split in two so the context term is computed once per set.
        self.join_entity = nn.Linear(hidden, hidden)
        self.join_context = nn.Linear(hidden, hidden, bias=False)
        self.out = nn.Linear(hidden, dim_out)
        self.pool = nn.Linear(hidden, dim_out)
        self.dim_out = dim_out

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.phi(_zero_padding(x, mask))
        context = self.context(torch.cat([masked_mean(h, mask), masked_max(h, mask)], dim=-1))
        joined = torch.relu(self.join_entity(h) + self.join_context(context)[:, None, :])
        return _zero_padding(self.out(joined), mask), self.pool(context)


class NoEncoder(EntityEncoder):
    """The control arm: no exchange between entities. Each entity keeps its own embedding (a Linear only
    when the widths differ) and pooled is their masked mean, so a table can show what any encoder adds.
    No options."""

    def __init__(self, *, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.out = nn.Identity() if dim_in == dim_out else nn.Linear(dim_in, dim_out)
        self.dim_out = dim_out

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = _zero_padding(self.out(_zero_padding(x, mask)), mask)
        return h, masked_mean(h, mask)


ENCODERS: dict[str, type[EntityEncoder]] = {
    "perceiver_io": PerceiverIOEncoder,
    "transformer": TransformerEncoder,
    "deepsets": DeepSetsEncoder,
    "none": NoEncoder,
}


def encode_real(encoder: EntityEncoder, x: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`encoder(x, mask)` over the slots up to the most real entities any batch row has: each row's real
    entities move to the front (in slot order) and their outputs back to their slots. Encoders ignore
    padding (zero output there, pooled unchanged), so this is the same as the encoder over all N slots,
    without the work on the slots that are padding in every row (most of them once units die)."""
    most = max(int(mask.sum(dim=1).max()), 1) if mask.numel() else mask.shape[1]
    if most == mask.shape[1]:
        return encoder(x, mask)
    slots = torch.argsort((~mask).to(torch.uint8), dim=1, stable=True)[:, :most]  # [B, most]
    per_entity, pooled = encoder(x.gather(1, slots.unsqueeze(-1).expand(-1, -1, x.shape[-1])),
                                 mask.gather(1, slots))
    index = slots.unsqueeze(-1).expand(-1, -1, per_entity.shape[-1])
    return per_entity.new_zeros(*mask.shape, per_entity.shape[-1]).scatter(1, index, per_entity), pooled


def encoder_options(name: str) -> dict[str, object]:
    """The options an encoder accepts, with their defaults (None = derived from dim_out)."""
    if name not in ENCODERS:
        raise UserError(f"unknown encoder {name!r}; known encoders: {', '.join(sorted(ENCODERS))}")
    params = inspect.signature(ENCODERS[name].__init__).parameters.values()
    fixed = ("dim_in", "dim_out")
    return {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY and p.name not in fixed}


class EncoderOptionError(UserError):
    """One bad encoder option: `key` names it and `problem` says what is wrong with it."""

    def __init__(self, encoder: str, key: str, problem: str) -> None:
        super().__init__(f"encoder {encoder!r} option {key!r}: {problem}")
        self.key, self.problem = key, problem


# Every numeric option is a size: integers are at least 1 (a layer count may be 0), ratios positive.
_INT_MIN = {"num_layers": 0}


def check_options(name: str, options: dict) -> None:
    """Check each option by name and value (from the encoder's signature): an unknown name, a wrong type
    or a size out of range raises EncoderOptionError. Constraints between options (a head count that must
    divide a width) are the constructor's: `build_encoder` reports those."""
    allowed = encoder_options(name)
    hints = typing.get_type_hints(ENCODERS[name].__init__)
    for key, value in options.items():
        if key not in allowed:
            raise EncoderOptionError(name, key, f"not an option of encoder {name!r} (its options: "
                                                f"{', '.join(sorted(allowed))})")
        hint, optional = hints[key], False
        if isinstance(hint, types.UnionType):
            optional, hint = True, next(h for h in typing.get_args(hint) if h is not type(None))
        if value is None and optional:
            continue
        if hint is int:
            low = _INT_MIN.get(key, 1)
            ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low
            expected = f"an integer >= {low}"
        else:
            ok = (isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
                  and value > 0)
            expected = "a number > 0"
        if not ok:
            default = "" if allowed[key] is None else f" (default {allowed[key]})"
            raise EncoderOptionError(name, key, f"expected {expected}{default}, got {value!r}")


def build_encoder(name: str, *, dim_in: int, dim_out: int, **options) -> EntityEncoder:
    """Build the encoder registered as `name`; a bad name, option or value raises UserError."""
    check_options(name, options)
    try:
        return ENCODERS[name](dim_in=dim_in, dim_out=dim_out, **options)
    except (ValueError, TypeError) as err:  # perceiver_io's checks of sizes that depend on each other
        raise UserError(f"encoder {name!r}: {err}") from None
