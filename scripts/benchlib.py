"""What the benchmark scripts share: a grading run's environment, a course of reference copies,
and `python -m grading` run and timed.

    from benchlib import grading_env, kernel_env, reference_batch, timed_grading

The course builders come from the test suite's helpers (tests/helpers/course.py), on purpose:
a benchmark grades the same throw-away courses the tests grade.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from grading import runtime  # noqa: E402
from helpers.course import (copy_config, grading_cmd, inject, make_course, read_grades,  # noqa: E402,F401
                            reference_submission, write)


def grading_env(**extra: str) -> dict:
    """The environment `python -m grading` runs in: this repository, its venv, the datasets."""
    env = dict(os.environ, COURSE_DATASETS=str(runtime.datasets_dir()), PYTHONPATH=str(REPO),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.update(extra)
    return env


def kernel_env(tmp: Path, **extra: str) -> dict:
    """grading_env, plus what a kernel started from this process needs (a seeded KERAS_HOME and
    the start-up files of grading/runtime.py, below `tmp`)."""
    datasets = runtime.datasets_dir()
    keras_home, ipythondir = Path(tmp) / "keras_home", Path(tmp) / "ipython"
    runtime.seed_cache(datasets, keras_home)
    runtime.write_startup(ipythondir, datasets)
    return grading_env(KERAS_HOME=str(keras_home), IPYTHONDIR=str(ipythondir), TF_CPP_MIN_LOG_LEVEL="2",
                       **extra)


def record_assignment(course: Path, assignment: str, env: dict) -> None:
    """The assignment's cells in the course's gradebook, before (and outside) a timed run."""
    subprocess.run([sys.executable, "-c", "import sys; from grading.course import Course; "
                    "Course(sys.argv[1], sys.argv[2]).ensure_assignment()", str(course), assignment],
                   check=True, env=env, cwd=REPO)


def reference_batch(root: Path, assignment: str, copies: int, env: dict) -> tuple[Path, Path]:
    """(course, submissions folder): `copies` students who all hand in the reference."""
    course = make_course(root, assignment)
    nb = reference_submission(course, assignment)
    subs = Path(root) / "subs"
    for i in range(copies):
        write(nb, subs / f"student{i:02d}" / f"{assignment}.ipynb")
    record_assignment(course, assignment, env)
    return course, subs


def timed_grading(course: Path, assignment: str, subs: Path, env: dict, *extra: str,
                  graded_fully: bool = True) -> tuple[float, str]:
    """(seconds, printed summary) of one `python -m grading` run; exits when it failed, or when
    `graded_fully` and some submission was not."""
    cmd = grading_cmd(course, assignment, subs, "--no-feedback", "--no-report", *extra)
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)
    seconds = time.monotonic() - start
    if proc.returncode != 0 or (graded_fully and "Every submission was graded fully." not in proc.stdout):
        sys.exit(f"grading failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}")
    return seconds, proc.stdout
