"""`perceiver-sc2 train CONFIG [--set key=value ...] [--run-dir DIR] [--resume]`: PPO with RLlib.

One loop, top to bottom: validate the config, check that StarCraft II is installed if the pysc2 backend
plays, check what --resume will read, build the policy once (so a bad encoder option fails before Ray
starts), start Ray, build PPO, restore the latest checkpoint on --resume, then iterate with a progress
bar, TensorBoard scalars, one metrics.jsonl line per iteration and periodic atomic checkpoints until a
budget (env steps, minutes, iterations) runs out. Ray (and with it protobuf) loads only after the
backend check: pysc2 needs protobuf's pure-Python runtime, chosen at protobuf's first import
(envs/pysc2_compat.py), so the modules that import Ray are imported inside the functions below.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from agent.outputs import check_output_dir, read_json, write_json_atomic
from agent.training.build import check_fits_observation, check_model
from agent.training.checkpoint import latest_checkpoint, load_policy
from agent.training.config import apply_overrides, config_from_dict, field_docs, load_config
from envs import pysc2_compat
from envs.compile_kernels import compile_kernels
from envs.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = "config keys (YAML sections, or --set section.key=value):\n" + "\n".join(
        f"  {key:26s} {doc}" for key, doc in field_docs().items())
    parser.add_argument("config", nargs="?", help="YAML config, e.g. configs/MoveToBeacon.yaml "
                        "(optional with --resume: the run's saved config is used)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set model.encoder=transformer (repeatable)")
    parser.add_argument("--run-dir", help="output directory (default runs/<name>)")
    parser.add_argument("--resume", action="store_true", help="continue from the run's latest checkpoint")


def prepare(args: argparse.Namespace):
    """-> (TrainConfig, run directory, latest checkpoint or None), the backend ready; all user mistakes
    raise UserError, before Ray starts."""
    cfg, run_dir, ckpt = _resolve(args)
    prepare_backend(cfg)
    if ckpt is not None:
        _check_restorable(ckpt, run_dir)
    return cfg, run_dir, ckpt


def _resolve(args: argparse.Namespace):
    if args.config is None and not (args.resume and args.run_dir):
        raise UserError("give a config file (e.g. configs/MoveToBeacon.yaml), or --resume with --run-dir")
    cfg = load_config(args.config, args.overrides) if args.config else None
    run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / cfg.name
    check_output_dir(run_dir, "--run-dir" if args.run_dir else "run directory")
    saved = run_dir / "config.json"
    ckpt = latest_checkpoint(run_dir)
    if not args.resume:
        if ckpt is not None:
            raise UserError(f"{run_dir} already holds checkpoints; pass --resume or another --run-dir")
        return cfg, run_dir, None
    if ckpt is None:
        raise UserError(f"--resume: no checkpoint in {run_dir / 'checkpoints'} to resume from; "
                        "train without --resume to start this run")
    old = _saved_config(saved) if saved.is_file() else None
    if cfg is None:
        if old is None:
            raise UserError(f"no saved config in {run_dir}; give the config file")
        try:
            cfg = config_from_dict(apply_overrides(old, args.overrides))
        except UserError as err:
            raise UserError(f"{saved}: {err}") from None
    elif old is not None:
        for section in ("env", "model"):
            if old.get(section) != cfg.to_dict()[section]:
                raise UserError(f"--resume: config section '{section}' differs from the run's saved one "
                                f"in {saved}; the checkpoint would not fit")
    return cfg, run_dir, ckpt


def _check_restorable(ckpt: Path, run_dir: Path) -> None:
    """Everything the restore reads, checked now rather than after Ray has started."""
    from agent.training.loop import read_metrics, read_train_state

    read_train_state(ckpt)
    read_metrics(run_dir)
    check_fits_observation(load_policy(ckpt)[1], ckpt)
    if not (ckpt / "algorithm").is_dir():
        raise UserError(f"{ckpt}: no algorithm/ state to resume from (was it copied without it?)")


def _saved_config(path: Path) -> dict:
    data = read_json(path)
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of config keys, got {type(data).__name__}")
    return data


def prepare_backend(cfg) -> None:
    """pysc2: the game must be installed (one line naming SC2PATH if not), and protobuf's pure-Python
    runtime chosen before Ray imports protobuf; remote env runners get it from agent/rllib/ray_session.py.
    The engine: its kernels compiled here, once, before Ray's env runners start and load them."""
    if cfg.env.backend == "pysc2":
        from envs.pysc2_backend import find_game

        find_game(cfg.env.map, engine_option="--set env.backend=engine")
        pysc2_compat.install()
    else:
        compile_kernels()


def run(args: argparse.Namespace) -> int:
    cfg, run_dir, ckpt = prepare(args)
    from agent.rllib.ray_session import start_ray
    from agent.training.loop import Trainer

    check_model(cfg)
    start_ray(cfg.scale)  # from here SIGTERM ends like Ctrl-C: the finished iterations are checkpointed
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_dir / "config.json", cfg.to_dict())
    trainer = Trainer(cfg, run_dir)
    try:
        if ckpt is not None:
            trainer.restore(ckpt)
            print(f"resumed from {ckpt} (iteration {trainer.iteration})")
        started = time.perf_counter()
        summary = trainer.train()
        elapsed = time.perf_counter() - started
    finally:
        trainer.close()
    print(f"trained {summary['iteration']} iterations, {summary['env_steps']} env steps in {elapsed:.0f} s; "
          f"episode score {summary['score']}; checkpoint {summary['checkpoint']}")
    return 0
