"""Shared fixtures: the repository, the venv's Python, and an offline Keras cache."""
import html
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("COURSE_DATASETS", REPO.parent / "shared" / "datasets")).resolve()


def page_text(html_file: Path) -> str:
    """The visible text of a built page: tags stripped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_file.read_text()))


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def offline_env(tmp_path_factory) -> dict:
    """Environment for subprocesses and kernels: a temporary KERAS_HOME seeded from
    ../shared/datasets, and an IPython startup file that lets cifar10.load_data() use it."""
    if not (DATASETS / "seed_keras_cache.py").exists():
        pytest.fail(f"offline datasets not found at {DATASETS} (set COURSE_DATASETS)")
    root = tmp_path_factory.mktemp("offline")
    keras_home, ipythondir = root / "keras_home", root / "ipython"
    subprocess.run([sys.executable, str(REPO / "scripts" / "kernel_env.py"),
                    str(ipythondir), str(DATASETS), str(keras_home)], check=True)
    env = dict(os.environ)
    env.update(KERAS_HOME=str(keras_home), IPYTHONDIR=str(ipythondir),
               COURSE_PROFILE="quick", TF_CPP_MIN_LOG_LEVEL="2",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return env


@pytest.fixture(scope="session")
def graded_assignment(repo, offline_env, tmp_path_factory, request):
    """graded_assignment("schedules") -> batch_grading.GradedBatch: every simulated student of
    the assignment (reference, release, variants, tampering cases) graded in ONE sandboxed
    `python -m grading` batch, once per test session, shared by all suites that read it."""
    from batch_grading import grade_assignment, publish

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


# Time per test file, printed at the end: the test command's phases.
_FILE_SECONDS = defaultdict(float)


def pytest_runtest_logreport(report):
    _FILE_SECONDS[report.nodeid.split("::")[0]] += report.duration


def pytest_terminal_summary(terminalreporter):
    terminalreporter.section("time per test file")
    for name, seconds in sorted(_FILE_SECONDS.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"{seconds:8.1f} s  {name}")
