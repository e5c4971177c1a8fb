"""`perceiver-sc2 render`: draw one seeded episode frame by frame into a GIF or MP4.

    perceiver-sc2 render scripted --map DefeatRoaches --out docs/defeat_roaches.gif
    perceiver-sc2 render runs/pio --map DefeatRoaches --out pio.gif --attention

Units are circles by side (blue own, red enemy, yellow neutral) and type (label, shade), radius to scale,
with health (green) and shield (blue) bars; a yellow rim marks a unit that fired since the last frame and a
grey cross a unit that just died. Lines show own units' orders as the agent gave them (orange: attack,
green: move) until the unit reports no order or the target vanishes. With `--attention` (Perceiver IO
checkpoints) a column of latents on the right joins each latent to the entity its encoder cross-attention
weights most (mean over heads).
"""

from __future__ import annotations

import argparse

from agent.render.record import record
from agent.render.video import check_output, write_video
from envs.engine import ENEMY_BOTS
from envs.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("agent", help="scripted, random, or a checkpoint (or run) directory")
    parser.add_argument("--map", required=True, dest="map_name", help="map name, e.g. DefeatRoaches")
    parser.add_argument("--out", required=True, help="output file, .gif or .mp4 (mp4 needs imageio-ffmpeg)")
    parser.add_argument("--seed", type=int, default=0, help="the episode's seed (as in evaluate)")
    parser.add_argument("--steps", type=int, default=None, help="stop after this many agent steps")
    parser.add_argument("--fps", type=float, default=8.0, help="frames per second (one frame per step)")
    parser.add_argument("--scale", type=float, default=None, help="pixels per world unit (default: fit 640)")
    parser.add_argument("--enemy-bot", default=None, help=f"{', '.join(ENEMY_BOTS)} (default: the map's own)")
    parser.add_argument("--sample", action="store_true", help="checkpoint agents sample (default: greedy)")
    parser.add_argument("--cross-map", action="store_true",
                        help="let a checkpoint play a map other than the one it was trained on")
    parser.add_argument("--attention", action="store_true",
                        help="Perceiver IO checkpoints: join each latent to the entity it attends to most")


def run(args: argparse.Namespace) -> int:
    check_output(args.out)  # fail before playing the episode
    if args.seed < 0:
        raise UserError(f"--seed must be >= 0, got {args.seed}")
    if args.fps <= 0:
        raise UserError(f"--fps must be positive, got {args.fps}")
    frames, summary = record(args.agent, args.map_name, seed=args.seed, steps=args.steps,
                             attention=args.attention, enemy_bot=args.enemy_bot, sample=args.sample,
                             scale=args.scale, cross_map=args.cross_map, progress=True)
    path = write_video(frames, args.out, args.fps)
    outcome = {True: ", won", False: ", lost"}.get(summary["won"], "")
    print(f"{path}: {summary['frames']} frames of {summary['size'][0]}x{summary['size'][1]}, "
          f"{summary['steps']} steps, score {summary['score']:g}{outcome}, "
          f"{path.stat().st_size / 1e6:.2f} MB")
    return 0
