"""The economy minigames' layouts: where the Command Center, the SCVs and the resources start.

pysc2 docs/mini_games.md gives what each map holds - CollectMineralsAndGas: 12 SCVs beside a Command
Center, 16 mineral fields and 4 vespene geysers "at fixed locations", 50 minerals, 12/15 supply;
BuildMarines: 12 SCVs, a Command Center and 8 mineral fields - and pysc2 maps/mini_games.py their
lengths (420 and 900 game seconds; the docs' 300 s for CollectMineralsAndGas is 420 game seconds at the
Faster speed's 1.4). The exact coordinates are in the map files, not in any public text: the layout
below is *our guess*, built like a standard base (mineral line and geysers 3 cells from the Command
Center), with the second mineral line and its geysers across the arena for an expansion. Field contents
are *unverified* too: the ladder's 1800 / 900 per field and 2250 per geyser (Liquipedia "Resources"),
and 1800 on every field of BuildMarines, whose 900 s would mine out the small fields of a ladder base.
"""

from __future__ import annotations

# the playable rectangle (x0, y0, x1, y1) of both maps: *our guess* (world units, y up)
PLAYABLE = (19.0, 19.0, 46.0, 37.0)
COMMAND_CENTER_AT = (29.5, 28.5)  # footprint x 27-32, y 26-31


def _mineral_line(x_near: float, x_far: float, big: int, small: int) -> tuple:
    """Eight 2x1 mineral fields in a column, alternating between two x's (y 24-32)."""
    rows = []
    for i in range(8):
        x = x_near if i % 2 else x_far
        contents = big if i < 4 else small
        rows.append(("MineralField", x, 24.5 + i, contents))
    return tuple(rows)


_LEFT_GEYSERS = (("VespeneGeyser", 25.5, 35.5, 2250), ("VespeneGeyser", 25.5, 21.5, 2250))
_RIGHT_GEYSERS = (("VespeneGeyser", 38.5, 35.5, 2250), ("VespeneGeyser", 38.5, 21.5, 2250))
# the 12 SCVs beside the Command Center, between it and the mineral line
SCV_SPOTS = tuple((25.6 if i % 2 else 26.4, 26.2 + 0.42 * i) for i in range(12))

# (unit, x, y, contents): neutral resources
COLLECT_RESOURCES = (_mineral_line(23.0, 22.0, 1800, 900) + _LEFT_GEYSERS
                     + _mineral_line(41.0, 42.0, 1800, 900) + _RIGHT_GEYSERS)
BUILD_MARINES_RESOURCES = _mineral_line(23.0, 22.0, 1800, 1800)
# where the scripted agent (and a human) expands on CollectMineralsAndGas: beside the right mineral line
EXPANSION_AT = (35.5, 28.5)
