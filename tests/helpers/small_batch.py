"""The two-student batch that the PostgreSQL tests grade another way, on the `tiny` assignment.

`small_batch(root)` builds a course root (tests/helpers/tiny.py) and a submissions folder with
two students: `right` (full marks) and `wrong` (0). `default_grades(...)` grades that batch
once per test session the default way (SQLite gradebook, the local pool) and returns its
grades, so each test that grades the same batch another way compares against one baseline
instead of grading it twice. The assignment is tiny because what these tests check is where
the grades go, not how a real assignment is graded (its own batches do that).
"""
from __future__ import annotations

from pathlib import Path

import nbformat

from .course import read_grades, run_grading
from .tiny import A as ASSIGNMENT
from .tiny import RIGHT, WRONG, student_nb, tiny_course

# Lean: no feedback or report (not what these tests are about), caps as the hostile batch.
FAST = ["--workers", "2", "--no-feedback", "--no-report", "--cell-seconds", "60",
        "--wall-seconds", "240", "--cpu-seconds", "240", "--memory-mb", "3500"]
_BASELINE: dict = {}


def small_batch(root: Path, right: str = "right", wrong: str = "wrong") -> tuple[Path, Path]:
    """(course root, submissions folder) with two students: a right and a wrong answer."""
    root = Path(root)
    course = tiny_course(root)
    subs = root / "submissions"
    for student, body in ((right, RIGHT), (wrong, WRONG)):
        (subs / student).mkdir(parents=True)
        nbformat.write(student_nb(body), subs / student / f"{ASSIGNMENT}.ipynb")
    return course, subs


def grade(course: Path, subs: Path, *extra: str, env: dict, db_url: str | None = None) -> dict:
    """Grade with `python -m grading`; the grades read back from the gradebook."""
    args = [*FAST, *extra] + (["--db-url", db_url] if db_url else [])
    proc = run_grading(course, ASSIGNMENT, subs, *args, env=env)
    assert proc.returncode == 0, f"grading failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return read_grades(course, ASSIGNMENT, db_url)


def default_grades(tmp_path_factory, env: dict) -> dict:
    """The small batch graded the default way (SQLite, local pool), once per session."""
    if "grades" not in _BASELINE:
        course, subs = small_batch(tmp_path_factory.mktemp("baseline"))
        _BASELINE["grades"] = grade(course, subs, env=env)
    return _BASELINE["grades"]
