"""The committed release (exercises/) is what `nbgrader generate_assignment` makes of solutions/.

Every assignment in solutions/ is regenerated in a temporary course root with the repository's
nbgrader_config.py; the cells (type, source, nbgrader metadata) and the list of files must match
exactly. After editing solutions/, run `nbgrader generate_assignment NAME --force` and commit."""
import os
import shutil
from pathlib import Path

import nbformat
import pytest

from helpers.course import copy_config
from helpers.nbgrader_batch import nbgrader

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(p.name for p in (REPO / "solutions").iterdir()
                     if p.is_dir() and (p / f"{p.name}.ipynb").exists())


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("release") / "course"
    copy_config(course)   # nbgrader_config.py and the grading modules it imports
    shutil.copytree(REPO / "solutions", course / "solutions",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    for name in ASSIGNMENTS:
        nbgrader(["generate_assignment", name, "--force"], course, env, timeout=600)
    return course / "exercises"


def _files(folder: Path) -> list[str]:
    skip = {".ipynb_checkpoints", "__pycache__"}
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and not skip & set(p.parts))


def _cells(path: Path) -> list[tuple]:
    nb = nbformat.read(path, as_version=4)
    return [(c.cell_type, c.source, dict(c.metadata.get("nbgrader", {}))) for c in nb.cells]


def test_there_are_assignments():
    assert ASSIGNMENTS, "no solutions/<name>/<name>.ipynb found"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_release_matches_solutions(regenerated, assignment):
    fresh, committed = regenerated / assignment, REPO / "exercises" / assignment
    hint = f"run `nbgrader generate_assignment {assignment} --force` from the repo root and commit exercises/"
    assert committed.is_dir(), f"exercises/{assignment} is missing: {hint}"
    assert _files(fresh) == _files(committed), f"files differ: {hint}"
    for name in _files(fresh):
        if name.endswith(".ipynb"):
            new, old = _cells(fresh / name), _cells(committed / name)
            assert len(new) == len(old), f"{name}: {len(old)} cells committed, {len(new)} generated: {hint}"
            for i, (a, b) in enumerate(zip(new, old)):
                assert a == b, f"{name}, cell {i} ({a[2].get('grade_id')}) differs: {hint}"
        else:
            assert (fresh / name).read_bytes() == (committed / name).read_bytes(), f"{name} differs: {hint}"
