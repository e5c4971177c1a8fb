"""The tables of README.md and docs/RESULTS.md are what bench/tables.py makes of the committed JSON files.

A hand edit of a table, or a JSON file rerun without regenerating the tables, fails here: run
`python bench/tables.py` and commit the result.
"""

import re
from pathlib import Path

import pytest

from bench import tables

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("document", tables.DOCUMENTS)
def test_generated_blocks_match_their_sources(document):
    text = (ROOT / document).read_text()
    assert tables.block_names(text), f"{document} has no generated block"
    assert tables.stale_blocks(text) == [], f"run `{tables.COMMAND}`: these blocks of {document} are stale"


def test_every_block_is_placed_once_and_its_sources_exist():
    names = [name for doc in tables.DOCUMENTS for name in tables.block_names((ROOT / doc).read_text())]
    assert sorted(names) == sorted(tables.BLOCKS)  # each block exactly once, none unknown
    for sources, _ in tables.BLOCKS.values():
        for path in sources:
            assert (ROOT / path).is_file(), path


def _first_table_digit(block: str) -> int:
    """Offset of the first digit in the body of a block's first table (below its |---| line)."""
    body = block.index("|---")
    return body + re.search(r"\d", block[body + 4:]).start() + 4


def test_a_hand_edited_number_is_caught_and_regeneration_restores_it():
    text = (ROOT / "docs/RESULTS.md").read_text()
    match = next(tables.MARKER.finditer(text))
    at = match.start() + _first_table_digit(match[0])
    edited = text[:at] + str((int(text[at]) + 1) % 10) + text[at + 1:]
    assert tables.stale_blocks(edited) == [match["name"]]
    assert tables.regenerate(edited) == text


def test_an_unknown_block_name_is_refused():
    with pytest.raises(KeyError, match="unknown generated block 'nope'"):
        tables.regenerate("<!-- generated: nope (source: x) -->\n| a |\n<!-- /generated -->\n")


def _score(mean, low, high):
    return {"mean": mean, "ci_low": low, "ci_high": high}


def test_beats_only_when_the_intervals_separate():
    scripted = _score(285.88, 264.09, 306.51)
    assert tables.compare(_score(302.76, 287.31, 317.25), scripted) == "higher mean, intervals overlap"
    assert tables.compare(_score(154.55, 153.19, 155.87), _score(138.59, 137.14, 140.06)) == "beats"
    assert tables.compare(_score(78.11, 74.32, 81.56), _score(138.59, 137.14, 140.06)) == "below"
    assert tables.compare(_score(270.0, 250.0, 290.0), scripted) == "lower mean, intervals overlap"
    assert tables.compare(scripted, dict(scripted)) == "same mean"
    # touching intervals overlap: no "beats"
    assert tables.compare(_score(320.0, 306.51, 330.0), scripted) == "higher mean, intervals overlap"


def test_docs_cite_public_sources_not_workspace_notes():
    paths = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "bench").glob("*.py")]
    for path in paths:
        text = path.read_text()
        assert "REFERENCE" + ".md" not in text, path  # split so that this check does not find itself
        assert not re.search(r"\bissues? \d", text, re.IGNORECASE), path


def test_a_table_measured_on_an_older_engine_says_it_is_stale():
    from bench.provenance import engine_commit

    now = engine_commit()
    if now is None:
        pytest.skip("not a git checkout")
    run = {"date": "2026-01-01 00:00 UTC", "commit": "a" * 40, "command": "python bench/baselines.py"}
    current = tables.measured({**run, "engine_commit": now}, "docs/x.json")
    expected = "Measured 2026-01-01 00:00 UTC at commit aaaaaaa (docs/x.json; `python bench/baselines.py`)."
    assert current == expected
    older = tables.measured({**run, "engine_commit": "b" * 40}, "docs/x.json")
    assert older.startswith(current) and "Stale: the engine's code changed since commit bbbbbbb**" in older


def test_the_pace_table_finds_the_first_checkpoint_at_80_percent_of_the_final_greedy_score():
    def run(final, curve):
        return {"policy": {"mean": final},
                "greedy_curve": [{"env_steps": steps, "greedy_mean": score} for steps, score in curve]}
    curve = [(1000, 50.0), (2000, 79.9), (3000, 80.0), (4000, 120.0)]
    assert tables._steps_to_80(run(100.0, curve)) == "3,000"
    assert tables._steps_to_80(run(100.0, [(1000, 50.0)])) == "not reached"
    assert tables._steps_to_80(run(0.0, [(1000, 5.0)])).startswith("-")
