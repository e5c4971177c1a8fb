"""The model: encode (latents read the inputs), process (latent self-attention), decode (queries read
the latents). Jaegle et al., "Perceiver IO", ICLR 2022, Fig. 2 and App. E.1.

Cost: the encoder is O(M N), the processor O(L M^2), the decoder O(Q M), with M latents, N inputs and
Q queries, so it is linear in N and Q where a transformer over N inputs is quadratic.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .blocks import CrossAttentionBlock, SelfAttentionBlock
from .checks import require_divisible, require_int, require_positive


class PerceiverOutput(NamedTuple):
    """What `PerceiverIO.forward` returns.

    outputs [B, Q, output_dim]; latents [B, M, latent_dim] after processing; attention is None unless
    asked for, else {"encoder": [B, Hc, M, N], "process": [[B, Hs, M, M]] * L, "decoder": [B, Hd, Q, M]}
    (the last decoder block's).
    """

    outputs: torch.Tensor
    latents: torch.Tensor
    attention: dict | None = None


def _hidden(ratio_name: str, ratio: float, dim: int) -> int:
    hidden = int(round(dim * require_positive(ratio_name, ratio)))
    if hidden < 1:
        raise ValueError(f"{ratio_name}={ratio} gives an empty MLP hidden layer for width {dim}")
    return hidden


class PerceiverIO(nn.Module):
    """Generic Perceiver IO over a set of inputs, decoded at caller-supplied queries.

    Keyword-only arguments (defaults in brackets):
      input_dim, query_dim: channels of the inputs and of the decoder queries (required).
      output_dim [query_dim]: channels of the outputs (a final linear layer when it differs or when
          `final_project` is set).
      num_latents [32], num_layers [3]: M latents and L latent self-attention blocks; 32 latents and
          3 layers as in the paper's set-of-entities experiment (Jaegle et al. 2022, Sec. 4.4, App. B).
      latent_dim [256]: width of the latent array (the paper does not list it for that run).
      cross_heads [1], self_heads [8], decoder_heads [1]: attention heads of the encoder
          cross-attention, latent self-attention and decoder cross-attention (paper App. E.1:
          1-head cross-attention, 8-head self-attention).
      cross_mlp_ratio [1], self_mlp_ratio [1], decoder_mlp_ratio [1]: MLP hidden width / block width;
          1 is the default widening factor of the DeepMind reference
          (deepmind-research/perceiver/perceiver.py: PerceiverEncoder, BasicDecoder).
      decoder_layers [1]: decoder cross-attention blocks, each query reading the latents again with what
          the block before gave it (the paper decodes with one; more tests whether one suffices when
          there are many outputs).
      query_residual [True]: add the queries back after the decoder attention (the paper lets the
          decoder drop it; keeping it lets each output carry its own query's features).
      final_project [False]: force a final linear layer even when output_dim == query_dim.

    A bad argument (a size below 1, a head count that does not divide its width) raises ValueError
    naming it.
    """

    def __init__(
        self,
        *,
        input_dim: int,
        query_dim: int,
        output_dim: int | None = None,
        num_latents: int = 32,
        latent_dim: int = 256,
        num_layers: int = 3,
        cross_heads: int = 1,
        self_heads: int = 8,
        decoder_heads: int = 1,
        cross_mlp_ratio: float = 1.0,
        self_mlp_ratio: float = 1.0,
        decoder_mlp_ratio: float = 1.0,
        decoder_layers: int = 1,
        query_residual: bool = True,
        final_project: bool = False,
    ) -> None:
        super().__init__()
        output_dim = query_dim if output_dim is None else output_dim
        for name, value in (("input_dim", input_dim), ("query_dim", query_dim), ("output_dim", output_dim),
                            ("num_latents", num_latents), ("latent_dim", latent_dim),
                            ("cross_heads", cross_heads), ("self_heads", self_heads),
                            ("decoder_heads", decoder_heads), ("decoder_layers", decoder_layers)):
            require_int(name, value)
        require_int("num_layers", num_layers, low=0)
        # Attention channels default to the query's width (the latents' for the encoder and processor).
        require_divisible("latent_dim", latent_dim, "cross_heads", cross_heads)
        require_divisible("latent_dim", latent_dim, "self_heads", self_heads)
        require_divisible("query_dim", query_dim, "decoder_heads", decoder_heads)
        # Truncated normal with std 0.02, the latent init of the DeepMind reference (z_pos_enc_init_scale).
        self.latents = nn.Parameter(nn.init.trunc_normal_(torch.empty(num_latents, latent_dim), std=0.02))
        self.encoder = CrossAttentionBlock(
            q_dim=latent_dim,
            kv_dim=input_dim,
            num_heads=cross_heads,
            mlp_hidden=_hidden("cross_mlp_ratio", cross_mlp_ratio, latent_dim),
        )
        self_hidden = _hidden("self_mlp_ratio", self_mlp_ratio, latent_dim)
        self.processor = nn.ModuleList(
            SelfAttentionBlock(dim=latent_dim, num_heads=self_heads, mlp_hidden=self_hidden)
            for _ in range(num_layers)
        )
        decoder_hidden = _hidden("decoder_mlp_ratio", decoder_mlp_ratio, query_dim)

        def decoder_block() -> CrossAttentionBlock:
            return CrossAttentionBlock(q_dim=query_dim, kv_dim=latent_dim, num_heads=decoder_heads,
                                       mlp_hidden=decoder_hidden, query_residual=query_residual)

        self.decoder = decoder_block()
        # Blocks 2..D apart from the first, so that a one-block model's parameters keep their names.
        self.later_decoders = nn.ModuleList(decoder_block() for _ in range(decoder_layers - 1))
        need_projection = final_project or output_dim != query_dim
        self.output = nn.Linear(query_dim, output_dim) if need_projection else nn.Identity()
        self.output_dim = output_dim

    def encode(
        self, inputs: torch.Tensor, input_mask: torch.Tensor | None = None, *, return_attention: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """inputs [B, N, input_dim], input_mask [B, N] bool (True = real) -> latents [B, M, latent_dim].

        Only the keys are masked: latents are never padding. With every input masked the latents are
        the learned initial latents passed through the block's MLP.
        """
        latents = self.latents.expand(inputs.shape[0], -1, -1)
        return self.encoder(latents, inputs, input_mask, return_weights=return_attention)

    def process(
        self, latents: torch.Tensor, *, return_attention: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """L latent self-attention blocks: [B, M, latent_dim] -> same shape (and weights if asked)."""
        weights = []
        for block in self.processor:
            latents, w = block(latents, return_weights=return_attention)
            if return_attention:
                weights.append(w)
        return latents, weights

    def decode(
        self,
        queries: torch.Tensor,
        latents: torch.Tensor,
        query_mask: torch.Tensor | None = None,
        *,
        return_attention: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """queries [B, Q, query_dim] read the latents -> [B, Q, output_dim]; masked queries give zeros.
        The weights returned are the last decoder block's."""
        out, weights = self.decoder(queries, latents, return_weights=return_attention)
        for block in self.later_decoders:
            out, weights = block(out, latents, return_weights=return_attention)
        out = self.output(out)
        if query_mask is not None:
            # where(), not a product: a masked query's garbage (even inf) must not leak as NaN.
            out = torch.where(query_mask[..., None], out, out.new_zeros(()))
        return out, weights

    def forward(
        self,
        inputs: torch.Tensor,
        queries: torch.Tensor,
        *,
        input_mask: torch.Tensor | None = None,
        query_mask: torch.Tensor | None = None,
        return_attention: bool = False,
    ) -> PerceiverOutput:
        """Encode `inputs`, process, decode at `queries`. See `PerceiverOutput` for the result."""
        latents, enc_w = self.encode(inputs, input_mask, return_attention=return_attention)
        latents, proc_w = self.process(latents, return_attention=return_attention)
        outputs, dec_w = self.decode(queries, latents, query_mask, return_attention=return_attention)
        attention = {"encoder": enc_w, "process": proc_w, "decoder": dec_w} if return_attention else None
        return PerceiverOutput(outputs, latents, attention)
