"""`perceiver-sc2` command line: one subcommand per module, imported only when that command runs.

Each command module exposes `add_arguments(parser)` and `run(args) -> int`. `perceiver-sc2 --help` lists
the commands from the table below without importing any of them; `perceiver-sc2 CMD ...` (or
`CMD --help`) imports CMD's module alone.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from envs.errors import UserError

# subcommand -> (module, one-line help)
COMMANDS = {
    "demo": ("envs.engine.demo", "a scripted agent plays a minigame on the embedded engine"),
    "bench": ("agent.benchmarks.command",
              "benchmarks: `bench engine`, `bench env`, `bench encoders`, `bench learner`, `bench train`"),
    "train": ("agent.training.command", "train a policy with RLlib PPO from a YAML config"),
    "evaluate": ("agent.evaluation.command",
                 "play seeded episodes and report the mean score with a 95%% CI"),
    "ablate": ("agent.ablation.command",
               "encoder ablation grid (encoder x seed) with Ray Tune: table and plots"),
    "render": ("agent.render.command",
               "draw one episode (units, health, orders, attention) into a GIF or MP4"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every command listed and, if `command` names one, that command's arguments."""
    parser = argparse.ArgumentParser(prog="perceiver-sc2", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module = importlib.import_module(module_name)
            module.add_arguments(command_parser)
            command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # The top level has no options but --help, so the first bare word is the command.
    command = next((word for word in argv if not word.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except UserError as err:
        print(f"perceiver-sc2 {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"perceiver-sc2 {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
