"""The plain `nbgrader autograde` workflow (trusted notebooks), for tests and benchmarks.

    from helpers.nbgrader_batch import grade_batch
    results = grade_batch(repo, "schedules", {"alice": Path("alice.ipynb")}, tmp_path, env)
    results["alice"]["test_power_visible"], results["alice"]["total"]

`grade_batch` builds a throw-away nbgrader course in `workdir` (the repository's
nbgrader_config.py and feedback preprocessor, `solutions/<assignment>`), releases the assignment,
puts each submission at `submitted/<student>/<assignment>/<assignment>.ipynb`, runs one
`nbgrader autograde` subprocess for the whole batch with the given environment, and reads the
points of every grade cell from the gradebook.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .course import copy_config

AUTOGRADE_TIMEOUT = 1800  # seconds for one batch


def nbgrader(args: list[str], course: Path, env: dict, timeout: float) -> subprocess.CompletedProcess:
    env = dict(env)
    bindir = str(Path(sys.executable).parent)  # nbgrader calls `alembic` from PATH
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n"
                           f"{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


def make_released_course(repo: Path, assignment: str, workdir: Path, env: dict) -> Path:
    """A temporary course root with the repository's config and one released assignment."""
    course = Path(workdir) / "course"
    if course.exists():
        shutil.rmtree(course)
    (course / "solutions").mkdir(parents=True)
    copy_config(course)
    shutil.copytree(repo / "solutions" / assignment, course / "solutions" / assignment,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    nbgrader(["generate_assignment", assignment, "--force"], course, env, timeout=600)
    return course


def grade_batch(repo: Path, assignment: str, submissions: dict[str, Path], workdir: Path,
                env: dict) -> dict[str, dict[str, float]]:
    """Autograde every submission (student id -> notebook path) in one nbgrader call.

    Returns student id -> {grade cell id: points, ..., "total": points}."""
    repo, workdir = Path(repo), Path(workdir)
    course = make_released_course(repo, assignment, workdir, env)
    for student, notebook in submissions.items():
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", student):
            raise ValueError(f"student id {student!r}: use letters, digits, _ . - only")
        target = course / "submitted" / student / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(notebook, target)
    autograde(course, assignment, env)
    return gradebook_points(course, assignment, list(submissions))


def autograde(course: Path, assignment: str, env: dict) -> subprocess.CompletedProcess:
    """`nbgrader autograde ASSIGNMENT --force` in a course root, as a subprocess."""
    return nbgrader(["autograde", assignment, "--force"], Path(course), env, timeout=AUTOGRADE_TIMEOUT)


def generate_feedback(course: Path, assignment: str, env: dict) -> subprocess.CompletedProcess:
    """`nbgrader generate_feedback ASSIGNMENT --force` in a course root, as a subprocess."""
    return nbgrader(["generate_feedback", assignment, "--force"], Path(course), env, timeout=600)


def gradebook_points(course: Path, assignment: str, students: list[str]) -> dict[str, dict[str, float]]:
    """Points per grade cell (and "total") of each student, from the course's gradebook."""
    from nbgrader.api import Gradebook

    results: dict[str, dict[str, float]] = {}
    with Gradebook(f"sqlite:///{Path(course) / 'gradebook.db'}") as gradebook:
        for student in students:
            submission = gradebook.find_submission(assignment, student)
            points: dict[str, float] = {}
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    points[grade.name] = float(grade.score or 0.0)
            points["total"] = float(sum(points.values()))
            results[student] = points
    return results
