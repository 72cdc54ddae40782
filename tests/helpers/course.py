"""A throw-away course root, the reference submission, and `python -m grading` run on it.

`make_course` copies the repository's nbgrader_config.py (with the grading modules it names) and
one assignment's source and release; `reference_submission` is the release with the instructor's
answers; `run_grading` runs `python -m grading` as a subprocess; `read_grades` reads the gradebook.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
# The grading modules that nbgrader_config.py loads by name (the feedback preprocessors and the
# feedback page's template).
CONFIG_MODULES = ("__init__.py", "hidden_tests.py", "feedback_page.py", "figures.py")
CONFIG_FOLDERS = ("templates",)


def copy_config(course: Path) -> None:
    """nbgrader_config.py and the grading modules it names, into a course root."""
    (course / "grading").mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    for name in CONFIG_MODULES:
        shutil.copy2(REPO / "grading" / name, course / "grading" / name)
    for name in CONFIG_FOLDERS:
        shutil.copytree(REPO / "grading" / name, course / "grading" / name, dirs_exist_ok=True)


def make_course(root: Path, assignment: str = "schedules", source: Path | None = None,
                release: Path | None = None) -> Path:
    course = Path(root) / "course"
    copy_config(course)
    src = Path(source) if source else REPO / "solutions" / assignment
    rel = Path(release) if release else REPO / "exercises" / assignment
    shutil.copytree(src, course / "solutions" / assignment)
    if rel.exists():
        shutil.copytree(rel, course / "exercises" / assignment)
    return course


_DELIMITER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


def solution_sources(root: Path, assignment: str) -> dict[str, str]:
    """grade_id -> the reference source of each solution cell of `root/solutions/ASSIGNMENT`
    (the repository or a course root), solution delimiters removed."""
    nb = nbformat.read(Path(root) / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    sources = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            lines = [line for line in cell.source.split("\n") if not _DELIMITER.match(line)]
            sources[meta["grade_id"]] = "\n".join(lines)
    return sources


def reference_submission(course: Path, assignment: str = "schedules"):
    """The release notebook with every answer cell holding the reference solution."""
    nb = nbformat.read(course / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)
    code = solution_sources(course, assignment)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in code:
            cell.source = code[gid]
    return nb


def inject(nb, grade_id: str, code: str, where: str = "after"):
    """Add code to an answer cell (before or after the student's own code)."""
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = code + "\n" + cell.source if where == "before" else cell.source + "\n" + code
            return nb
    raise KeyError(grade_id)


def write(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def tree_hashes(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def grading_env(env: dict | None = None) -> dict:
    """The environment `python -m grading` runs in here: the repository importable, the venv on PATH."""
    env = dict(env or os.environ)
    env["PYTHONPATH"] = str(REPO)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def grading_cmd(course: Path, assignment: str, submissions: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "grading", assignment, str(submissions),
            "--course-root", str(course), "--no-progress", *extra]


def run_grading(course, assignment, submissions, *extra, env=None, timeout=1200):
    return subprocess.run(grading_cmd(course, assignment, submissions, *extra), cwd=REPO,
                          env=grading_env(env), capture_output=True, text=True, timeout=timeout)


def read_grades(course: Path, assignment: str = "schedules", db_url: str | None = None) -> dict:
    """student -> {grade cell: score, 'total': score, '_submissions': n} from the gradebook."""
    from nbgrader.api import Gradebook
    out: dict = {}
    with Gradebook(db_url or f"sqlite:///{course}/gradebook.db", "tdnn") as gb:
        seen: dict = {}
        for sub in gb.find_assignment(assignment).submissions:
            sid = sub.student.id
            seen[sid] = seen.get(sid, 0) + 1
            cells = out.setdefault(sid, {})
            for nb in sub.notebooks:
                for grade in nb.grades:
                    cells[grade.name] = float(grade.score)
            cells["total"] = float(sub.score)
        for sid, n in seen.items():
            out[sid]["_submissions"] = n
    return out
