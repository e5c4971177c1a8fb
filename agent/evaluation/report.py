"""Reporting for `perceiver-sc2 evaluate`: published reference scores, the markdown table, CSV and JSON."""

from __future__ import annotations

import csv
from pathlib import Path

from agent.outputs import atomic_path, write_json_atomic

# Mean episode scores published for the pysc2 minigames: the first seven columns from Vinyals et al. 2017,
# "StarCraft II: A New Challenge for Reinforcement Learning", Table 1; the last from Zambaldi et al. 2018,
# "Relational Deep Reinforcement Learning", as quoted by others. "<1" is kept as printed in the paper.
PUBLISHED_SOURCE = "pysc2 paper (Vinyals et al. 2017, Table 1); relational: Zambaldi et al. 2018"
PUBLISHED_COLUMNS = ("random", "random_search", "human", "grandmaster", "atari_net", "fullyconv",
                     "fullyconv_lstm", "relational")
PUBLISHED = {
    "MoveToBeacon": (1, 25, 26, 28, 25, 26, 26, 27),
    "CollectMineralShards": (17, 32, 133, 177, 96, 103, 104, 196),
    "FindAndDefeatZerglings": (4, 21, 46, 61, 49, 45, 44, 62),
    "DefeatRoaches": (1, 51, 41, 215, 101, 100, 98, 303),
    "DefeatZerglingsAndBanelings": (23, 55, 729, 727, 81, 62, 96, 736),
    "CollectMineralsAndGas": (12, 2318, 6880, 7566, 3356, 3978, 3351, 5055),
    "BuildMarines": ("<1", 8, 138, 133, "<1", 3, 6, 123),
}
# The columns shown in the terminal table (all of them go to JSON and CSV).
TABLE_PUBLISHED = ("random", "human", "grandmaster", "fullyconv_lstm", "relational")


def published_scores(map_name: str) -> dict | None:
    """The published scores of a minigame keyed by PUBLISHED_COLUMNS, or None for other maps."""
    row = PUBLISHED.get(map_name)
    return None if row is None else dict(zip(PUBLISHED_COLUMNS, row, strict=True))


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def format_row(s: dict) -> list[str]:
    score = f"{s['mean']:.1f} [{s['ci_low']:.1f}, {s['ci_high']:.1f}]"
    win = "-"
    if "win_rate" in s:
        win = f"{_pct(s['win_rate'])} [{_pct(s['win_low'])}, {_pct(s['win_high'])}]"
    pub = s.get("published")
    published = " / ".join(str(pub[c]) for c in TABLE_PUBLISHED) if pub else "-"
    return [str(s["agent"]), str(s["enemy_bot"]), s["map"], str(s["episodes"]), score, win, published]


def markdown_table(rows: list[dict]) -> str:
    """One line per (agent, enemy bot, map): mean with its bootstrap CI, win rate with its Wilson interval,
    and the published scores of the map when it is a pysc2 minigame."""
    header = ["agent", "enemy bot", "map", "episodes", "mean score [95% bootstrap CI]",
              "win rate [95% Wilson]", "published: " + " / ".join(TABLE_PUBLISHED)]
    body = [format_row(s) for s in rows]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in body]
    out.append(f"published scores: {PUBLISHED_SOURCE}")
    return "\n".join(out)


CSV_FIELDS = ("agent", "enemy_bot", "map", "episodes", "seed", "mean", "ci_low", "ci_high", "std", "min",
              "max", "mean_length", "wins", "decided", "win_rate", "win_low", "win_high",
              *(f"published_{c}" for c in PUBLISHED_COLUMNS))


def write_csv(rows: list[dict], path: str | Path) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for s in rows:
            flat = dict(s)
            for c, v in (s.get("published") or {}).items():
                flat[f"published_{c}"] = v
            writer.writerow(flat)


def write_json(data, path: str | Path) -> None:
    write_json_atomic(path, data, indent=2)
