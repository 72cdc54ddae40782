"""The same batch graded by the default local pool and by a local Dask cluster; then a fault run.

    python scripts/bench_dask.py [--copies 8] [--workers 1 2]

Grades K copies of the `schedules` reference (default 8), each run in a fresh temporary course,
with the real sandbox, one thread per kernel, no feedback or report:

1. the local pool with each `--workers` count (default 2: two `grading.worker` processes at a
   time on this machine), and the speed-up over the first count;
2. Dask: a `dask scheduler` and two `dask worker --nthreads 1` processes started here on
   127.0.0.1, `--cluster tcp://127.0.0.1:PORT`;
3. fault run: the same cluster set-up; one worker is killed (SIGKILL) while it executes a
   submission; the batch must still complete with every student in the gradebook exactly once
   and every reference graded fully.

Prints the wall time and submissions per minute of each, and the fault run's checks. Run it on an
otherwise idle machine and without `nice`: the numbers are wall-clock.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchlib import REPO, grading_env, read_grades, reference_batch, timed_grading

DASK = Path(sys.executable).parent / "dask"


def batch(root: Path, copies: int, env: dict) -> tuple[Path, Path]:
    return reference_batch(root, "schedules", copies, env)


def grade(course: Path, subs: Path, env: dict, *extra: str) -> tuple[float, str]:
    return timed_grading(course, "schedules", subs, env, "--threads", "1", *extra)


class LocalDask:
    """`dask scheduler` + N single-thread `dask worker` processes on 127.0.0.1."""

    def __init__(self, root: Path, env: dict, workers: int = 2):
        root.mkdir(parents=True, exist_ok=True)
        self.procs = {}
        sched = root / "scheduler.json"
        self._start("scheduler", [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--no-dashboard", "--scheduler-file", str(sched)], env, root)
        while not (sched.exists() and sched.stat().st_size):
            time.sleep(0.1)
        self.address = json.loads(sched.read_text())["address"]
        for i in range(workers):
            self._start(f"w{i}", [str(DASK), "worker", self.address, "--name", f"w{i}", "--nthreads", "1",
                                  "--nworkers", "1", "--no-dashboard", "--host", "127.0.0.1",
                                  "--local-directory", str(root / f"w{i}")], env, root)
        from distributed import Client
        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)

    def _start(self, name, cmd, env, root):
        self.procs[name] = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=open(root / f"{name}.log", "wb"),
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def kill_first_busy_worker(self, after: float, out: dict) -> None:
        from distributed import Client
        with Client(self.address, timeout=60) as client:
            start = time.monotonic()
            while True:
                busy = [w for w, keys in client.processing().items() if keys]
                if busy:
                    time.sleep(after)
                    name = client.scheduler_info()["workers"][busy[0]]["name"]
                    os.killpg(self.procs[name].pid, signal.SIGKILL)
                    out.update(name=name, at=time.monotonic() - start)
                    return
                time.sleep(0.2)

    def close(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=8)
    ap.add_argument("--workers", type=int, nargs="+", default=[2], help="local pool sizes to time")
    a = ap.parse_args()
    env = grading_env()
    tmp = Path(tempfile.mkdtemp(prefix="bench-dask-"))
    k = a.copies
    print(f"{k} copies of the schedules reference, 1 thread per kernel, {os.cpu_count()} cores")
    local = {}
    for w in a.workers:
        course, subs = batch(tmp / f"local-{w}", k, env)
        local[w], _ = grade(course, subs, env, "--workers", str(w))
        print(f"  local pool (--workers {w}):           {local[w]:6.1f} s  {60 * k / local[w]:5.1f} submissions/min"
              + (f"  ({local[a.workers[0]] / local[w]:.2f}x --workers {a.workers[0]})" if w != a.workers[0] else ""))
    t_default = local[a.workers[-1]]
    cluster = LocalDask(tmp / "dask", env)
    try:
        course, subs = batch(tmp / "on-dask", k, env)
        t_dask, _ = grade(course, subs, env, "--cluster", cluster.address)
    finally:
        cluster.close()
    print(f"  Dask, 2 single-thread workers:      {t_dask:6.1f} s  {60 * k / t_dask:5.1f} submissions/min "
          f"({100 * (t_dask / t_default - 1):+.0f} % against --workers {a.workers[-1]})")
    cluster = LocalDask(tmp / "fault", env)
    killed: dict = {}
    try:
        course, subs = batch(tmp / "fault-run", k, env)
        killer = threading.Thread(target=cluster.kill_first_busy_worker, args=(3.0, killed))
        killer.start()
        t_fault, out = grade(course, subs, env, "--cluster", cluster.address)
        killer.join()
    finally:
        cluster.close()
    grades = read_grades(course)
    once = all(g["_submissions"] == 1 for g in grades.values())
    full = len({g["total"] for g in grades.values()}) == 1
    print(f"  fault run, worker {killed.get('name')} killed {killed.get('at', float('nan')):.0f} s in: "
          f"{t_fault:6.1f} s; {len(grades)}/{k} students in the gradebook, each exactly once: "
          f"{'yes' if once and len(grades) == k else 'NO'}; all graded fully, same score: "
          f"{'yes' if full else 'NO'}")
    print("  " + out.strip().splitlines()[0])
    if not (once and full and len(grades) == k):
        sys.exit(1)


if __name__ == "__main__":
    main()
