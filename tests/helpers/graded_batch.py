"""Every simulated student of an assignment graded in ONE `python -m grading` batch.

`grade_assignment(repo, assignment, workdir, env)` builds the students (`variants.assignment_cases`:
the reference, the release, every variant of tests/submissions/<assignment>/ and every tampering
case), grades them in one sandboxed batch with verdicts decided by the grader, and returns a
`GradedBatch`; the `graded_assignment` fixture of tests/conftest.py caches it per test session.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from .course import copy_config, grading_env
from .nbgrader_batch import gradebook_points
from .variants import assignment_cases, format_points_table, max_points

GRADING_SEED = "314159"   # fixed for the tests; real courses keep theirs secret
# Caps for the test batches: fixed, generous, so that a busy machine does not fail a correct
# notebook (the budget-derived defaults are exercised by scripts/bench_budgets.py).
TEST_CAPS = ("--cell-seconds", "90", "--wall-seconds", "300")
GRADING_TIMEOUT = 3600   # one whole batch (about 7 min for schedules on 2 idle cores)


def publish(report: str, request) -> None:
    """Print a points table and show it in pytest's terminal output, with or without -s."""
    print(report)
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("\n" + report)


class GradedBatch:
    """The result of one `python -m grading` batch: grades and headers per case, the course.

    `grades[case]` are the grades of the notebook that holds the case (`where[case]`: its own,
    or one shared by wrong variants that cannot hide each other)."""

    def __init__(self, course, assignment, student_grades, headers, where, maxima, seconds, proc, seed):
        self.course, self.assignment, self.headers, self.where = course, assignment, headers, where
        self.grades = {case: student_grades[student] for case, student in where.items()}
        self.students = sorted(student_grades)  # one per graded notebook
        self.maxima, self.seconds, self.proc, self.seed = maxima, seconds, proc, seed
        shared = {s: [c for c, w in where.items() if w == s] for s in set(where.values())}
        legend = "".join(f"\n  {s} = {' + '.join(cases)}" for s, cases in sorted(shared.items())
                         if cases != [s])
        self.table = (f"{assignment}: {len(student_grades)} notebooks ({len(where)} cases) graded by "
                      f"python -m grading in {seconds:.0f} s ({seconds / max(1, len(student_grades)):.1f} s each)\n"
                      f"{format_points_table(student_grades, maxima)}{legend}")

    def autograded(self, case: str) -> Path:
        student = self.where.get(case, case)
        return self.course / "autograded" / student / self.assignment / f"{self.assignment}.ipynb"

    def feedback(self, case: str) -> Path:
        student = self.where.get(case, case)
        return self.course / "feedback" / student / self.assignment / f"{self.assignment}.html"

    def state(self) -> dict:
        import json
        return json.loads((self.course / "autograded" / f".grading-state-{self.assignment}.json").read_text())


def grade_notebooks(repo: Path, assignment: str, notebooks: dict[str, Path], workdir: Path, env: dict,
                    workers: int = 2, extra_args: tuple = ()) -> tuple[Path, dict, float, subprocess.CompletedProcess]:
    """Grade student id -> notebook in ONE `python -m grading` batch in a fresh course under
    `workdir`. Returns (course, grades as from nbgrader_batch.gradebook_points, seconds, the finished process)."""
    repo, workdir = Path(repo), Path(workdir)
    course = workdir / "course"
    copy_config(course)
    shutil.copytree(repo / "solutions" / assignment, course / "solutions" / assignment)
    shutil.copytree(repo / "exercises" / assignment, course / "exercises" / assignment)
    subs = workdir / "submissions"
    for student, notebook in notebooks.items():
        (subs / student).mkdir(parents=True)
        shutil.copy2(notebook, subs / student / f"{assignment}.ipynb")
    env = grading_env(env)
    cmd = [sys.executable, "-m", "grading", assignment, str(subs), "--course-root", str(course),
           "--workers", str(workers), "--no-progress", "--seed", GRADING_SEED, *TEST_CAPS, *extra_args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=GRADING_TIMEOUT)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"python -m grading failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
                           f"{proc.stderr[-6000:]}")
    return course, gradebook_points(course, assignment, list(notebooks)), seconds, proc


def grade_assignment(repo: Path, assignment: str, workdir: Path, env: dict,
                     workers: int = 2, extra_args: tuple = ()) -> GradedBatch:
    """Grade every simulated student of `assignment` in ONE `python -m grading` batch."""
    students, headers, where = assignment_cases(Path(repo), assignment, Path(workdir) / "notebooks")
    course, grades, seconds, proc = grade_notebooks(repo, assignment, students, workdir, env, workers, extra_args)
    return GradedBatch(course, assignment, grades, headers, where, max_points(repo, assignment),
                       seconds, proc, GRADING_SEED)
