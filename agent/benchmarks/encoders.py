"""`perceiver-sc2 bench encoders`: forward FLOPs, parameters and CPU latency of the entity encoders.

At AlphaStar's sizes (entity embedding 256 in, 256 out; Vinyals et al. 2019) for N entities in
{16, ..., 4096}, batch 1 and 32, on 1 and 2 threads. FLOPs come from FlopCounterMode with CPU SDPA
registered (it counts 0 for it otherwise). With `--json PATH` the results also go to PATH as JSON and a
log-log plot to PATH with a .png suffix.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
from matplotlib.figure import Figure
from torch.utils import flop_counter

from agent.model.encoders import ENCODERS, build_encoder

NS = (16, 64, 256, 512, 1024, 2048, 4096)
BATCHES = (1, 32)
THREADS = (1, 2)
DIM = 256  # AlphaStar entity embedding width (Vinyals et al. 2019, supplementary "Entity encoder")
NAMES = tuple(ENCODERS)
# Full run: time each cell for about BUDGET_S seconds, with at least MIN_REPEATS and at most MAX_REPEATS
# forwards after one warm-up; the slowest cell (transformer, batch 32, N=4096) gets MIN_REPEATS.
BUDGET_S, MIN_REPEATS, MAX_REPEATS = 2.0, 3, 15
QUICK = dict(ns=(16, 128, 512), batches=(1, 2), threads=(1,), budget=0.1, min_repeats=1, max_repeats=3)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON (and a .png plot)")
    parser.add_argument("--quick", action="store_true", help="a few small sizes, for a smoke test")


def sdpa_flop_mapping() -> dict:
    """custom_mapping for FlopCounterMode: CPU SDPA forward/backward, counted like the GPU kernels."""
    aten = torch.ops.aten

    def forward(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
        return flop_counter.sdpa_flop_count(query_shape, key_shape, value_shape)

    def backward(grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
        return flop_counter.sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)

    return {
        aten._scaled_dot_product_flash_attention_for_cpu: forward,
        aten._scaled_dot_product_flash_attention_for_cpu_backward: backward,
    }


def count_forward_flops(module, *args, **kwargs) -> int:
    """FLOPs of one forward call (a multiply-add counts 2), SDPA included."""
    counter = flop_counter.FlopCounterMode(display=False, custom_mapping=sdpa_flop_mapping())
    # Grad mode stays on: FlopCounterMode's module hooks fail on views of parameters made under no_grad.
    with counter:
        module(*args, **kwargs)
    return counter.get_total_flops()


def build_alphastar_sized(name: str):
    """An encoder at AlphaStar's sizes with its default options, in eval mode."""
    return build_encoder(name, dim_in=DIM, dim_out=DIM).eval()


def _inputs(batch: int, n: int):
    gen = torch.Generator().manual_seed(n * 1000 + batch)
    return torch.randn(batch, n, DIM, generator=gen), torch.ones(batch, n, dtype=torch.bool)


def _timed(module, x, mask, threads: int) -> float:
    torch.set_num_threads(threads)
    with torch.inference_mode():
        start = time.perf_counter()
        module(x, mask)
        return time.perf_counter() - start


def time_interleaved(cells: dict, x, mask, *, budget: float, min_repeats: int, max_repeats: int) -> dict:
    """Seconds per forward for each (name, threads) -> module cell, over the same inputs.

    One warm-up each sizes the repeats to `budget` (bounded both ways); the repeats then go round the
    cells in turn, so that a burst of load from other processes on this shared machine lands on all
    cells alike instead of on whichever cell was running.
    """
    first = {key: _timed(module, x, mask, key[1]) for key, module in cells.items()}
    repeats = {key: max(min_repeats, min(max_repeats, int(budget / max(seconds, 1e-6))))
               for key, seconds in first.items()}
    times: dict = {key: [] for key in cells}
    for round_ in range(max(repeats.values())):
        for key, module in cells.items():
            if round_ < repeats[key]:
                times[key].append(_timed(module, x, mask, key[1]))
    return times


def measure(*, ns, batches, threads, budget, min_repeats, max_repeats, log=print) -> list[dict]:
    """One record per (encoder, N, batch): FLOPs per sample (counted at batch 1: every op is linear in
    the batch), parameters, median and min seconds per forward for each thread count."""
    torch.manual_seed(0)
    models = {name: build_alphastar_sized(name) for name in NAMES}
    records = []
    for n in ns:
        x1, m1 = _inputs(1, n)
        flops = {name: count_forward_flops(model, x1, m1) for name, model in models.items()}
        for batch in batches:
            x, mask = _inputs(batch, n)
            cells = {(name, t): model for name, model in models.items() for t in threads}
            times = time_interleaved(cells, x, mask, budget=budget, min_repeats=min_repeats,
                                     max_repeats=max_repeats)
            for name, model in models.items():
                rec = dict(encoder=name, n=n, batch=batch, flops_per_sample=flops[name],
                           params=sum(p.numel() for p in model.parameters()),
                           time_s={str(t): statistics.median(times[name, t]) for t in threads},
                           time_min_s={str(t): min(times[name, t]) for t in threads},
                           repeats={str(t): len(times[name, t]) for t in threads})
                log(f"{name:>12} N={n:<5} B={batch:<3} {flops[name] / 1e9:8.3f} GFLOP/sample  "
                    + "  ".join(f"{t}T {rec['time_s'][str(t)] * 1e3:9.2f} ms" for t in threads))
                records.append(rec)
    return records


def _get(records, name, n, batch):
    return next((r for r in records if r["encoder"] == name and r["n"] == n and r["batch"] == batch), None)


def acceptance(records) -> dict:
    """The headline ratios: FLOPs at N=512, and time(4096)/time(512) per batch and thread count."""
    out = {}
    pio, tr = _get(records, "perceiver_io", 512, records[0]["batch"]), _get(records, "transformer", 512,
                                                                             records[0]["batch"])
    if pio and tr:
        out["flops_transformer_over_pio_n512"] = tr["flops_per_sample"] / pio["flops_per_sample"]
    for name in ("perceiver_io", "transformer"):
        for batch in sorted({r["batch"] for r in records}):
            lo, hi = _get(records, name, 512, batch), _get(records, name, 4096, batch)
            if lo and hi:
                for t in lo["time_s"]:
                    out[f"time_{name}_4096_over_512_b{batch}_{t}T"] = hi["time_s"][t] / lo["time_s"][t]
    return out


def markdown_tables(records) -> str:
    """Markdown: FLOPs per sample by N, then median ms per forward by (N, batch), encoder and threads."""
    ns = sorted({r["n"] for r in records})
    batches = sorted({r["batch"] for r in records})
    threads = list(records[0]["time_s"])
    params = ", ".join(f"{name} {_get(records, name, ns[0], batches[0])['params']:,}" for name in NAMES)
    lines = [f"Parameters: {params}.", "",
             "| N | " + " | ".join(f"{name} GFLOP" for name in NAMES) + " | transformer / perceiver_io |",
             "|---" * (len(NAMES) + 2) + "|"]
    for n in ns:
        flops = {name: _get(records, name, n, batches[0])["flops_per_sample"] for name in NAMES}
        lines.append(f"| {n} | " + " | ".join(f"{flops[name] / 1e9:.3f}" for name in NAMES)
                     + f" | {flops['transformer'] / flops['perceiver_io']:.2f} |")
    cols = [(name, t) for name in NAMES for t in threads]
    lines += ["", "| N | batch | " + " | ".join(f"{name} {t} thr" for name, t in cols) + " |",
              "|---" * (len(cols) + 2) + "|"]
    for batch in batches:
        for n in ns:
            times = " | ".join(f"{_get(records, name, n, batch)['time_s'][t] * 1e3:.1f}" for name, t in cols)
            lines.append(f"| {n} | {batch} | {times} |")
    return "\n".join(lines)


def _series(records, name, batch):
    return sorted((r for r in records if r["encoder"] == name and r["batch"] == batch), key=lambda r: r["n"])


def plot(records, path: Path) -> None:
    """Log-log: FLOPs per sample against N, and 1-thread time against N for each batch size."""
    fig = Figure(figsize=(11, 4.2))
    ax_f, ax_t = fig.subplots(1, 2)
    batches = sorted({r["batch"] for r in records})
    for name, colour in zip(NAMES, itertools.cycle(("tab:blue", "tab:red", "tab:green", "tab:orange")),
                            strict=False):
        own = _series(records, name, batches[0])
        ax_f.plot([r["n"] for r in own], [r["flops_per_sample"] for r in own], "o-", color=colour, label=name)
        for batch, style in zip(batches, ("o--", "s-"), strict=False):
            rs = _series(records, name, batch)
            ax_t.plot([r["n"] for r in rs], [r["time_s"]["1"] * 1e3 for r in rs], style, color=colour,
                      label=f"{name}, batch {batch}")
    ax_f.set(title="Forward FLOPs per sample", ylabel="FLOPs")
    ax_t.set(title="CPU forward time, 1 thread (median)", ylabel="ms per forward")
    for ax in (ax_f, ax_t):
        ax.set(xscale="log", yscale="log", xlabel="entities N")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Entity encoders at AlphaStar sizes (input/output {DIM})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def run(args: argparse.Namespace) -> int:
    settings = dict(QUICK) if args.quick else dict(ns=NS, batches=BATCHES, threads=THREADS, budget=BUDGET_S,
                                                   min_repeats=MIN_REPEATS, max_repeats=MAX_REPEATS)
    threads_before = torch.get_num_threads()
    load_before = os.getloadavg()[0]  # other processes on the machine make the timings noisy; record it
    start = time.perf_counter()
    try:
        records = measure(**settings)
    finally:
        torch.set_num_threads(threads_before)
    total = time.perf_counter() - start
    ratios = acceptance(records)
    print()
    print(markdown_tables(records))
    print()
    for key, value in ratios.items():
        print(f"{key}: {value:.2f}")
    print(f"total bench time: {total:.0f} s")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = dict(date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), torch=torch.__version__,
                    machine=platform.machine(), dim=DIM, quick=bool(args.quick), total_s=total,
                    load_avg_1min_before_after=[load_before, os.getloadavg()[0]],
                    settings={k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()})
        path.write_text(json.dumps(dict(meta=meta, ratios=ratios, records=records), indent=1))
        plot(records, path.with_suffix(".png"))
        print(f"wrote {path} and {path.with_suffix('.png')}")
    return 0
