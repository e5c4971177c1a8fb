"""Playing one seeded episode and drawing it frame by frame (agent/render/draw.py draws each frame).

Frame t shows observation t and the actions chosen on it. Own units' orders are tracked from the agent's
actions (the game reports only that a unit has an order); with a Perceiver IO checkpoint the encoder's
cross-attention is recorded on each forward.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from agent.evaluation.agents import AgentSource, inference_threads
from agent.evaluation.run_loop import play
from agent.model.encoders import PerceiverIOEncoder
from agent.render.draw import FrameDrawer, FrameInfo, Order
from envs.action_space import Verb
from envs.engine import map_spec
from envs.errors import UserError
from envs.raw_schema import Alliance
from envs.raw_schema import FeatureUnit as FU

DEATH_FRAMES = 3  # how long a death cross stays (frames)


class OrderTracker:
    """Own units' current orders, from the per-unit actions (entity targets by tag, cells as points)."""

    def __init__(self, spec):
        self.layout = spec.layout
        self.cells = spec.cell_centres()
        self.orders: dict[int, Order] = {}

    def give(self, actions: np.ndarray, slot_tags: np.ndarray, action_mask: np.ndarray) -> None:
        for unit, action in enumerate(np.asarray(actions).tolist()):
            tag = int(slot_tags[unit])
            if tag == 0 or not action_mask[unit, action]:  # padding, or an illegal choice (a no-op)
                continue
            verb, target = self.layout.decode(action)
            if verb == Verb.QUEUE_MOVE_ENTITY and tag in self.orders:  # only the current order is drawn
                continue
            if verb in (Verb.MOVE_ENTITY, Verb.ATTACK_ENTITY, Verb.QUEUE_MOVE_ENTITY):
                order = Order(attack=verb == Verb.ATTACK_ENTITY, target_tag=int(slot_tags[target]))
            elif verb in (Verb.MOVE_POINT, Verb.ATTACK_POINT):
                order = Order(attack=verb == Verb.ATTACK_POINT, target_xy=tuple(self.cells[target]))
            elif verb == Verb.STOP:
                self.orders.pop(tag, None)
                continue
            else:  # NO_OP keeps the current order
                continue
            self.orders[tag] = order

    def update(self, raw) -> None:
        """Forget orders the game reports finished, of dead units, or aimed at units that are gone."""
        units = raw.raw_units
        busy = {int(t) for t in units[units[:, FU.order_length] > 0, FU.tag]}
        alive = {int(t) for t in units[:, FU.tag]}
        self.orders = {tag: o for tag, o in self.orders.items()
                       if tag in busy and (o.target_tag is None or o.target_tag in alive)}


class AttentionProbe:
    """Records the Perceiver IO encoder's cross-attention [B, heads, M, N] on each policy forward."""

    def __init__(self, encoder):
        self.weights: torch.Tensor | None = None
        self._handle = encoder.register_forward_hook(self._hook, with_kwargs=True)

    def _hook(self, module, args, kwargs, output):
        x = args[0] if args else kwargs["x"]
        mask = args[1] if len(args) > 1 else kwargs["mask"]
        with torch.no_grad():  # forward() directly: a second __call__ would re-enter this hook
            self.weights = module.forward(x, mask, return_attention=True)[2]

    def close(self) -> None:
        self._handle.remove()

    def top_entities(self, slot_tags: np.ndarray, entity_mask: np.ndarray) -> list[tuple[int, float]]:
        """Per latent: (tag of the entity with the largest head-averaged weight, that weight). The policy
        runs the encoder over the real entities only, moved to the front in slot order
        (EntityPolicy.encode), so column n is the n-th real entity's slot unless every slot was encoded."""
        w = self.weights[0].mean(dim=0).numpy()  # [M, columns]
        slots = np.arange(len(slot_tags)) if w.shape[1] == len(slot_tags) else np.flatnonzero(entity_mask)
        top = w.argmax(axis=1)
        return [(int(slot_tags[slots[n]]), float(w[m, n])) for m, n in enumerate(top)]


class EpisodeRecorder:
    """An agent wrapper that draws every observation and the actions its agent chooses on it.

    It plays through the evaluation run loop (agent/evaluation/run_loop.py), so rendering and evaluation
    share one loop; `finish` draws the last observation, on which no action is chosen.
    """

    def __init__(self, agent, env, drawer: FrameDrawer, title: str, *, probe: AttentionProbe | None = None,
                 steps: int | None = None, progress: bool = False):
        self.agent, self.base, self.drawer, self.title = agent, env.unwrapped, drawer, title
        self.probe = probe
        self.tracker = OrderTracker(self.base.entity_spec)
        self.frames: list[np.ndarray] = []
        self._deaths: list = []
        self._prev = None
        self._bar = tqdm(total=steps, desc="render", unit="step", disable=not progress, leave=False)

    def reset(self) -> None:
        self.agent.reset()

    def act(self, obs: dict) -> np.ndarray:
        actions = self.agent.act(obs)
        self._draw(obs, actions)
        self._bar.update(1)
        return actions

    def finish(self) -> None:
        self._draw(None, None)
        self._bar.close()

    def _draw(self, obs: dict | None, actions: np.ndarray | None) -> None:
        """Frame t: observation t, the orders so far and the actions chosen on it (None: the last frame)."""
        raw = self.base.last_raw
        self.tracker.update(raw)
        fired, self._deaths = _events(self._prev, raw, self._deaths)
        info = FrameInfo(title=self.title, step=len(self.frames), fired=fired,
                         deaths=[d[:3] for d in self._deaths])
        if actions is not None:
            self.tracker.give(actions, self.base.slot_tags, obs["action_mask"])
            if self.probe is not None:
                info.attention = self.probe.top_entities(self.base.slot_tags, obs["entity_mask"])
        info.orders = dict(self.tracker.orders)
        self.frames.append(self.drawer.draw(raw, info, self.base.entity_spec.grid_size))
        # The engine reuses its observation buffers from step to step: keep a copy.
        self._prev = replace(raw, raw_units=raw.raw_units.copy(), positions=raw.positions.copy(),
                             radii=raw.radii.copy())


def record(agent_name: str, map_name: str, *, seed: int = 0, steps: int | None = None,
           attention: bool = False, enemy_bot: str | None = None, sample: bool = False,
           scale: float | None = None, cross_map: bool = False,
           progress: bool = False) -> tuple[list[np.ndarray], dict]:
    """Play one episode (seed `seed`) and draw it: -> (frames [H, W, 3] uint8, summary). A checkpoint
    plays only the map it was trained on unless `cross_map`."""
    map_spec(map_name)  # an unknown map fails before a checkpoint loads
    if steps is not None and steps < 1:
        raise UserError(f"--steps must be at least 1, got {steps}")
    source = AgentSource(agent_name, sample=sample, cross_map=cross_map)
    source.check_map(map_name)
    probe = None
    if attention:
        if source.policy is None:
            raise UserError("--attention needs a Perceiver IO checkpoint, not the "
                            f"{agent_name} agent")
        if not isinstance(source.policy.encoder, PerceiverIOEncoder):
            encoder = source.policy.constructor_kwargs["encoder"]
            raise UserError(f"--attention needs a Perceiver IO checkpoint; this one uses {encoder!r}")
        probe = AttentionProbe(source.policy.encoder)

    env = source.make_env(map_name, enemy_bot=enemy_bot)
    try:
        spec = env.unwrapped.entity_spec
        title = f"{map_name}   {Path(agent_name).name}   seed {seed}"
        if enemy_bot:
            title += f"   enemy {enemy_bot}"
        drawer = FrameDrawer(spec.playable, scale=scale, latent_panel=probe is not None)
        recorder = EpisodeRecorder(source.make(map_name, env, seed), env, drawer, title, probe=probe,
                                   steps=steps, progress=progress)
        with inference_threads(source):
            (episode,) = play(env, recorder, 1, seed, progress=False, max_steps=steps)
        recorder.finish()
    finally:
        env.close()
        if probe is not None:
            probe.close()
    summary = {"frames": len(recorder.frames), "steps": episode.length, "score": episode.score,
               "won": episode.won, "size": (drawer.width, drawer.height)}
    return recorder.frames, summary


def _events(prev, raw, deaths):
    """Tags that fired since `prev` and the recent deaths, aged by one frame."""
    deaths = [(x, y, r, age + 1) for x, y, r, age in deaths if age + 1 < DEATH_FRAMES]
    if prev is None:
        return set(), deaths
    before = {int(t): i for i, t in enumerate(prev.raw_units[:, FU.tag])}
    now = {int(t): i for i, t in enumerate(raw.raw_units[:, FU.tag])}
    # Without a shot the cooldown falls by the loops elapsed (to 0); anything higher means a new shot.
    # The game hides enemies' cooldowns, so only own shots show.
    elapsed = raw.game_loop - prev.game_loop
    cooldown = FU.weapon_cooldown
    fired = {t for t, i in now.items() if t in before and raw.raw_units[i, cooldown]
             > max(0, prev.raw_units[before[t], cooldown] - elapsed)}
    # A unit that vanished is dead, except on a new wave, where the survivors are re-created with new tags
    # (envs/engine/rules.py new_wave): only count it when no new own unit appeared in the same step.
    respawned = any(t not in before for t, i in now.items()
                    if raw.raw_units[i, FU.alliance] in (Alliance.self, Alliance.ally))
    for t, i in before.items():
        if t in now or prev.raw_units[i, FU.alliance] == Alliance.neutral:
            continue
        if respawned and prev.raw_units[i, FU.alliance] in (Alliance.self, Alliance.ally):
            continue
        deaths.append((*prev.positions[i], float(prev.radii[i]), 0))
    return fired, deaths
