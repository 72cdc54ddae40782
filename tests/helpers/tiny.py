"""`tiny`: a one-function assignment whose kernels start in seconds, for the command's behaviour.

The source has a locked set-up cell, an answer cell (`add`), a visible test (1 point) and a hidden
test (2 points); `student_nb(body)` is a submission with that answer, RIGHT (3 points) or WRONG (0).
`tiny_course` is a course root with that source and its checks (grading/checks/tiny.py of the
course root: a course other than the repository keeps its own).
"""
from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from .course import copy_config

A = "tiny"
RIGHT = "def add(a, b):\n    return a + b"
WRONG = "def add(a, b):\n    return a - b"


def _meta(gid, grade=False, solution=False, locked=False, points=None):
    m = {"grade": grade, "grade_id": gid, "locked": locked, "schema_version": 3,
         "solution": solution, "task": False}
    if points is not None:
        m["points"] = points
    return {"nbgrader": m}


def tiny_source():
    return new_notebook(cells=[
        new_markdown_cell("# Tiny\nWrite `add`.", metadata=_meta("intro", locked=True)),
        new_code_cell("import math", metadata=_meta("setup", locked=True)),
        new_code_cell("def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION",
                      metadata=_meta("answer", solution=True)),
        new_code_cell("assert add(1, 2) == 3, 'add(1, 2) should be 3'",
                      metadata=_meta("test_visible", grade=True, locked=True, points=1)),
        new_code_cell("### BEGIN HIDDEN TESTS\nassert add(-5, 7) == 2\n### END HIDDEN TESTS",
                      metadata=_meta("test_hidden", grade=True, locked=True, points=2)),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def student_nb(body):
    nb = tiny_source()
    nb.cells[2].source = body
    nb.cells[4].source = ""  # the release holds no hidden tests
    return nb


def tiny_course(root):
    """A course root holding the tiny assignment's source and checks (no release: the grader
    records the assignment itself)."""
    course = root / "course"
    copy_config(course)
    (course / "solutions" / A).mkdir(parents=True)
    nbformat.write(tiny_source(), course / "solutions" / A / f"{A}.ipynb")
    (course / "grading" / "checks").mkdir(parents=True)
    (course / "grading" / "checks" / f"{A}.py").write_text(CHECKS)
    return course


# The grader-side checks of `tiny`: the course root's own grading/checks/tiny.py.
CHECKS = '''"""Checks of the `tiny` test assignment."""
from grading.checks import Checks, call

checks = Checks()


@checks("test_visible")
def visible(p, rng):
    p.equal("add(1, 2)", 3, call("add", 1, 2))


@checks("test_hidden", hidden=True)
def hidden(p, rng):
    a, b = int(rng.integers(-50, 50)), int(rng.integers(1, 50))
    p.equal("add of two integers", a + b, call("add", a, b))
'''
