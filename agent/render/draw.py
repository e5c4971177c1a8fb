"""Drawing one frame of an episode with PIL: units, health and shields, orders, shots, deaths, attention.

Pure drawing: it reads a RawObs (envs/raw_schema.py) and what the episode loop tracked (orders, the
previous frame's units, attention) and returns an RGB uint8 array. Flat colours and no antialiasing keep
GIF palettes small.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from envs.engine.maps import LOOPS_PER_GAME_SECOND
from envs.raw_schema import Alliance, RawObs
from envs.raw_schema import FeatureUnit as FU

# pysc2/lib/units.py ids (beacon/shard ids are the engine's, unverified against the game) -> short label.
UNIT_LABELS = {48: "M", 51: "Md", 45: "S", 105: "z", 9: "b", 110: "R", 107: "H", 74: "St", 73: "Zl",
               18: "CC", 341: "", 342: "", 1680: "", 317: ""}
PROTOSS = (73, 74)  # Zealot, Stalker (pysc2/lib/units.py): the units with shields
SIDE_COLOURS = {Alliance.self: (60, 120, 235), Alliance.ally: (60, 120, 235),
                Alliance.enemy: (225, 60, 55), Alliance.neutral: (230, 200, 60)}
# Per-type shade so that, e.g., Zerglings and Banelings differ at a glance (multiplies the side colour).
TYPE_SHADE = {9: 0.65, 110: 0.8, 51: 0.75, 74: 0.85, 73: 1.15, 45: 1.2}
BACKGROUND, PLAYABLE, GRID = (28, 28, 34), (48, 50, 56), (60, 62, 70)
ATTACK, MOVE, SHOT = (255, 110, 60), (110, 230, 130), (255, 240, 120)
DEAD, TEXT = (150, 150, 150), (235, 235, 235)
HEADER_PX = 34
LATENT_PANEL_PX = 40


@dataclass
class Order:
    """An own unit's current order as the agent gave it: a unit tag or a world point as target."""

    attack: bool
    target_tag: int | None = None
    target_xy: tuple[float, float] | None = None


@dataclass
class FrameInfo:
    """What the episode loop knows beyond the raw observation."""

    title: str
    step: int
    orders: dict[int, Order] = field(default_factory=dict)
    fired: set[int] = field(default_factory=set)  # tags whose weapon went on cooldown since the last frame
    deaths: list[tuple[float, float, float]] = field(default_factory=list)  # (x, y, radius) of recent deaths
    attention: list[tuple[int, float]] | None = None  # per latent: (top entity tag, its weight)


def _shade(colour, factor):
    return tuple(int(min(255, c * factor)) for c in colour)


class FrameDrawer:
    """World -> pixel geometry of one map, and the drawing of one frame."""

    def __init__(self, playable, *, scale: float | None = None, max_width: int = 640,
                 latent_panel: bool = False):
        x0, y0, x1, y1 = playable
        pad = 1.0
        self.view = (x0 - pad, y0 - pad, x1 + pad, y1 + pad)
        width_units, height_units = x1 - x0 + 2 * pad, y1 - y0 + 2 * pad
        panel = LATENT_PANEL_PX if latent_panel else 0
        self.scale = scale if scale is not None else min(20.0, (max_width - panel) / width_units)
        # Multiples of 16: video encoders want macro blocks (imageio-ffmpeg pads otherwise).
        self.arena_w = int(np.ceil(width_units * self.scale))
        self.width = int(np.ceil((self.arena_w + panel) / 16) * 16)
        self.height = int(np.ceil((height_units * self.scale + HEADER_PX) / 16) * 16)
        self.playable = playable
        self.font = ImageFont.load_default(size=11)
        self.small = ImageFont.load_default(size=8)

    def px(self, x, y) -> tuple[float, float]:
        """World (x, y), y up -> pixel (column, row), row down."""
        vx0, _, _, vy1 = self.view
        return (x - vx0) * self.scale, HEADER_PX + (vy1 - y) * self.scale

    def draw(self, raw: RawObs, info: FrameInfo, grid_size: int = 0) -> np.ndarray:
        img = Image.new("RGB", (self.width, self.height), BACKGROUND)
        d = ImageDraw.Draw(img)
        self._arena(d, grid_size)
        pos = {int(t): raw.positions[i] for i, t in enumerate(raw.raw_units[:, FU.tag])}
        for x, y, r in info.deaths:
            cx, cy = self.px(x, y)
            s = max(3.0, r * self.scale)
            d.line([cx - s, cy - s, cx + s, cy + s], fill=DEAD, width=2)
            d.line([cx - s, cy + s, cx + s, cy - s], fill=DEAD, width=2)
        self._orders(d, info.orders, pos)
        order = np.argsort(raw.raw_units[:, FU.alliance] != Alliance.neutral, kind="stable")
        for i in order:
            self._unit(d, raw, int(i), info.fired)
        for i in order:  # bars after all bodies, so that neighbours never hide them
            self._bars(d, raw, int(i))
        if info.attention:
            img = self._attention(img, info.attention, pos, raw)
            d = ImageDraw.Draw(img)
        self._header(d, raw, info)
        return np.asarray(img)

    def _arena(self, d: ImageDraw.ImageDraw, grid_size: int) -> None:
        x0, y0, x1, y1 = self.playable
        (a, b), (c, e) = self.px(x0, y1), self.px(x1, y0)
        d.rectangle([a, b, c, e], fill=PLAYABLE)
        for k in range(1, grid_size):  # the point-target cells of the action space
            gx = self.px(x0 + k * (x1 - x0) / grid_size, y0)[0]
            gy = self.px(x0, y0 + k * (y1 - y0) / grid_size)[1]
            d.line([gx, b, gx, e], fill=GRID)
            d.line([a, gy, c, gy], fill=GRID)

    def _orders(self, d: ImageDraw.ImageDraw, orders: dict[int, Order], pos: dict) -> None:
        for tag, order in orders.items():
            if tag not in pos:
                continue
            start = self.px(*pos[tag])
            colour = ATTACK if order.attack else MOVE
            if order.target_tag is not None and order.target_tag in pos:
                end = self.px(*pos[order.target_tag])
            elif order.target_xy is not None:
                end = self.px(*order.target_xy)
                d.line([end[0] - 3, end[1] - 3, end[0] + 3, end[1] + 3], fill=colour)
                d.line([end[0] - 3, end[1] + 3, end[0] + 3, end[1] - 3], fill=colour)
            else:
                continue
            d.line([*start, *end], fill=colour, width=1)

    def _unit(self, d: ImageDraw.ImageDraw, raw: RawObs, i: int, fired: set[int]) -> None:
        u = raw.raw_units[i]
        utype, alliance, tag = int(u[FU.unit_type]), int(u[FU.alliance]), int(u[FU.tag])
        cx, cy = self.px(*raw.positions[i])
        r = max(2.0, float(raw.radii[i]) * self.scale)
        colour = _shade(SIDE_COLOURS.get(alliance, (200, 200, 200)), TYPE_SHADE.get(utype, 1.0))
        if alliance == Alliance.neutral:
            d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=colour, width=2)
            return
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour,
                  outline=SHOT if tag in fired else _shade(colour, 0.5), width=2 if tag in fired else 1)
        label = UNIT_LABELS.get(utype, "?")
        if label:
            d.text((cx, cy), label, fill=(255, 255, 255), font=self.small, anchor="mm")

    def _bars(self, d: ImageDraw.ImageDraw, raw: RawObs, i: int) -> None:
        """Health (green over dark red) above the unit, and shields (blue) above that for Protoss."""
        u = raw.raw_units[i]
        utype = int(u[FU.unit_type])
        if u[FU.alliance] == Alliance.neutral:
            return
        cx, cy = self.px(*raw.positions[i])
        r = max(2.0, float(raw.radii[i]) * self.scale)
        bar_w, top = max(10.0, 2 * r), cy - r - 5
        d.rectangle([cx - bar_w / 2, top, cx + bar_w / 2, top + 2], fill=(90, 20, 20))
        d.rectangle([cx - bar_w / 2, top, cx - bar_w / 2 + bar_w * u[FU.health_ratio] / 255, top + 2],
                    fill=(70, 220, 70))
        if utype in PROTOSS or u[FU.shield] > 0:
            top -= 3
            d.rectangle([cx - bar_w / 2, top, cx + bar_w / 2, top + 2], fill=(30, 40, 80))
            d.rectangle([cx - bar_w / 2, top, cx - bar_w / 2 + bar_w * u[FU.shield_ratio] / 255, top + 2],
                        fill=(90, 170, 255))

    def _attention(self, img: Image.Image, attention, pos: dict, raw: RawObs) -> Image.Image:
        """A column of latent markers on the right, each joined to the entity it attends to most."""
        overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
        d = ImageDraw.Draw(overlay)
        top, bottom = HEADER_PX + 6, self.height - 6
        step = (bottom - top) / max(1, len(attention))
        hits: dict[int, int] = {}
        for m, (tag, weight) in enumerate(attention):
            y = top + (m + 0.5) * step
            x = self.width - LATENT_PANEL_PX + 12
            alpha = int(140 + 115 * min(1.0, weight))  # stronger weight, more opaque line
            d.rectangle([x - 3, y - 2, x + 3, y + 2], fill=(220, 120, 255, 255))
            d.text((x + 5, y), str(m), fill=(220, 120, 255, 255), font=self.small, anchor="lm")
            if tag in pos:
                d.line([x - 3, y, *self.px(*pos[tag])], fill=(220, 120, 255, alpha), width=1)
                hits[tag] = hits.get(tag, 0) + 1
        for tag, count in hits.items():  # a ring per entity, thicker the more latents pick it
            cx, cy = self.px(*pos[tag])
            row = int(np.flatnonzero(raw.raw_units[:, FU.tag] == tag)[0])
            r = float(raw.radii[row]) * self.scale + 3
            d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(220, 120, 255, 230), width=min(4, count))
        return Image.alpha_composite(img.convert("RGBA"), overlay).convert("RGB")

    def _header(self, d: ImageDraw.ImageDraw, raw: RawObs, info: FrameInfo) -> None:
        alliance = raw.raw_units[:, FU.alliance]
        own = int(np.count_nonzero((alliance == Alliance.self) | (alliance == Alliance.ally)))
        enemy = int(np.count_nonzero(alliance == Alliance.enemy))
        d.rectangle([0, 0, self.width, HEADER_PX - 2], fill=(18, 18, 22))
        d.text((6, 3), info.title, fill=TEXT, font=self.font)
        legend = [("attack", ATTACK), ("move", MOVE), ("fired", SHOT), ("x died", DEAD)]
        x = self.width - 6
        for text, colour in reversed(legend):
            x -= self.small.getlength(text) + 8
            d.text((x, 5), text, fill=colour, font=self.small)
        status = (f"t {raw.game_loop / LOOPS_PER_GAME_SECOND:5.1f} s   step {info.step}   "
                  f"score {int(raw.score_cumulative[0])}   own {own}   enemy {enemy}")
        if raw.done:
            status += {1: "   WON", -1: "   LOST"}.get(int(raw.outcome), "   END")
        d.text((6, 18), status, fill=TEXT, font=self.font)
