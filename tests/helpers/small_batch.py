"""The two-student `schedules` batch that the PostgreSQL and Dask tests grade another way.

`small_batch(root)` builds a course root and a submissions folder with two students: the
reference solution and the untouched release. `default_grades(...)` grades that batch once per
test session the default way (SQLite gradebook, the local pool) and returns its grades, so each
test that grades the same batch another way compares against one baseline instead of grading
it twice.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from .course import make_course, read_grades, reference_submission, run_grading

ASSIGNMENT = "schedules"
# Lean: no feedback or report (not what these tests are about), caps as the hostile batch.
FAST = ["--workers", "2", "--no-feedback", "--no-report", "--cell-seconds", "60",
        "--wall-seconds", "240", "--cpu-seconds", "240", "--memory-mb", "3500"]
_BASELINE: dict = {}


def small_batch(root: Path) -> tuple[Path, Path]:
    """(course root, submissions folder) with `reference` and `release` as students."""
    root = Path(root)
    course = make_course(root, ASSIGNMENT)
    subs = root / "submissions"
    (subs / "reference").mkdir(parents=True)
    nbformat.write(reference_submission(course, ASSIGNMENT), subs / "reference" / f"{ASSIGNMENT}.ipynb")
    (subs / "release").mkdir()
    shutil.copy2(course / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                 subs / "release" / f"{ASSIGNMENT}.ipynb")
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
