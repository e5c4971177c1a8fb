"""The entity-encoder zoo: masking, permutation symmetry, gradients, batching, registry errors, FLOPs."""

from __future__ import annotations

import math

import pytest
import torch

from agent.benchmarks.encoders import build_alphastar_sized, count_forward_flops, sdpa_flop_mapping
from agent.model.encoders import ENCODERS, EncoderOptionError, EntityEncoder, build_encoder, encoder_options
from agent.model.sizes import attention_blocks, matched_options, parameter_count
from envs.errors import UserError

DIM_IN, DIM_OUT = 24, 16
# Small widths keep each test in milliseconds; the defaults are exercised by the FLOP test below.
SMALL = {
    "perceiver_io": dict(num_latents=8, latent_dim=32, num_layers=2, self_heads=4),
    "transformer": dict(num_layers=2, num_heads=2, head_dim=8, mlp_dim=32),
    "deepsets": dict(hidden_dim=32),
    "none": {},
}
NAMES = sorted(ENCODERS)


def make(name: str) -> EntityEncoder:
    torch.manual_seed(0)
    return build_encoder(name, dim_in=DIM_IN, dim_out=DIM_OUT, **SMALL[name]).eval()


def test_every_registered_encoder_is_covered():
    assert set(SMALL) == set(ENCODERS)


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_padding_zeroed(name):
    enc = make(name)
    x, mask = torch.randn(3, 7, DIM_IN), torch.rand(3, 7) > 0.4
    per_entity, pooled = enc(x, mask)
    assert per_entity.shape == (3, 7, DIM_OUT) and pooled.shape == (3, DIM_OUT)
    assert enc.dim_out == DIM_OUT
    assert torch.all(per_entity[~mask] == 0)
    assert per_entity[mask].abs().sum() > 0


@pytest.mark.parametrize("name", NAMES)
def test_real_outputs_ignore_padding(name):
    """The same 5 entities, alone or scattered among garbage padding of two lengths: same outputs."""
    enc = make(name)
    gen = torch.Generator().manual_seed(1)
    real = torch.randn(2, 5, DIM_IN, generator=gen)
    ref_entity, ref_pooled = enc(real, torch.ones(2, 5, dtype=torch.bool))
    for total in (9, 23):
        x = 100 * torch.randn(2, total, DIM_IN, generator=gen)  # large garbage in the padding
        mask = torch.zeros(2, total, dtype=torch.bool)
        slots = torch.stack([torch.randperm(total, generator=gen)[:5].sort().values for _ in range(2)])
        for b in range(2):
            x[b, slots[b]] = real[b]
            mask[b, slots[b]] = True
        per_entity, pooled = enc(x, mask)
        for b in range(2):
            torch.testing.assert_close(per_entity[b, slots[b]], ref_entity[b], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(pooled, ref_pooled, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_permutation_equivariance(name):
    enc = make(name)
    x, mask = torch.randn(2, 11, DIM_IN), torch.rand(2, 11) > 0.3
    perm = torch.randperm(11)
    per_entity, pooled = enc(x, mask)
    per_p, pooled_p = enc(x[:, perm], mask[:, perm])
    torch.testing.assert_close(per_p, per_entity[:, perm], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pooled_p, pooled, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_all_masked_row_is_finite_and_does_not_disturb_others(name):
    enc = make(name)
    x, mask = torch.randn(3, 6, DIM_IN), torch.rand(3, 6) > 0.3
    mask[1] = False
    mask[0, 0] = True
    x.requires_grad_(True)
    per_entity, pooled = enc(x, mask)
    assert torch.isfinite(per_entity).all() and torch.isfinite(pooled).all()
    assert torch.all(per_entity[1] == 0)
    (per_entity.sum() + pooled.sum()).backward()
    assert torch.isfinite(x.grad).all()
    alone_entity, alone_pooled = enc(x[[0]], mask[[0]])
    torch.testing.assert_close(alone_entity, per_entity[[0]], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(alone_pooled, pooled[[0]], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_every_parameter(name):
    enc = make(name).train()
    x, mask = torch.randn(4, 9, DIM_IN), torch.rand(4, 9) > 0.3
    per_entity, pooled = enc(x, mask)
    # Random weights: a plain sum can leave some parameters with an exactly zero gradient by symmetry.
    loss = (per_entity * torch.randn_like(per_entity)).sum() + (pooled * torch.randn_like(pooled)).sum()
    loss.backward()
    for pname, param in enc.named_parameters():
        assert param.grad is not None, pname
        assert param.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", NAMES)
def test_batch_of_one_equals_slice_of_batch(name):
    enc = make(name)
    x, mask = torch.randn(8, 10, DIM_IN), torch.rand(8, 10) > 0.3
    per_entity, pooled = enc(x, mask)
    for i in (0, 5):
        one_entity, one_pooled = enc(x[i : i + 1], mask[i : i + 1])
        torch.testing.assert_close(one_entity, per_entity[i : i + 1], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(one_pooled, pooled[i : i + 1], atol=1e-5, rtol=1e-5)


def test_perceiver_attention_weights_match_default_path():
    enc = make("perceiver_io")
    x, mask = torch.randn(2, 12, DIM_IN), torch.rand(2, 12) > 0.3
    per_entity, pooled = enc(x, mask)
    per_w, pooled_w, attn = enc(x, mask, return_attention=True)
    torch.testing.assert_close(per_w, per_entity, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pooled_w, pooled, atol=1e-5, rtol=1e-5)
    assert attn.shape == (2, 1, 8, 12)  # [B, cross heads, latents, entities]
    assert torch.all(attn.masked_select(~mask[:, None, None, :]) == 0)
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 1, 8))


def test_unknown_name_lists_known_encoders():
    with pytest.raises(UserError) as err:
        build_encoder("lstm", dim_in=8, dim_out=8)
    for name in ENCODERS:
        assert name in str(err.value)


def test_unknown_option_names_it_and_the_allowed_ones():
    with pytest.raises(UserError) as err:
        build_encoder("transformer", dim_in=8, dim_out=8, num_latents=4)
    message = str(err.value)
    assert "num_latents" in message and "num_heads" in message and "mlp_dim" in message


def test_bad_option_value_is_a_user_error():
    with pytest.raises(UserError, match="divisible"):
        build_encoder("perceiver_io", dim_in=8, dim_out=12, self_heads=5)


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_every_numeric_option_out_of_range_names_the_option(name):
    # Each option by name and value, before any layer is built: zero heads or a negative width would
    # otherwise surface as a ZeroDivisionError or a torch RuntimeError.
    for key, default in encoder_options(name).items():
        bad = [-1, 2.5, "8", True] if key == "num_layers" else [0, -8, "8", False]
        if isinstance(default, float):
            bad = [0.0, -1.0, float("inf"), "1"]
        for value in bad:
            with pytest.raises(EncoderOptionError) as err:
                build_encoder(name, dim_in=8, dim_out=8, **{key: value})
            prefix = f"encoder {name!r} option {key!r}: "
            assert (err.value.key, str(err.value)) == (key, prefix + err.value.problem)
            assert repr(value) in err.value.problem


def test_documented_defaults():
    pio = encoder_options("perceiver_io")
    assert (pio["num_latents"], pio["num_layers"], pio["cross_heads"], pio["self_heads"]) == (32, 3, 1, 8)
    tr = encoder_options("transformer")
    assert (tr["num_layers"], tr["num_heads"], tr["head_dim"], tr["mlp_dim"]) == (3, 2, 128, 1024)


def test_sdpa_flops_are_counted():
    """FlopCounterMode alone counts 0 for CPU SDPA; with our mapping one call counts 4*B*H*Lq*Lk*C."""
    b, h, lq, lk, c = 2, 3, 5, 7, 4
    q, k, v = torch.randn(b, h, lq, c), torch.randn(b, h, lk, c), torch.randn(b, h, lk, c)
    flops = count_forward_flops(torch.nn.functional.scaled_dot_product_attention, q, k, v)
    assert flops == 4 * b * h * lq * lk * c
    # The backward kernel is registered too. torch counts it as 5 matmuls of the forward's sizes (the
    # scores are recomputed, as flash attention does), so forward + backward is 7/2 of the forward.
    from torch.utils.flop_counter import FlopCounterMode

    q.requires_grad_(True)
    counter = FlopCounterMode(display=False, custom_mapping=sdpa_flop_mapping())
    with counter:
        torch.nn.functional.scaled_dot_product_attention(q, k, v).sum().backward()
    assert 2 * counter.get_total_flops() == 7 * flops


def test_perceiver_needs_4x_fewer_flops_than_transformer_at_512():
    """At AlphaStar sizes (input 256), batch 1, N=512; and the growth to N=1024."""
    flops = {}
    for name in ("perceiver_io", "transformer"):
        enc = build_alphastar_sized(name)
        for n in (512, 1024):
            x, mask = torch.randn(1, n, 256), torch.ones(1, n, dtype=torch.bool)
            flops[name, n] = count_forward_flops(enc, x, mask)
    assert flops["transformer", 512] >= 4 * flops["perceiver_io", 512]
    # Linear vs quadratic: doubling N at most doubles PIO's cost, and more than doubles the transformer's.
    assert flops["perceiver_io", 1024] <= 2 * flops["perceiver_io", 512]
    assert flops["transformer", 1024] > 2.2 * flops["transformer", 512]
    # The transformer's count is a*N + b*N^2 with b from its attention matmuls alone: 2 per layer,
    # each 2*N^2*256 FLOPs, so F(1024) - 2 F(512) = b (1024^2 - 2 * 512^2) isolates b.
    b = 3 * 2 * 2 * 256
    quadratic = flops["transformer", 1024] - 2 * flops["transformer", 512]
    assert math.isclose(quadratic, b * (1024**2 - 2 * 512**2), rel_tol=0.01)


def test_bench_entry_point_quick(tmp_path, capsys):
    """`perceiver-sc2 bench encoders --quick --json PATH` writes records, ratios and the plot."""
    import json

    from agent.cli import main

    path = tmp_path / "enc.json"
    assert main(["bench", "encoders", "--quick", "--json", str(path)]) == 0
    result = json.loads(path.read_text())
    records = result["records"]
    assert {(r["encoder"], r["n"], r["batch"]) for r in records} == {
        (name, n, b) for name in ENCODERS for n in (16, 128, 512) for b in (1, 2)
    }
    # Parameters: the AlphaStar-sized encoder's own count, the same at every entity count and batch.
    for name in ENCODERS:
        count = sum(p.numel() for p in build_encoder(name, dim_in=256, dim_out=256).parameters())
        assert {r["params"] for r in records if r["encoder"] == name} == {count}
    assert result["ratios"]["flops_transformer_over_pio_n512"] >= 4
    assert path.with_suffix(".png").stat().st_size > 10_000
    assert "| 512 |" in capsys.readouterr().out


@pytest.mark.parametrize("width", [32, 64, 128])
def test_matched_sizes_follow_the_rule(width):
    """Equal attention depth for the two attention encoders, parameters within 10% of the reference Perceiver
    IO for every encoder but the control arm, which has none of its own."""
    reference = matched_options("perceiver_io", width)
    target = parameter_count("perceiver_io", width, reference)
    for name in ENCODERS:
        options = matched_options(name, width)
        count = parameter_count(name, width, options)
        if name == "none":
            assert (options, count) == ({}, 0)
            continue
        assert abs(count - target) <= 0.1 * target, (name, count, target)
    assert attention_blocks("transformer", matched_options("transformer", width)) == \
        attention_blocks("perceiver_io", reference) == 4


def test_control_arm_keeps_each_entity_alone():
    """`none` passes each real entity's embedding through unchanged and pools their mean."""
    enc = build_encoder("none", dim_in=DIM_OUT, dim_out=DIM_OUT)
    x, mask = torch.randn(2, 5, DIM_OUT), torch.tensor([[1, 1, 0, 1, 0], [0, 0, 0, 0, 0]], dtype=torch.bool)
    per_entity, pooled = enc(x, mask)
    torch.testing.assert_close(per_entity[0, [0, 1, 3]], x[0, [0, 1, 3]])
    torch.testing.assert_close(pooled[0], x[0, [0, 1, 3]].mean(dim=0))
    assert torch.all(per_entity[~mask] == 0) and torch.all(pooled[1] == 0)


def test_the_decoder_depth_is_an_encoder_option_counted_in_attention_depth():
    reference = matched_options("perceiver_io", 32)
    deeper = {**reference, "decoder_layers": 2}
    assert attention_blocks("perceiver_io", deeper) == attention_blocks("perceiver_io", reference) + 1
    encoder = build_encoder("perceiver_io", dim_in=32, dim_out=32, **deeper)
    assert len(encoder.perceiver.later_decoders) == 1
    assert parameter_count("perceiver_io", 32, deeper) > parameter_count("perceiver_io", 32, reference)
