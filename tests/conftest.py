"""Shared fixtures: the repository, the venv's Python, and an offline Keras cache."""
import html
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from grading import course, runtime

REPO = Path(__file__).resolve().parents[1]
DATASETS = runtime.datasets_dir()


def page_text(html_file: Path) -> str:
    """The visible text of a built page: tags stripped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_file.read_text()))


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def pytest_configure(config):
    # The gradebooks tests make with nbgrader's own Gradebook get the grader's in-process stamp
    # (grading/course.py) instead of nbgrader's `alembic` subprocess: 1.6 s of CPU each.
    import nbgrader.api
    nbgrader.api.get_alembic_version = course.alembic_head


@pytest.fixture(scope="session")
def offline_env(tmp_path_factory) -> dict:
    """Environment for subprocesses and kernels: a temporary KERAS_HOME seeded from
    ../shared/datasets, and the start-up files of grading/runtime.py (offline CIFAR-10, no nbgrader)."""
    if not runtime.has_datasets(DATASETS):
        pytest.fail(f"offline datasets not found at {DATASETS} (set COURSE_DATASETS)")
    root = tmp_path_factory.mktemp("offline")
    keras_home, ipythondir = root / "keras_home", root / "ipython"
    runtime.seed_cache(DATASETS, keras_home)
    runtime.write_startup(ipythondir, DATASETS)
    env = dict(os.environ)
    env.update(KERAS_HOME=str(keras_home), IPYTHONDIR=str(ipythondir),
               COURSE_PROFILE="quick", TF_CPP_MIN_LOG_LEVEL="2",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return env


@pytest.fixture(scope="session")
def graded_assignment(repo, offline_env, tmp_path_factory, request):
    """graded_assignment("schedules") -> helpers.graded_batch.GradedBatch: every simulated student of
    the assignment (reference, release, variants, tampering cases) graded in ONE sandboxed
    `python -m grading` batch, once per test session, shared by all suites that read it."""
    from helpers.graded_batch import grade_assignment, publish

    cache = {}

    def get(assignment: str):
        if assignment not in cache:
            try:
                batch = grade_assignment(repo, assignment, tmp_path_factory.mktemp(f"graded-{assignment}"),
                                         offline_env)
            except Exception as exc:  # one failed batch is not rerun by every module that reads it
                cache[assignment] = exc
                raise
            publish(batch.table, request)
            cache[assignment] = batch
        if isinstance(cache[assignment], Exception):
            raise RuntimeError(f"the {assignment} batch failed earlier") from cache[assignment]
        return cache[assignment]
    return get


@pytest.fixture(scope="session")
def published_edition(offline_env) -> subprocess.CompletedProcess:
    """`bash scripts/publish.sh --profile quick`, once per session: the quick build of the book
    (scripts/build-book.sh, read by tests/test_book.py in _build/html) and the student edition
    made from it in _build/publish/ (tests/test_publish.py). CI builds the book only here."""
    result = subprocess.run(["bash", str(REPO / "scripts" / "publish.sh"), "--profile", "quick"],
                            env=offline_env, capture_output=True, text=True, cwd=REPO)
    log = REPO / "_build" / "publish-quick.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text(result.stdout + result.stderr)
    assert result.returncode == 0, \
        f"publish.sh --profile quick failed; log in {log}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


# Parallel runs (scripts/run-tests.sh: pytest-xdist, --dist loadgroup): the tests that share an
# expensive session fixture run on one worker, so each batch and the book are made once per run;
# every other file is a group of its own, so module fixtures (a PostgreSQL server, a Dask
# cluster) start once. Groups start in order of their cost in CI (time per test file, below),
# costliest first, so the last group to start is a short one.
SHARED_FIXTURE_GROUPS = {"test_book.py": "book", "test_publish.py": "book",
                         "test_schedules_grading.py": "schedules", "test_tampering.py": "schedules"}
COSTLIEST_FIRST = ["test_cifar10_grading.py", "book", "schedules", "test_hostile_submissions.py",
                   "test_initializers_grading.py", "test_dask.py", "test_grading_cli.py",
                   "test_postgres.py", "test_book_pipeline.py", "test_robust_batch.py",
                   "test_colab_notebooks.py", "test_report.py"]


def _group(item) -> str:
    name = Path(str(item.fspath)).name
    return SHARED_FIXTURE_GROUPS.get(name, name)


@pytest.hookimpl(tryfirst=True)   # before xdist's own hook, which reads the groups
def pytest_collection_modifyitems(config, items):
    rank = {g: i for i, g in enumerate(COSTLIEST_FIRST)}
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item)))
    items.sort(key=lambda item: rank.get(_group(item), len(rank)))   # stable: file order kept within


def pytest_collection_finish(session):
    """On an xdist worker with --dist loadgroup: stop if the groups were lost (pytest 9.2 drops
    the node-id suffix xdist groups by, pytest-xdist#1386), rather than build the book and grade
    each batch once per worker."""
    if getattr(session.config.option, "loadgroup", False) and session.items \
            and not all("@" in item.nodeid for item in session.items):
        raise pytest.UsageError("xdist's --dist loadgroup lost the test groups (pytest-xdist#1386): "
                                "use the pytest version pinned in requirements.txt")


# Time per test file, printed at the end: the test command's phases.
_FILE_SECONDS = defaultdict(float)


def pytest_runtest_logreport(report):
    _FILE_SECONDS[report.nodeid.split("::")[0]] += report.duration


def pytest_terminal_summary(terminalreporter):
    terminalreporter.section("time per test file")
    for name, seconds in sorted(_FILE_SECONDS.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"{seconds:8.1f} s  {name}")
