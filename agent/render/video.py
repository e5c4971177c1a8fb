"""Writing frames to a GIF (Pillow, looping) or an MP4 (imageio-ffmpeg, an optional extra)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from agent.outputs import atomic_path, check_output_file
from envs.errors import UserError

FORMATS = (".gif", ".mp4")


def check_output(out: str) -> Path:
    """The --out path if it can take a video: a .gif or .mp4 file name in a writable place."""
    path = check_output_file(out, "--out")
    if path.suffix.lower() not in FORMATS:
        raise UserError(f"--out must end in {' or '.join(FORMATS)}, got {out!r}")
    if path.suffix.lower() == ".mp4" and not mp4_available():
        raise UserError("writing .mp4 needs the imageio-ffmpeg package (pip install imageio-ffmpeg); "
                        "or write a .gif")
    return path


def mp4_available() -> bool:
    return importlib.util.find_spec("imageio_ffmpeg") is not None


def write_video(frames: list[np.ndarray], path: str | Path, fps: float) -> Path:
    """GIF through Pillow (looping) or MP4 through imageio-ffmpeg."""
    path = check_output(str(path))
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".gif":
            iio.imwrite(tmp, np.stack(frames), extension=".gif", duration=1000.0 / fps, loop=0)
        else:
            iio.imwrite(tmp, np.stack(frames), extension=".mp4", fps=fps)
    return path
