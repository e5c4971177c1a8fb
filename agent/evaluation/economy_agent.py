"""The economy minigames' scripted agent in the entity env: the raw-command players of
envs/scripted_economy.py, their commands carried out through the per-unit action space.

Each step the player sees the env's raw observation and gives its raw commands; each command becomes the
named units' actions: gather and build-refinery point at the target's entity slot, a build at a point
takes the legal cell whose site lies nearest to the point, a train or return is the verb alone. A command
the action mask forbids is left out (the unit keeps its order), so the agent plays only what the entity
env lets a policy play, and its score is a baseline a policy on the same action space can reach.
"""

from __future__ import annotations

import numpy as np

from agent.evaluation.scripted import Agent
from envs.action_space import Target, Verb
from envs.featurize import EntitySpec
from envs.raw_schema import RawFunction as RF
from envs.scripted_economy import SCRIPTED_ECONOMY

VERB_OF_FUNCTION = {
    RF.Harvest_Gather_unit: Verb.GATHER,
    RF.Harvest_Return_quick: Verb.RETURN,
    RF.Build_SupplyDepot_pt: Verb.BUILD_SUPPLY_DEPOT,
    RF.Build_Barracks_pt: Verb.BUILD_BARRACKS,
    RF.Build_CommandCenter_pt: Verb.BUILD_COMMAND_CENTER,
    RF.Build_Refinery_pt: Verb.BUILD_REFINERY,
    RF.Train_SCV_quick: Verb.TRAIN_SCV,
    RF.Train_Marine_quick: Verb.TRAIN_MARINE,
}
# the cell builds in the order of EntitySpec.build_sites
CELL_BUILDS = (Verb.BUILD_SUPPLY_DEPOT, Verb.BUILD_BARRACKS, Verb.BUILD_COMMAND_CENTER)
BUILDS = (*CELL_BUILDS, Verb.BUILD_REFINERY)


class RawPlayerAgent(Agent):
    """A raw-command economy player acting through the entity env `env` (whose raw observation and slot
    tags it reads)."""

    def __init__(self, spec: EntitySpec, player, env, seed: int = 0):
        super().__init__(spec, seed)
        self.player, self.env = player, env

    def act(self, obs: dict) -> np.ndarray:
        actions = super().act(obs)
        raw, tags = self.env.last_raw, self.env.slot_tags
        slot_of = {int(t): s for s, t in enumerate(tags.tolist()) if t}
        mask = obs["action_mask"]
        for cmd in self.player(raw):
            verb = VERB_OF_FUNCTION.get(RF(cmd.function))
            if verb is None:
                continue
            seg = self.layout.segment(verb)
            for tag in cmd.unit_tags:
                unit = slot_of.get(int(tag), self.spec.max_units)
                if unit >= self.spec.max_units:
                    continue
                if verb in BUILDS:  # one worker a step may build (envs/economy_kernels.py): that one builds
                    builders = np.flatnonzero(mask[:, seg.start:seg.start + seg.size].any(-1))
                    unit = int(builders[0]) if len(builders) else unit
                action = self._action(verb, seg, cmd.target, slot_of, mask[unit])
                if action is not None and mask[unit, action]:
                    actions[unit] = action
        return actions

    def _action(self, verb: Verb, seg, target, slot_of: dict, legal: np.ndarray) -> int | None:
        if seg.target is Target.NONE:
            return seg.start
        if seg.target is Target.ENTITY:
            slot = slot_of.get(int(target))
            return None if slot is None else seg.start + slot
        cells = np.flatnonzero(legal[seg.start : seg.start + seg.size])
        if len(cells) == 0:
            return None
        w, h = self.spec.map_size
        res = self.spec.raw_resolution
        point = np.array([target[0] * w / res, h - target[1] * h / res])  # raw pixel -> world (y up)
        sites = self.spec.build_sites[CELL_BUILDS.index(verb)][cells]
        return seg.start + int(cells[np.argmin(np.hypot(*(sites - point).T))])


def economy_agent(map_name: str, spec: EntitySpec, env, seed: int = 0) -> RawPlayerAgent | None:
    """The scripted agent of an economy map (None for other maps)."""
    player_cls = SCRIPTED_ECONOMY.get(map_name)
    return None if player_cls is None else RawPlayerAgent(spec, player_cls(), env, seed)
