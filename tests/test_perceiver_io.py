"""The generic perceiver_io library: masked attention, encode/process/decode, attention weights, imports."""

from __future__ import annotations

import ast
import math
import sys
from pathlib import Path

import pytest
import torch

from perceiver_io import PerceiverIO, masked_attention

PACKAGE = Path(__file__).resolve().parents[1] / "perceiver_io"


def reference_attention(q, k, v, key_mask):
    """Plain softmax attention, written out, for rows with at least one key."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def test_masked_attention_matches_reference_and_zeroes_empty_rows():
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(3, 2, 4, 8, generator=gen)
    k, v = torch.randn(3, 2, 6, 8, generator=gen), torch.randn(3, 2, 6, 5, generator=gen)
    key_mask = torch.tensor([[1, 1, 0, 1, 0, 0], [0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 1]], dtype=torch.bool)
    out, none = masked_attention(q, k, v, key_mask)
    assert none is None
    rows = key_mask.any(-1)
    torch.testing.assert_close(out[rows], reference_attention(q, k, v, key_mask)[rows])
    assert torch.all(out[1] == 0)
    out_w, weights = masked_attention(q, k, v, key_mask, return_weights=True)
    torch.testing.assert_close(out_w, out)
    assert weights.shape == (3, 2, 4, 6)
    assert torch.all(weights[~key_mask[:, None, None, :].expand_as(weights)] == 0)
    torch.testing.assert_close(weights.sum(-1)[rows], torch.ones(2, 2, 4))
    assert torch.all(weights[1] == 0)


def model(**kw) -> PerceiverIO:
    torch.manual_seed(0)
    args = dict(input_dim=6, query_dim=10, output_dim=4, num_latents=5, latent_dim=16, num_layers=2)
    args["self_heads"] = 4
    return PerceiverIO(**(args | kw)).eval()


def test_shapes_and_defaults():
    out = model()(torch.randn(2, 9, 6), torch.randn(2, 3, 10))
    assert out.outputs.shape == (2, 3, 4) and out.latents.shape == (2, 5, 16) and out.attention is None
    default = PerceiverIO(input_dim=6, query_dim=10)
    assert default.latents.shape == (32, 256) and len(default.processor) == 3
    assert default.encoder.attn.num_heads == 1 and default.processor[0].attn.num_heads == 8


def test_input_mask_makes_padding_irrelevant():
    m = model()
    gen = torch.Generator().manual_seed(1)
    inputs, queries = torch.randn(1, 4, 6, generator=gen), torch.randn(1, 3, 10, generator=gen)
    ref = m(inputs, queries)
    garbage = 1e3 * torch.randn(1, 7, 6, generator=gen)
    padded = torch.cat([garbage[:, :2], inputs, garbage[:, 2:]], dim=1)
    mask = torch.zeros(1, 11, dtype=torch.bool)
    mask[0, 2:6] = True
    out = m(padded, queries, input_mask=mask)
    torch.testing.assert_close(out.outputs, ref.outputs, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.latents, ref.latents, atol=1e-5, rtol=1e-5)


def test_queries_are_decoded_independently_and_query_mask_zeroes():
    m = model()
    inputs, queries = torch.randn(2, 7, 6), torch.randn(2, 5, 10)
    full = m(inputs, queries).outputs
    some = m(inputs, queries[:, [3, 1]]).outputs
    torch.testing.assert_close(some, full[:, [3, 1]], atol=1e-5, rtol=1e-5)
    qmask = torch.tensor([[1, 0, 1, 1, 0], [0, 0, 0, 0, 0]], dtype=torch.bool)
    masked = m(inputs, queries, query_mask=qmask).outputs
    assert torch.all(masked[~qmask] == 0)
    torch.testing.assert_close(masked[qmask], full[qmask])


def test_query_residual_switch():
    inputs, queries = torch.randn(1, 7, 6), torch.randn(1, 3, 10)
    with_res = model(query_residual=True)
    without = model(query_residual=False)  # same seed, same weights
    a, b = with_res(inputs, queries).outputs, without(inputs, queries).outputs
    assert not torch.allclose(a, b)
    # Without the residual, identical keys make every query's attention output identical.
    same = without(inputs, queries.new_zeros(1, 3, 10) + queries[:, :1]).outputs
    torch.testing.assert_close(same[:, 0], same[:, 2])


def test_attention_weights_are_optional_and_change_nothing():
    m = model()
    inputs, queries = torch.randn(2, 9, 6), torch.randn(2, 3, 10)
    mask = torch.rand(2, 9) > 0.4
    mask[:, 0] = True
    plain = m(inputs, queries, input_mask=mask)
    out = m(inputs, queries, input_mask=mask, return_attention=True)
    torch.testing.assert_close(out.outputs, plain.outputs, atol=1e-5, rtol=1e-5)
    enc = out.attention["encoder"]
    assert enc.shape == (2, 1, 5, 9)
    assert torch.all(enc.masked_select(~mask[:, None, None, :]) == 0)
    assert [w.shape for w in out.attention["process"]] == [(2, 4, 5, 5)] * 2
    assert out.attention["decoder"].shape == (2, 1, 3, 5)


def test_a_second_decoder_block_reads_the_latents_again_and_keeps_the_first_blocks_names():
    one, two = model(), model(decoder_layers=2)
    block = sum(p.numel() for p in one.decoder.parameters())
    assert sum(p.numel() for p in two.parameters()) == sum(p.numel() for p in one.parameters()) + block
    # The two-block model holds the one-block model's parameters under the same names, plus block 2's.
    two.load_state_dict(one.state_dict(), strict=False)
    extra = set(two.state_dict()) - set(one.state_dict())
    assert extra and all(name.startswith("later_decoders.0.") for name in extra)
    inputs, queries = torch.randn(2, 9, 6), torch.randn(2, 3, 10)
    mask = torch.ones(2, 9, dtype=torch.bool)
    latents, _ = one.process(one.encode(inputs, mask)[0])
    first, _ = one.decoder(queries, latents)
    second, weights = two.later_decoders[0](first, latents, return_weights=True)
    out = two(inputs, queries, input_mask=mask, return_attention=True)
    torch.testing.assert_close(out.outputs, two.output(second))
    torch.testing.assert_close(out.attention["decoder"], weights)
    assert not torch.allclose(out.outputs, one(inputs, queries, input_mask=mask).outputs)


def test_all_inputs_masked_is_finite():
    m = model()
    out = m(torch.randn(2, 4, 6), torch.randn(2, 3, 10), input_mask=torch.zeros(2, 4, dtype=torch.bool))
    assert torch.isfinite(out.outputs).all() and torch.isfinite(out.latents).all()


def test_bad_heads_rejected():
    with pytest.raises(ValueError, match="^latent_dim=16 is not divisible by self_heads=3$"):
        PerceiverIO(input_dim=6, query_dim=10, latent_dim=16, self_heads=3)


@pytest.mark.parametrize("kwargs, message", [
    ({"self_heads": 0}, "self_heads must be an integer >= 1, got 0"),
    ({"latent_dim": -8}, "latent_dim must be an integer >= 1, got -8"),
    ({"num_latents": 2.5}, "num_latents must be an integer >= 1, got 2.5"),
    ({"num_layers": -1}, "num_layers must be an integer >= 0, got -1"),
    ({"cross_heads": True}, "cross_heads must be an integer >= 1, got True"),
    ({"decoder_heads": 3}, "query_dim=10 is not divisible by decoder_heads=3"),
    ({"self_mlp_ratio": 0}, "self_mlp_ratio must be a finite number > 0, got 0"),
    ({"cross_mlp_ratio": float("nan")}, "cross_mlp_ratio must be a finite number > 0, got nan"),
    ({"decoder_mlp_ratio": 0.01}, "decoder_mlp_ratio=0.01 gives an empty MLP hidden layer for width 10"),
    ({"output_dim": 0}, "output_dim must be an integer >= 1, got 0"),
    ({"decoder_layers": 0}, "decoder_layers must be an integer >= 1, got 0"),
])
def test_bad_constructor_arguments_are_value_errors_naming_the_argument(kwargs, message):
    with pytest.raises(ValueError) as info:
        PerceiverIO(**{"input_dim": 6, "query_dim": 10, "latent_dim": 16, "self_heads": 4, **kwargs})
    assert str(info.value) == message


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_package_imports_only_torch_and_the_standard_library():
    files = sorted(PACKAGE.glob("**/*.py"))
    assert len(files) >= 4
    roots = set().union(*(_imported_roots(f) for f in files))
    assert not roots & {"agent", "envs", "ray", "pysc2", "gymnasium"}
    assert roots - {"torch"} <= set(sys.stdlib_module_names), roots


def test_package_is_generic():
    for path in PACKAGE.glob("**/*.py"):
        text = path.read_text().lower()
        for word in ("starcraft", "sc2", "alphastar", "rllib"):
            assert word not in text, f"{path.name} mentions {word!r}"
