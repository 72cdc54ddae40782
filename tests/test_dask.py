"""`--cluster`: the small batch graded on a real Dask cluster (a `dask scheduler` and two
single-thread `dask worker` processes on 127.0.0.1, started here). One worker is killed while it
executes a submission: the scheduler runs that task again on the other worker, and the batch
still gives every student exactly one submission in the gradebook, with the grades of the
default (local pool, SQLite) run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from helpers.course import REPO
from helpers.small_batch import default_grades, grade, small_batch

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:.*not in session")]
DASK = Path(sys.executable).parent / "dask"


def _start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=env, cwd=REPO, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(offline_env, tmp_path_factory):
    """(scheduler address, {worker name: process}); everything is killed afterwards."""
    root = tmp_path_factory.mktemp("dask")
    env = dict(offline_env, PYTHONPATH=str(REPO))
    sched_file = root / "scheduler.json"
    procs = {"scheduler": _start([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--no-dashboard", "--scheduler-file", str(sched_file)],
                                 env, root / "scheduler.log")}
    try:
        for _ in range(600):
            if sched_file.exists() and sched_file.stat().st_size:
                break
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        for name in ("w0", "w1"):
            procs[name] = _start([str(DASK), "worker", address, "--name", name, "--nthreads", "1",
                                  "--nworkers", "1", "--no-dashboard", "--host", "127.0.0.1",
                                  "--local-directory", str(root / name)], env, root / f"{name}.log")
        from distributed import Client
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address, procs
    finally:
        for proc in procs.values():
            _stop(proc)


def _kill_first_busy_worker(address: str, procs: dict, killed: list) -> None:
    """Kill (SIGKILL, the whole process group) the first worker seen executing a job, a few
    seconds in so that its sandboxed kernel is running."""
    from distributed import Client
    with Client(address, timeout=60) as client:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            busy = [w for w, keys in client.processing().items() if keys]
            if busy:
                time.sleep(3)
                name = client.scheduler_info()["workers"][busy[0]]["name"]
                os.killpg(procs[name].pid, signal.SIGKILL)
                killed.append(name)
                return
            time.sleep(0.2)


def test_cluster_with_a_killed_worker_grades_each_submission_once(cluster, offline_env,
                                                                   tmp_path_factory):
    address, procs = cluster
    course, subs = small_batch(tmp_path_factory.mktemp("on-dask"))
    killed: list = []
    killer = threading.Thread(target=_kill_first_busy_worker, args=(address, procs, killed), daemon=True)
    killer.start()
    grades = grade(course, subs, "--cluster", address, env=offline_env)
    killer.join(timeout=120)
    assert killed, "no worker was seen executing a job"
    assert procs[killed[0]].poll() is not None
    state = json.loads(next((course / "autograded").glob(".grading-state-*.json")).read_text())
    assert sorted(state) == ["reference", "release"]
    assert all(g["_submissions"] == 1 for g in grades.values()), grades
    assert grades == default_grades(tmp_path_factory, offline_env)


def test_unreachable_cluster_is_a_clear_error(monkeypatch):
    from grading import executors
    from grading.course import GradingError
    monkeypatch.setattr(executors, "CONNECT_SECONDS", 3)
    with pytest.raises(GradingError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        with executors.executor_for(2, "tcp://127.0.0.1:9", {"ipythondir": ".", "datasets": None}):
            pass
