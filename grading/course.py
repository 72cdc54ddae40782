"""The course facts every step needs: configuration, folders, the gradebook, the assignment's cells.

A `Course` is one course root (the folder with nbgrader_config.py) and one assignment in it:
nbgrader's configuration and folder layout (`submitted/`, `autograded/`, `feedback/`), the
gradebook, and the instructor's cells of each notebook (`NotebookCells`: which cells nbgrader
restores, which are autograded tests, the release's cells). The grader is the only process that
opens the gradebook; everything here runs in it (or in the feedback children, `load_config`).
"""
from __future__ import annotations

import functools
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from .runtime import REPO

__all__ = ["REPO", "Course", "GradingError", "NotebookCells", "grade_id", "load_config"]


class GradingError(RuntimeError):
    """A problem with the command line or the course (not with a submission): exit 2."""


def load_config(root: Path, db_url: str | None):
    """nbgrader's configuration of the course root, with the root (and the gradebook) set."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader
    cfg_file = root / "nbgrader_config.py"
    if not cfg_file.exists():
        raise GradingError(f"no nbgrader_config.py in the course root {root}")
    cfg = PyFileConfigLoader(cfg_file.name, path=str(root)).load_config()
    override = Config()
    override.CourseDirectory.root = str(root)
    if db_url:
        override.CourseDirectory.db_url = db_url
    cfg.merge(override)
    return cfg


def _safe_url(url: str) -> str:
    """A database URL without its password, for messages."""
    from sqlalchemy.engine import make_url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(database)"


@functools.lru_cache(maxsize=1)
def alembic_head() -> str:
    """The alembic revision nbgrader's gradebook schema is at (what `alembic heads` prints)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.api import _temp_alembic_ini
    with _temp_alembic_ini("sqlite://") as ini:
        return ScriptDirectory.from_config(Config(ini)).get_current_head()


def grade_id(cell) -> str | None:
    """The nbgrader grade_id of a cell, or None."""
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) else None


@dataclass(frozen=True)
class NotebookCells:
    """The instructor's cells of one notebook of the assignment."""
    restored: tuple[str, ...]   # locked cells and test cells: nbgrader puts them back
    tests: tuple[str, ...]      # autograded test cells (code): each has a check
    known: frozenset[str]       # every grade_id of the source notebook
    source_cells: int           # how many cells the source notebook has
    release: dict               # grade_id -> the cell as released to students


def _notebook_cells(source: Path, release: Path) -> NotebookCells:
    src = nbformat.read(source, as_version=4)
    restored, tests = [], []
    for cell in src.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("locked") or (meta.get("grade") and not meta.get("solution")):
            restored.append(meta.get("grade_id"))
        if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            tests.append(meta.get("grade_id"))
    released = {}
    if release.exists():
        released = {grade_id(c): c for c in nbformat.read(release, as_version=4).cells if grade_id(c)}
    return NotebookCells(tuple(restored), tuple(tests), frozenset({grade_id(c) for c in src.cells} - {None}),
                         len(src.cells), released)


class Course:
    """One course root and one of its assignments (see the module's docstring)."""

    def __init__(self, root: Path, assignment: str, db_url: str | None = None):
        from nbgrader.coursedir import CourseDirectory
        self.root = Path(root).resolve()
        self.assignment = assignment
        self.config = load_config(self.root, db_url)
        self.dirs = CourseDirectory(config=self.config)
        self.dirs.assignment_id = assignment
        self.db_url, self.course_id = self.dirs.db_url, self.dirs.course_id
        self.source_dir = self.folder("source")
        if not self.source_dir.is_dir():
            known = sorted(p.name for p in self.source_dir.parent.glob("*") if p.is_dir())
            raise GradingError(f"unknown assignment {assignment!r}: no {self.source_dir} "
                               f"(assignments: {', '.join(known) or 'none'})")
        self.notebooks = sorted(p.stem for p in self.source_dir.glob("*.ipynb"))
        if not self.notebooks:
            raise GradingError(f"assignment {assignment!r} has no notebooks in {self.source_dir}")
        self.report_dir = self.root / "grading-report" / assignment
        autograded = Path(self.dirs.autograded_directory)
        self.state_dir = autograded if autograded.is_absolute() else self.root / autograded

    def folder(self, kind: str, student: str = ".") -> Path:
        """nbgrader's folder of this assignment: kind is source, release, submitted, autograded or feedback."""
        return Path(self.dirs.format_path(getattr(self.dirs, f"{kind}_directory"), student, self.assignment))

    def execute_timeout(self) -> int:
        """nbgrader's per-cell timeout (`Execute.timeout`), the cap of an unmeasured assignment."""
        return int(self.config.Execute.get("timeout", 300) or 300)

    def instructor_cells(self) -> dict[str, NotebookCells]:
        release = self.folder("release")
        return {nb: _notebook_cells(self.source_dir / f"{nb}.ipynb", release / f"{nb}.ipynb")
                for nb in self.notebooks}

    # ------------------------------------------------------------------------ the gradebook
    def gradebook(self):
        import nbgrader.api
        # A new gradebook is stamped with alembic's head revision, which nbgrader reads by running
        # the `alembic` command (3 s and 1.6 s of CPU per new course); read in-process: 0.3 s.
        nbgrader.api.get_alembic_version = alembic_head
        return nbgrader.api.Gradebook(self.db_url, self.course_id)

    def ensure_assignment(self) -> None:
        """The assignment's cells in the gradebook (generate_assignment into a temp release)."""
        from nbgrader.api import MissingEntry
        with self.gradebook() as gb:
            try:
                found = gb.find_assignment(self.assignment)
            except MissingEntry:
                found = None
            if found is not None and found.course_id != self.course_id:
                raise GradingError(
                    f"the gradebook {_safe_url(self.db_url)} holds assignment {self.assignment!r} of "
                    f"another course ({found.course_id!r}; this course root's course_id is "
                    f"{self.course_id!r}): nbgrader's tables are shared by every course in one "
                    "database, so grading here would overwrite that course's grades. Use one "
                    "database per course (createdb, then --db-url).")
            if found is not None and {n.name for n in found.notebooks} >= set(self.notebooks):
                return
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        tmp = tempfile.mkdtemp(prefix="grading-release-")
        try:
            dirs = CourseDirectory(config=self.config)
            dirs.release_directory = tmp  # never rewrite the committed release
            res = NbGraderAPI(coursedir=dirs, config=self.config).generate_assignment(
                self.assignment, force=True, create=True)
            if not res.get("success"):
                raise GradingError(f"could not record {self.assignment} in the gradebook:\n"
                                   f"{res.get('error') or ''}\n{res.get('log') or ''}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def open_submission(self, student: str) -> None:
        """The student and its submission in the gradebook (nbgrader's update-or-create)."""
        with self.gradebook() as gb:
            gb.update_or_create_student(student)
            gb.update_or_create_submission(self.assignment, student)

    def zero_grades(self, student: str) -> None:
        """A submission that could not be run at all: every autograded cell scores 0."""
        self.open_submission(student)
        with self.gradebook() as gb:
            for nb_id in self.notebooks:
                for grade in gb.find_submission_notebook(nb_id, self.assignment, student).grades:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
            gb.db.commit()
        shutil.rmtree(self.folder("autograded", student), ignore_errors=True)  # no stale feedback

    def forget_submission(self, student: str) -> None:
        """The student's submission out of the gradebook and autograded/ (it was not graded: no
        score is better than a 0 that reads like one); submitted/ keeps the files for the rerun."""
        from nbgrader.api import MissingEntry
        with self.gradebook() as gb:
            try:
                gb.remove_submission(self.assignment, student)
            except MissingEntry:
                pass
        shutil.rmtree(self.folder("autograded", student), ignore_errors=True)

    def score(self, student: str) -> tuple[float, float]:
        with self.gradebook() as gb:
            s = gb.find_submission(self.assignment, student)
            return float(s.score), float(s.max_score)

    def cell_scores(self, students) -> dict[str, dict | None]:
        """student -> {"score", "max_score", "cells": {test cell: (score, max)}}; None when the
        gradebook has no submission of that student (code cells only: what autograding scores)."""
        with self.gradebook() as gb:
            return read_cell_scores(gb, self.assignment, students)

    # ------------------------------------------------------------------------ the folders
    def import_submission(self, student: str, files: dict) -> None:
        """Copy into submitted/<student>/<assignment>/<notebook>.ipynb (unchanged files kept)."""
        dest = self.folder("submitted", student)
        dest.mkdir(parents=True, exist_ok=True)
        for nb_id in self.notebooks:
            target, data = dest / f"{nb_id}.ipynb", files.get(nb_id)
            if data is None:
                if target.exists():
                    target.unlink()
            elif not target.exists() or target.read_bytes() != data:
                tmp = target.with_suffix(".ipynb.tmp")
                tmp.write_bytes(data)
                os.replace(tmp, target)
        stamp = dest / "timestamp.txt"
        if not stamp.exists():
            stamp.write_text(datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f %Z"))

    def write_autograded(self, student: str, nb_id: str, nb) -> None:
        """The graded notebook into autograded/, with the submission's timestamp beside it."""
        dest = self.folder("autograded", student)
        dest.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, dest / f"{nb_id}.ipynb")
        stamp = self.folder("submitted", student) / "timestamp.txt"
        if stamp.exists():
            shutil.copy2(stamp, dest / "timestamp.txt")

    def missing_feedback(self, students) -> list[str]:
        """Students (graded earlier) whose feedback is gone: deleted, or never written."""
        return [s for s in students if any(
            (self.folder("autograded", s) / f"{nb}.ipynb").exists()
            and not (self.folder("feedback", s) / f"{nb}.html").exists() for nb in self.notebooks)]


def read_cell_scores(gb, assignment: str, students) -> dict[str, dict | None]:
    """`Course.cell_scores` from an open Gradebook in two queries for the whole class (nbgrader's
    per-object properties cost one query per submission and property: minutes at 10,000)."""
    from nbgrader.api import Assignment, Grade, GradeCell, SubmittedAssignment, SubmittedNotebook
    from sqlalchemy import select
    a = gb.db.execute(select(Assignment).where(Assignment.name == assignment)).scalar_one_or_none()
    out: dict[str, dict | None] = {s: None for s in students}
    if a is None:
        return out
    max_score = float(a.max_score)
    for (student,) in gb.db.execute(select(SubmittedAssignment.student_id)
                                    .where(SubmittedAssignment.assignment_id == a.id)):
        if student in out:
            out[student] = {"score": 0.0, "max_score": max_score, "cells": {}}
    rows = gb.db.execute(
        select(SubmittedAssignment.student_id, GradeCell.name, GradeCell.cell_type, Grade.score,
               Grade.max_score)
        .select_from(Grade)
        .join(SubmittedNotebook, Grade.notebook_id == SubmittedNotebook.id)
        .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
        .outerjoin(GradeCell, Grade.cell_id == GradeCell.id)
        .where(SubmittedAssignment.assignment_id == a.id))
    for student, name, cell_type, score, max_cell in rows:
        entry = out.get(student)
        if entry is None:
            continue
        entry["score"] += float(score or 0)  # every grade counts, as SubmittedAssignment.score
        if cell_type == "code":
            entry["cells"][name] = (float(score or 0), float(max_cell or 0))
    return out

