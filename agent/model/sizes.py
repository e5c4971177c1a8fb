"""Encoder sizes matched for the ablation: every encoder at a width as large as the reference Perceiver IO.

The rule, at any width D:
- Perceiver IO is the reference: 16 latents of width D, 2 latent self-attention layers with 4 heads. An
  entity's output passes through 4 attention blocks (encoder cross-attention, 2 latent layers, decoder
  cross-attention).
- The transformer gets the same 4 attention blocks (2 heads of D/2 channels, so attention is D wide) and
  the MLP width that brings its parameter count closest to the reference's.
- DeepSets has no attention; its hidden width brings its parameter count closest to the reference's.
- The control arm (`none`) has no exchange between entities and no options.
tests/test_encoders.py checks that the matched counts fall within 10% of the reference's at the widths the
configs use.
"""

from __future__ import annotations

import functools

import torch

from agent.model.encoders import ENCODERS, build_encoder, encoder_options

REFERENCE_LATENTS, REFERENCE_LAYERS, REFERENCE_HEADS = 16, 2, 4


def parameter_count(name: str, width: int, options: dict) -> int:
    """Parameters of encoder `name` at width D in and out, counted without allocating (meta device)."""
    with torch.device("meta"):
        encoder = build_encoder(name, dim_in=width, dim_out=width, **options)
    return sum(p.numel() for p in encoder.parameters())


def reference_options(width: int) -> dict:
    heads = REFERENCE_HEADS if width % REFERENCE_HEADS == 0 else 1
    return {"num_latents": REFERENCE_LATENTS, "num_layers": REFERENCE_LAYERS, "self_heads": heads}


def attention_blocks(name: str, options: dict) -> int:
    """Attention blocks between an entity's embedding and its output."""
    if name == "perceiver_io":
        decoder_layers = options.get("decoder_layers", encoder_options(name)["decoder_layers"])
        return 1 + options["num_layers"] + decoder_layers  # cross-attend in, latent layers, cross-attend out
    if name == "transformer":
        return options["num_layers"]
    return 0


def matched_options(name: str, width: int) -> dict:
    """The options that size encoder `name` like the reference Perceiver IO at width D (the rule above)."""
    return dict(_matched(name, width))


@functools.cache
def _matched(name: str, width: int) -> dict:
    if name not in ENCODERS:
        build_encoder(name, dim_in=width, dim_out=width)  # raises the registry's error
    reference = reference_options(width)
    if name == "perceiver_io":
        return reference
    if name == "none":
        return {}
    target = parameter_count("perceiver_io", width, reference)
    if name == "transformer":
        heads = 2 if width % 2 == 0 else 1
        fixed = {"num_layers": attention_blocks("perceiver_io", reference), "num_heads": heads,
                 "head_dim": width // heads}
        size = 16 * width
        mlp_dim = _closest(lambda m: parameter_count(name, width, {**fixed, "mlp_dim": m}), target, size)
        return {**fixed, "mlp_dim": mlp_dim}
    hidden = _closest(lambda h: parameter_count(name, width, {"hidden_dim": h}), target, 16 * width)
    return {"hidden_dim": hidden}


def _closest(count, target: int, high: int) -> int:
    """The size in [1, high] whose parameter count is closest to target; count must grow with size."""
    low = 1
    while low < high:  # first size with count >= target
        mid = (low + high) // 2
        low, high = (mid + 1, high) if count(mid) < target else (low, mid)
    below = max(1, low - 1)
    return low if abs(count(low) - target) <= abs(count(below) - target) else below
