"""Raw-command scripted players for the economy minigames, playing as a sensible human would.

Both saturate the mineral fields two workers a field (the fewest-workers field first), keep the Command
Centers training SCVs, and build a Supply Depot whenever free supply runs low, before a supply block.
CollectMineralsAndGas: Refineries on the geysers with three workers each, and an early second Command
Center by the far mineral line, whose fields then take the new workers. BuildMarines: Barracks as the
income allows, each one training Marines without pause. Each player is a callable
`policy(obs: RawObs) -> list[RawCommand]` (as envs/engine/scripted.py's combat players; this module sits
outside the engine package so that tuning a player does not recompile the engine's kernels); a new
episode (the game loop going back) resets its memory of the builds it ordered. envs/pysc2_scripted.py
wraps them as pysc2 agents.
"""

from __future__ import annotations

import numpy as np

from envs.engine import economy_maps as EM
from envs.raw_schema import FeatureUnit as FU
from envs.raw_schema import Player as PL
from envs.raw_schema import RawCommand
from envs.raw_schema import RawFunction as RF

MAP_H = 64.0
SCV, MARINE, CC, DEPOT, BARRACKS, REFINERY, FIELD, GEYSER = 45, 48, 18, 19, 21, 20, 341, 342
SELF = 1
GATHER_ORDERS = (359, 362)  # pysc2 raw order ids of Harvest_Gather_SCV / Harvest_Return_SCV
BUILD_ORDERS = (222, 185, 214, 187)
PENDING_LOOPS = 16 * 20  # an ordered build not yet started keeps its site this long (the walk there)

# Sites that overlap nothing on either map (economy_maps.py): Supply Depots (2x2, centres on grid lines)
# around the edges, Barracks (3x3) in the open right half of BuildMarines.
DEPOT_SITES = tuple((x, y) for y in (33.0, 35.0) for x in (29.0, 31.0, 33.0, 35.0)) + \
    tuple((x, y) for y in (20.0, 22.0) for x in (29.0, 31.0, 33.0, 35.0)) + \
    tuple((x, y) for x in (45.0,) for y in (21.0, 23.0, 25.0, 27.0, 29.0, 31.0, 33.0, 35.0))
BARRACKS_SITES = tuple((x, y) for x in (38.5, 41.5) for y in (21.5, 24.5, 27.5, 30.5, 33.5))


def _px(x: float, y: float) -> tuple[float, float]:
    return float(x), MAP_H - float(y)


class EconomyPlayer:
    """Shared bookkeeping: the units by kind, worker assignment, SCV training and supply."""

    max_workers = 20
    free_supply = 4  # build a depot when this little is left (more once production grows)

    def __init__(self):
        self._last_loop = -1
        self._pending: list[tuple[tuple[float, float], int]] = []  # (site, loop ordered)
        self._assigned: dict[int, int] = {}  # SCV tag -> the field (or refinery, as -1) it was sent to

    def __call__(self, obs) -> list:
        if obs.game_loop <= self._last_loop:
            self._pending, self._assigned = [], {}
        self._last_loop = obs.game_loop
        self.obs, self.cmds = obs, []
        self.ordered: set[int] = set()  # SCVs given a build or refinery order this step
        u = obs.raw_units
        self.loop = int(obs.game_loop)
        self.minerals = int(obs.player[PL.minerals])
        self.own = u[:, FU.alliance] == SELF
        self._pending = [(s, t) for s, t in self._pending if self.loop - t < PENDING_LOOPS]
        self.play()
        return self.cmds

    # --- views
    def rows(self, unit_type, finished=None):
        u = self.obs.raw_units
        k = u[:, FU.unit_type] == unit_type
        if unit_type not in (FIELD, GEYSER):
            k &= self.own
        if finished is not None:
            k &= (u[:, FU.build_progress] == 100) == finished
        return np.flatnonzero(k)

    def tag(self, i) -> int:
        return int(self.obs.raw_units[i, FU.tag])

    def xy(self, i) -> np.ndarray:
        return self.obs.positions[i]

    def order(self, i) -> int:
        return int(self.obs.raw_units[i, FU.order_id_0])

    def spend(self, cost: int) -> bool:
        if self.minerals < cost:
            return False
        self.minerals -= cost
        return True

    def supply_left(self) -> int:
        return int(self.obs.player[PL.food_cap]) - int(self.obs.player[PL.food_used])

    # --- workers
    def harvest(self):
        """Idle SCVs to the field with the fewest workers near a finished Command Center (nearest first);
        a field's third worker moves to a field with fewer than two. Raw units do not show order targets,
        so the player remembers the field it sent each SCV to."""
        ccs = [self.xy(c) for c in self.rows(CC, finished=True)]
        fields = [f for f in self.rows(FIELD) if ccs and min(np.hypot(*(self.xy(f) - c)) for c in ccs) < 10.0]
        if not fields:
            return
        alive = {self.tag(s) for s in self.rows(SCV)}
        field_tags = {self.tag(f): f for f in fields}
        remembered = {w: t for w, t in self._assigned.items() if w in alive}
        self._assigned = remembered
        count = dict.fromkeys(field_tags, 0)
        for t in remembered.values():
            if t in count:
                count[t] += 1
        for s in self.rows(SCV):
            w = self.tag(s)
            idle = self.obs.raw_units[s, FU.order_length] == 0
            if not idle and remembered.get(w) in field_tags or not idle and remembered.get(w, 0) < 0:
                continue
            if w in self.ordered or not idle and self.order(s) in BUILD_ORDERS:
                continue
            here = self.xy(s)

            def rank(t, here=here):
                return count[t], float(np.hypot(*(here - self.xy(field_tags[t]))))

            best = min(field_tags, key=rank)
            if not idle and count[best] >= 2:
                continue
            count[best] += 1
            self._assigned[w] = best
            self.cmds.append(RawCommand(RF.Harvest_Gather_unit, False, (w,), best))
        # a third worker on a field moves to one with fewer than two
        crowded = [t for t, n in count.items() if n > 2]
        for t in crowded:
            room = [f for f, n in count.items() if n < 2]
            if not room:
                break
            w = next(w for w, f in self._assigned.items() if f == t)
            self._assigned[w] = room[0]
            count[t] -= 1
            count[room[0]] += 1
            self.cmds.append(RawCommand(RF.Harvest_Gather_unit, False, (w,), room[0]))

    def builder(self):
        """A mineral-harvesting SCV not carrying minerals (else any SCV not building), for a build; it
        leaves its field (the player forgets the assignment)."""
        best = None
        for s in self.rows(SCV):
            on_field = self._assigned.get(self.tag(s), -1) >= 0
            if on_field and self.order(s) in GATHER_ORDERS and self.obs.raw_units[s, FU.buff_id_0] == 0:
                best = s
                break
            if best is None and on_field and self.order(s) not in BUILD_ORDERS:
                best = s
        if best is not None:
            self._assigned.pop(self.tag(best), None)
            self.ordered.add(self.tag(best))
        return best

    def build(self, function, cost: int, sites) -> bool:
        """Order a structure on the first free site; False if none or unaffordable."""
        if self.minerals < cost:
            return False
        structures = np.flatnonzero(self.own & np.isin(self.obs.raw_units[:, FU.unit_type],
                                                        (CC, DEPOT, BARRACKS, REFINERY)))
        pending = [s for s, _ in self._pending]
        for site in sites:
            near = np.hypot(*(self.obs.positions[structures] - np.asarray(site)).T) < 1.0
            if near.any() or site in pending:
                continue
            b = self.builder()
            if b is None:
                return False
            self.spend(cost)
            self._pending.append((site, self.loop))
            self.cmds.append(RawCommand(function, False, (self.tag(b),), _px(*site)))
            return True
        return False

    def building(self, order_id: int) -> int:
        """SCVs ordered to build this (walking there or constructing)."""
        return sum(1 for s in self.rows(SCV) if self.order(s) == order_id)

    def train_scvs(self):
        workers = len(self.rows(SCV))
        for cc in self.rows(CC, finished=True):
            queue = int(self.obs.raw_units[cc, FU.order_length])
            if workers < self.max_workers and queue < 1 and self.supply_left() >= 1 and self.spend(50):
                self.cmds.append(RawCommand(RF.Train_SCV_quick, False, (self.tag(cc),)))
                workers += 1

    def supply(self, reserve: int):
        """A depot when free supply, counting the depots under way, falls to `reserve`."""
        under_way = len(self.rows(DEPOT, finished=False)) + self.building(222)
        if int(self.obs.player[PL.food_cap]) + 8 * under_way >= 200:
            return
        if self.supply_left() + 8 * under_way <= reserve:
            self.build(RF.Build_SupplyDepot_pt, 100, DEPOT_SITES)

    def play(self):
        raise NotImplementedError


class CollectMineralsAndGas(EconomyPlayer):
    """Saturate both mineral lines and all four geysers; expand early; SCVs until saturation."""

    max_workers = 16 * 2 + 4 * 3

    def play(self):
        refineries = self.rows(REFINERY)
        ccs = self.rows(CC)
        if len(ccs) < 2 and self.building(187) == 0 and self.loop > 16 * 20:
            if self.build(RF.Build_CommandCenter_pt, 400, (EM.EXPANSION_AT,)):
                return
        self.train_scvs()
        self.supply(reserve=3 + 2 * len(self.rows(CC, finished=True)))
        if len(self.rows(SCV)) >= 15 and self.building(214) == 0:
            taken = [self.xy(r) for r in refineries]
            cc_xy = [self.xy(c) for c in self.rows(CC, finished=True)]
            for g in self.rows(GEYSER):
                near = min(float(np.hypot(*(self.xy(g) - c))) for c in cc_xy) if cc_xy else 99.0
                free = all(np.hypot(*(self.xy(g) - t)) > 1.0 for t in taken)
                if free and near < 9.0 and self.minerals >= 75:
                    b = self.builder()
                    if b is not None and self.spend(75):
                        self._assigned[self.tag(b)] = -1  # it harvests its Refinery once built
                        self.cmds.append(RawCommand(RF.Build_Refinery_pt, False, (self.tag(b),), self.tag(g)))
                    break
        self.fill_refineries()
        self.harvest()

    def fill_refineries(self):
        for r in self.rows(REFINERY, finished=True):
            have = int(self.obs.raw_units[r, FU.assigned_harvesters])
            if have >= 3:
                continue
            scvs = [s for s in self.rows(SCV) if self.order(s) in GATHER_ORDERS
                    and self.tag(s) not in self.ordered
                    and self._assigned.get(self.tag(s), -1) >= 0 and self.obs.raw_units[s, FU.buff_id_0] == 0]
            scvs.sort(key=lambda s: float(np.hypot(*(self.xy(s) - self.xy(r)))))
            for s in scvs[:3 - have]:
                self._assigned[self.tag(s)] = -1
                self.ordered.add(self.tag(s))
                self.cmds.append(RawCommand(RF.Harvest_Gather_unit, False, (self.tag(s),), self.tag(r)))


class BuildMarines(EconomyPlayer):
    """Two workers a field and a few more, depots ahead of supply, Barracks as income allows, Marines
    from every Barracks without pause."""

    max_workers = 20
    max_barracks = 8

    def play(self):
        barracks = self.rows(BARRACKS)
        ready = self.rows(BARRACKS, finished=True)
        self.supply(reserve=3 + 2 * len(barracks))
        if len(self.rows(DEPOT, finished=True)) and len(barracks) + self.building(185) < self.max_barracks:
            # another Barracks once the workers are up, while the bank outgrows the current ones
            workers = len(self.rows(SCV))
            if workers >= 16 and self.minerals >= 150 + 25 * len(ready) and self.building(185) < 2:
                self.build(RF.Build_Barracks_pt, 150, BARRACKS_SITES)
        for b in ready:
            idle = int(self.obs.raw_units[b, FU.order_length]) == 0
            if idle and self.supply_left() >= 1 and self.spend(50):
                self.cmds.append(RawCommand(RF.Train_Marine_quick, False, (self.tag(b),)))
        self.train_scvs()
        self.harvest()


SCRIPTED_ECONOMY = {"CollectMineralsAndGas": CollectMineralsAndGas, "BuildMarines": BuildMarines}
