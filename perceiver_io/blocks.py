"""Modules: pre-LayerNorm cross-attention and self-attention blocks with GELU MLPs.

Block layout after Perceiver IO (Jaegle et al. 2022, App. E.1, GPT-2 style):
    X = Attn(LN(Xq), LN(Xkv));  X = X + Xq (optional for cross-attention);  X = X + MLP(LN(X)).
"""

from __future__ import annotations

import torch
from torch import nn

from .attention import MLP, MultiHeadAttention


class CrossAttentionBlock(nn.Module):
    """Queries [B, Lq, q_dim] attend to a key/value array [B, Lk, kv_dim]; output [B, Lq, q_dim]."""

    def __init__(
        self,
        *,
        q_dim: int,
        kv_dim: int,
        mlp_hidden: int,
        num_heads: int = 1,
        qk_channels: int | None = None,
        v_channels: int | None = None,
        query_residual: bool = True,
    ) -> None:
        super().__init__()
        self.norm_q = nn.LayerNorm(q_dim)
        self.norm_kv = nn.LayerNorm(kv_dim)
        self.attn = MultiHeadAttention(
            q_dim=q_dim, kv_dim=kv_dim, num_heads=num_heads, qk_channels=qk_channels, v_channels=v_channels
        )
        self.norm_mlp = nn.LayerNorm(q_dim)
        self.mlp = MLP(dim=q_dim, hidden=mlp_hidden)
        self.query_residual = query_residual

    def forward(
        self,
        x_q: torch.Tensor,
        x_kv: torch.Tensor,
        key_mask: torch.Tensor | None = None,
        *,
        return_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Returns (output [B, Lq, q_dim], attention weights [B, H, Lq, Lk] or None)."""
        x, weights = self.attn(self.norm_q(x_q), self.norm_kv(x_kv), key_mask, return_weights=return_weights)
        if self.query_residual:
            x = x + x_q
        return x + self.mlp(self.norm_mlp(x)), weights


class SelfAttentionBlock(nn.Module):
    """Self-attention over [B, L, dim] with an optional key mask [B, L]; output [B, L, dim]."""

    def __init__(
        self,
        *,
        dim: int,
        mlp_hidden: int,
        num_heads: int = 8,
        qk_channels: int | None = None,
        v_channels: int | None = None,
    ) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(
            q_dim=dim, kv_dim=dim, num_heads=num_heads, qk_channels=qk_channels, v_channels=v_channels
        )
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = MLP(dim=dim, hidden=mlp_hidden)

    def forward(
        self,
        x: torch.Tensor,
        key_mask: torch.Tensor | None = None,
        *,
        return_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Returns (output [B, L, dim], attention weights [B, H, L, L] or None)."""
        h = self.norm(x)
        a, weights = self.attn(h, h, key_mask, return_weights=return_weights)
        x = x + a
        return x + self.mlp(self.norm_mlp(x)), weights
