"""A generic Perceiver IO in torch (Jaegle et al., ICLR 2022): no game, no RL framework, only torch.

    from perceiver_io import PerceiverIO
    model = PerceiverIO(input_dim=64, query_dim=64)          # 32 latents, 3 latent blocks
    out = model(inputs, queries, input_mask=mask, query_mask=qmask)
    out.outputs, out.latents                                  # [B, Q, 64], [B, 32, 256]
    model(inputs, queries, return_attention=True).attention["encoder"]   # [B, heads, 32, N]

Layout: `attention` (primitives: masked SDPA attention, GELU MLP), `blocks` (pre-LayerNorm cross- and
self-attention blocks), `model` (encode / process / decode). A bad constructor argument raises
ValueError naming it (`checks`).
"""

from .attention import MLP, MultiHeadAttention, masked_attention
from .blocks import CrossAttentionBlock, SelfAttentionBlock
from .model import PerceiverIO, PerceiverOutput

__all__ = [
    "MLP",
    "CrossAttentionBlock",
    "MultiHeadAttention",
    "PerceiverIO",
    "PerceiverOutput",
    "SelfAttentionBlock",
    "masked_attention",
]
