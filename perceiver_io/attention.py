"""Primitives: masked multi-head attention on top of SDPA, and the GELU MLP.

The default path calls `torch.nn.functional.scaled_dot_product_attention` (a fused kernel on CPU and
GPU). Attention weights are only materialised when a caller asks for them, on a separate path.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .checks import require_divisible, require_int


def masked_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    key_mask: torch.Tensor | None = None,
    *,
    return_weights: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Scaled dot-product attention over heads with a per-key mask.

    q [B, H, Lq, C], k [B, H, Lk, C], v [B, H, Lk, Cv]; key_mask [B, Lk] bool, True = may be attended.
    Returns (out [B, H, Lq, Cv], weights [B, H, Lq, Lk] or None).

    A row whose keys are all masked attends to nothing: its output is exactly zero (SDPA alone would
    return NaN from a softmax over an empty set). Its weights are zero too.
    """
    if key_mask is None:
        if not return_weights:
            return F.scaled_dot_product_attention(q, k, v), None
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
        return weights @ v, weights
    has_key = key_mask.any(dim=-1)  # [B]
    # Let empty rows see every key so that the softmax stays finite, then zero their output.
    safe_mask = (key_mask | ~has_key[:, None])[:, None, None, :]  # [B, 1, 1, Lk]
    keep = has_key[:, None, None, None].to(q.dtype)
    if not return_weights:
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=safe_mask)
        return out * keep, None
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~safe_mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1) * keep
    return weights @ v, weights


class MultiHeadAttention(nn.Module):
    """Project queries and keys/values, attend per head, project back to `out_dim`.

    qk_channels and v_channels are the totals over heads (each must divide by num_heads), as in the
    DeepMind Perceiver reference (deepmind-research/perceiver/perceiver.py, `Attention`), where both
    default to the query's channels.
    """

    def __init__(
        self,
        *,
        q_dim: int,
        kv_dim: int,
        num_heads: int = 1,
        qk_channels: int | None = None,
        v_channels: int | None = None,
        out_dim: int | None = None,
    ) -> None:
        super().__init__()
        qk_channels = q_dim if qk_channels is None else qk_channels
        v_channels = qk_channels if v_channels is None else v_channels
        out_dim = q_dim if out_dim is None else out_dim
        for name, value in (("q_dim", q_dim), ("kv_dim", kv_dim), ("num_heads", num_heads),
                            ("qk_channels", qk_channels), ("v_channels", v_channels), ("out_dim", out_dim)):
            require_int(name, value)
        require_divisible("qk_channels", qk_channels, "num_heads", num_heads)
        require_divisible("v_channels", v_channels, "num_heads", num_heads)
        self.num_heads = num_heads
        self.to_q = nn.Linear(q_dim, qk_channels)
        self.to_k = nn.Linear(kv_dim, qk_channels)
        self.to_v = nn.Linear(kv_dim, v_channels)
        self.to_out = nn.Linear(v_channels, out_dim)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        return x.view(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)

    def forward(
        self,
        x_q: torch.Tensor,
        x_kv: torch.Tensor,
        key_mask: torch.Tensor | None = None,
        *,
        return_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x_q [B, Lq, q_dim], x_kv [B, Lk, kv_dim] -> ([B, Lq, out_dim], weights [B, H, Lq, Lk] or None)."""
        q, k, v = self._split(self.to_q(x_q)), self._split(self.to_k(x_kv)), self._split(self.to_v(x_kv))
        out, weights = masked_attention(q, k, v, key_mask, return_weights=return_weights)
        b, h, n, c = out.shape
        return self.to_out(out.transpose(1, 2).reshape(b, n, h * c)), weights


class MLP(nn.Module):
    """Linear -> GELU -> Linear, the Perceiver IO feed-forward (Jaegle et al. 2022, App. E.1)."""

    def __init__(self, *, dim: int, hidden: int) -> None:
        super().__init__()
        require_int("dim", dim)
        require_int("hidden", hidden)
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
