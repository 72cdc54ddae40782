"""Default caps from the reference solution's measured time (grading/budgets.json).

`python scripts/bench_budgets.py --measure ASSIGNMENT` executes the reference (the release with
the instructor's answers) and records its wall time (kernel start included) and its slowest cell,
with the solution notebook's SHA-256, the machine and the date. The defaults of
`python -m grading` are multiples of those figures, with floors for slower machines:

    --cell-seconds = max(CELL_FLOOR, CELL_FACTOR * slowest cell)
    --wall-seconds = max(WALL_FLOOR, WALL_FACTOR * reference wall time)

so a looping or sleeping submission costs about a minute on the small assignments instead of
the generic 300 s per cell and 900 s per notebook. Explicit flags override; an assignment
without a record keeps the generic caps. tests/test_budgets.py fails when a solution notebook
changed since it was measured.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

BUDGETS = Path(__file__).with_name("budgets.json")
CELL_FACTOR, CELL_FLOOR = 3.0, 20
WALL_FACTOR, WALL_FLOOR = 2.5, 60


def notebook_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load() -> dict:
    return json.loads(BUDGETS.read_text()) if BUDGETS.exists() else {}


def defaults(assignment: str) -> tuple[int, int] | None:
    """(cell_seconds, wall_seconds) for the assignment, or None when it was never measured."""
    record = load().get(assignment)
    if not record:
        return None
    cell = max(CELL_FLOOR, math.ceil(CELL_FACTOR * record["slowest_cell_seconds"]))
    wall = max(WALL_FLOOR, math.ceil(WALL_FACTOR * record["wall_seconds"]))
    return cell, max(wall, cell)
