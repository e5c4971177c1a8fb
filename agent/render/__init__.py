"""Rendering episodes: the `render` command (command.py) plays one episode (record.py), draws each frame
(draw.py) and writes a GIF or MP4 (video.py)."""
