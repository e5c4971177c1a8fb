"""`perceiver-sc2 bench learner CONFIG`: one PPO minibatch update of the policy, by variant, side by side.

The learner's unit of work -- forward, a PPO loss (clipped surrogate per unit, value error, entropy),
backward, global-norm clip, Adam -- on observations from the config's env played by
the untrained policy (seeded), for:
  baseline   the unoptimised computation (agent/benchmarks/reference.py), per-tensor Adam
  default    the policy as training runs it, fused Adam
  bf16       default under torch.autocast("cpu", torch.bfloat16); the distribution and loss in fp32
  compiled   default with torch.compile of the policy (with --compile: compiling takes minutes)
on 1 and 2 torch threads, and the default at half and twice the config's minibatch. With `--encoders`, the
variants are instead the default update of the policy with each named encoder (sized alike by
agent/model/sizes.py), on 1 and 2 threads, on the same observations: the cost of a training step by
encoder at the config's entity count. The variants take turns round by round, so that load from other
processes falls on all of them alike. Also recorded: how far bf16's per-unit log-probabilities are from
fp32's on the same weights.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import time
from pathlib import Path

from envs.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", help="YAML training config (e.g. configs/DefeatRoaches.yaml)")
    parser.add_argument("--rounds", type=int, default=15, help="timed updates per variant (default 15)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile of the policy")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (repeatable), e.g. ppo.minibatch_size=64")
    parser.add_argument("--encoders", nargs="+", metavar="NAME",
                        help="time the default update with each of these encoders instead of the variants")


def _probe(cfg, policy, steps: int):
    import torch

    from agent.benchmarks.train_measure import collect_probe
    from agent.training.build import env_kwargs
    from envs.vector_env import EntityVectorEnv

    kwargs = {k: v for k, v in env_kwargs(cfg).items() if k != "map_name"}
    env = EntityVectorEnv(cfg.env.map, cfg.env.num_envs, **kwargs)
    try:
        with torch.no_grad():
            return collect_probe(policy, env, steps, seed=cfg.seed)
    finally:
        env.close()


def make_update(policy, obs, actions, *, reference: bool, bf16: bool, compiled: bool, grad_clip: float):
    """A function (indices) -> None doing one PPO update of `policy` on those samples."""
    import torch

    from agent.benchmarks.reference import CategoricalPerUnit, every_slot_forward
    from agent.rllib.module import UnitCategorical

    units = actions.shape[1]
    if reference:
        def forward(policy, batch, taken):  # every unit slot's logits -> the distribution, value features
            logits, value_in, _ = every_slot_forward(policy, batch, taken)
            return CategoricalPerUnit(logits.float().flatten(-2), units), value_in
    else:
        def forward(policy, batch, taken):  # the units with a choice only, as the learner runs it
            chosen = type(policy).choosing_forward(policy, batch, taken)
            dist = UnitCategorical.from_factors(chosen.rows, chosen.factors, chosen.units_shape)
            return dist, chosen.value_in
    with torch.no_grad():  # the sampling distribution's log-probabilities, as the sampler records them
        behaviour_logp = forward(policy, obs, actions)[0].unit_logp(actions)
    if compiled:
        forward = torch.compile(forward)
    optimizer = torch.optim.Adam(policy.parameters(), lr=3e-4, fused=not reference, foreach=False)
    advantages = torch.randn(len(actions), generator=torch.Generator().manual_seed(1))

    def update(index):
        batch = {key: value[index] for key, value in obs.items()}
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with autocast:
            current, value_in = forward(policy, batch, actions[index])
            values = policy.value(value_in)
        # PPO's clipped surrogate per unit, value error and entropy, as the default training config's loss
        ratio = torch.exp(current.unit_logp(actions[index]) - behaviour_logp[index])
        adv = advantages[index].unsqueeze(-1)
        surrogate = torch.min(adv * ratio, adv * ratio.clamp(0.8, 1.2)).sum(-1)
        loss = (-surrogate + 0.5 * values.float().pow(2).clamp(max=10.0) - 0.001 * current.entropy()).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), grad_clip)
        optimizer.step()

    return update


def bf16_logp_error(policy, obs, actions) -> float:
    """Largest |log p(action) bf16 - fp32| over the probe's units, the same weights."""
    import torch

    with torch.no_grad():
        exact, _, _ = policy(obs, actions)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            approx, _, _ = policy(obs, actions)
    pick = actions.unsqueeze(-1)
    logp = [torch.log_softmax(x.float(), -1).gather(-1, pick) for x in (exact, approx)]
    return float((logp[0] - logp[1]).abs().max())


def _variants(args, cfg, kwargs, obs, actions) -> tuple[dict, float | None]:
    """name -> (update, threads, minibatch) of the computation variants, and the compile seconds."""
    import torch

    from agent.model.policy import EntityPolicy

    minibatch = cfg.ppo.minibatch_size
    variants = {}  # name -> (update, threads, minibatch)
    specs = [("baseline", dict(reference=True, bf16=False, compiled=False)),
             ("default", dict(reference=False, bf16=False, compiled=False)),
             ("bf16", dict(reference=False, bf16=True, compiled=False))]
    if args.compile:
        specs.append(("compiled", dict(reference=False, bf16=False, compiled=True)))
    compile_s = None
    for name, spec in specs:
        for threads in (1, 2):
            torch.manual_seed(cfg.seed)
            policy = EntityPolicy(**kwargs).train()
            update = make_update(policy, obs, actions, grad_clip=cfg.ppo.grad_clip, **spec)
            torch.set_num_threads(threads)
            started = time.perf_counter()
            update(torch.arange(minibatch))  # warm-up (and the compile)
            if name == "compiled" and threads == 1:
                compile_s = time.perf_counter() - started
            variants[f"{name} {threads}T mb{minibatch}"] = (update, threads, minibatch)
    for size in (minibatch // 2, 2 * minibatch):
        torch.manual_seed(cfg.seed)
        update = make_update(EntityPolicy(**kwargs).train(), obs, actions, reference=False, bf16=False,
                             compiled=False, grad_clip=cfg.ppo.grad_clip)
        variants[f"default 1T mb{size}"] = (update, 1, size)
    return variants, compile_s


def _encoder_variants(cfg, encoder_kwargs: dict, obs, actions) -> dict:
    """name -> (update, threads, minibatch) of the default update of the policy with each encoder."""
    import torch

    from agent.model.policy import EntityPolicy

    variants = {}
    for encoder, kwargs in encoder_kwargs.items():
        for threads in (1, 2):
            torch.manual_seed(cfg.seed)
            update = make_update(EntityPolicy(**kwargs).train(), obs, actions, reference=False, bf16=False,
                                 compiled=False, grad_clip=cfg.ppo.grad_clip)
            torch.set_num_threads(threads)
            update(torch.arange(cfg.ppo.minibatch_size))  # warm-up
            variants[f"{encoder} {threads}T mb{cfg.ppo.minibatch_size}"] = (update, threads,
                                                                         cfg.ppo.minibatch_size)
    return variants


def run(args: argparse.Namespace) -> int:
    import torch

    from agent.benchmarks.train import RUNTIME_VARIABLES, provenance
    from agent.model.policy import EntityPolicy
    from agent.training.build import policy_kwargs
    from agent.training.config import load_config

    if args.config is None and not args.quick:
        raise UserError("give a config file (e.g. configs/DefeatRoaches.yaml), or --quick")
    quick = ["model.width=16", "model.key_dim=8", "env.num_envs=8", "ppo.minibatch_size=32"]
    config_path = args.config or "configs/MoveToBeacon.yaml"
    extra = [*(quick if args.quick else []), *args.overrides]
    cfg = load_config(config_path, extra)
    rounds = 2 if args.quick else args.rounds
    minibatch = cfg.ppo.minibatch_size
    torch.manual_seed(cfg.seed)
    kwargs = policy_kwargs(cfg)
    encoder_kwargs = {name: policy_kwargs(load_config(config_path, [*extra, f"model.encoder={name}"]))
                      for name in args.encoders or ()}
    obs, actions = _probe(cfg, EntityPolicy(**kwargs).train(), 4 * minibatch // cfg.env.num_envs + 1)

    if args.encoders:
        variants, compile_s = _encoder_variants(cfg, encoder_kwargs, obs, actions), None
    else:
        variants, compile_s = _variants(args, cfg, kwargs, obs, actions)
    times = {name: [] for name in variants}
    generator = torch.Generator().manual_seed(2)
    for _ in range(rounds):
        for name, (update, threads, size) in variants.items():
            index = torch.randperm(len(actions), generator=generator)[:size]
            torch.set_num_threads(threads)
            started = time.perf_counter()
            update(index)
            times[name].append(time.perf_counter() - started)
    base_variant = f"{args.encoders[0] if args.encoders else 'default'} 1T mb{minibatch}"
    base = statistics.median(times[base_variant]) / minibatch
    records = [{"variant": name, "threads": threads, "minibatch": size,
                "seconds_median": statistics.median(times[name]), "seconds": times[name],
                "us_per_sample": statistics.median(times[name]) / size * 1e6,
                "speed_vs_base": base / (statistics.median(times[name]) / size)}
               for name, (_, threads, size) in variants.items()]
    for r in records:
        print(f"{r['variant']:>24}: {r['seconds_median'] * 1e3:8.1f} ms per update, "
              f"{r['us_per_sample']:7.0f} us/sample, x{r['speed_vs_base']:.2f} of {base_variant}")
    torch.manual_seed(cfg.seed)
    error = bf16_logp_error(EntityPolicy(**kwargs).train(), obs, actions)
    print(f"bf16 autocast: largest |log p| error {error:.3g}; compile: {compile_s} s")
    if args.json:
        record = {"benchmark": "learner", **provenance(),
                  "config": args.config, "overrides": args.overrides, "quick": args.quick,
                  "torch": torch.__version__, "load_avg_1min": os.getloadavg()[0], "rounds": rounds,
                  "environment": {key: os.environ.get(key) for key in RUNTIME_VARIABLES},
                  "probe_samples": len(actions), "bf16_max_logp_error": error, "compile_seconds": compile_s,
                  "encoders": args.encoders, "base_variant": base_variant, "records": records}
        if args.encoders:
            record["parameters"] = {name: sum(p.numel() for p in EntityPolicy(**kw).parameters())
                                    for name, kw in encoder_kwargs.items()}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(record, indent=1))
        print(f"wrote {args.json}")
    return 0
