"""Where the sandboxed executions run: this machine's pool (default) or a Dask cluster.

`executor_for(workers, cluster, runtime)` gives a function that takes the prepared jobs, an
iterable of `((student, notebook), job folder)` pairs, each folder holding the sanitized
`in.ipynb` and `job.json` that batch.py wrote, and yields `((student, notebook), result)` once
per job, as the jobs finish, with the executed notebook at `job folder/out.ipynb` when there is
one. The iterable is read lazily: each job starts as soon as batch.py has prepared it, so the
grader sanitizes the next submissions while the first ones run, and the results that are back
are handed out between two jobs. The grading process reads them and stays the only writer of
the gradebook, whichever executor ran the job.

- Local (no --cluster): a thread pool of `workers` threads, each running `run_worker` (one
  `python -m grading.worker` process) on a job folder. Nothing to start.
- Dask (`--cluster tcp://HOST:8786` or `tls://`): each job travels as data (the job settings, the
  sanitized notebook, the IPython start-up files, the grader's `state.worker_identity`) to a
  worker of a running Dask cluster (`grading.cluster`: deadlines, retries, a lost scheduler);
  there `run_remote_job` refuses it when the worker's grading code, Python or Keras differ or it
  has no datasets, else writes it into a private temp folder, remaps the machine-specific paths
  (Python, venv, datasets, seeded Keras cache) to the worker's own, runs the same `run_worker` in
  the same sandbox with the same caps, and returns the executed notebook and the result as data.
  A worker killed mid-task leaves its folder to the next task's sweep (`sweep_dead_folders`).
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import functools
import json
import os
import queue
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import cluster, runtime, state

REMOTE_PREFIX = "grading-dask-"  # a Dask worker's temp folder per task: grading-dask-PID-...-
WORKER_MEMORY_MB = 4096  # the worker's own address space (soft: its kernel's limits are set apart)
WORKER_GRACE_SECONDS = 120  # beyond the wall cap: the worker's own start and clean-up


# --------------------------------------------------------------------- the worker process
def _worker_limits():
    """In the worker, before it starts: it dies with the grader (then bwrap --die-with-parent
    takes the kernel down), and its address space is capped."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_MB << 20, resource.RLIM_INFINITY))


def run_worker(job_dir: Path, wall_seconds: float) -> dict:
    """Run `python -m grading.worker` on a job folder; its result.json, or why there is none."""
    job_dir = Path(job_dir)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(runtime.REPO),
           "HOME": str(job_dir), "LANG": "C.UTF-8", "JUPYTER_PLATFORM_DIRS": "1",
           "JUPYTER_DATA_DIR": str(job_dir / "jupyter"), "JUPYTER_RUNTIME_DIR": str(job_dir / "jupyter"),
           "PYDEVD_DISABLE_FILE_VALIDATION": "1",
           # the machine's grading cache, not one under the job's HOME: else every job would
           # rebuild matplotlib's font list (sandbox.matplotlib_cache), a second of CPU each
           "GRADING_CACHE": str(runtime.grading_cache())}
    limit = wall_seconds + WORKER_GRACE_SECONDS
    start = time.monotonic()
    with open(job_dir / "worker.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "grading.worker", str(job_dir / "job.json")],
                                cwd=str(runtime.REPO), env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, preexec_fn=_worker_limits)
        try:
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return {"status": "timeout", "reasons": [f"worker killed after {limit} s"],
                    "seconds": time.monotonic() - start}
    try:
        return json.loads((job_dir / "result.json").read_text())
    except Exception:
        tail = (job_dir / "worker.log").read_bytes()[-600:].decode("utf-8", "replace")
        return {"status": "error", "reasons": [f"worker exited with {proc.returncode}: {tail.strip()[-300:]}"]}


def _run_job_folder(job_dir: Path) -> dict:
    """run_worker with the wall cap the job itself carries."""
    caps = json.loads((Path(job_dir) / "job.json").read_text())["sandbox"]["caps"]
    return run_worker(job_dir, caps["wall_seconds"])


# ----------------------------------------------------------------------------- executors
@contextlib.contextmanager
def executor_for(workers: int, cluster_address: str | None, batch_runtime: dict,
                 tls: dict | None = None, deadline: float | None = None):
    """The execute(jobs) function (see the module's docstring). `tls`: the client's certificate
    files for a tls:// cluster; `deadline`: seconds a cluster task may run (grading.cluster)."""
    if not cluster_address:
        with cf.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            yield functools.partial(_execute_locally, pool)
        return
    client = cluster.connect(cluster_address, tls)
    payload_of = functools.partial(_payload, runtime.startup_files(batch_runtime["ipythondir"]),
                                   batch_runtime["datasets"] is not None, state.worker_identity())
    yield functools.partial(cluster.execute, client, cluster_address, tls, secrets.token_hex(8),
                            payload_of, deadline or cluster.DEADLINE_MARGIN)


def _payload(startup: dict, need_datasets: bool, identity: dict, job_dir) -> dict:
    """What a cluster task carries: the job as data, and what the worker must match."""
    return {"job": json.loads((Path(job_dir) / "job.json").read_text()),
            "notebook": (Path(job_dir) / "in.ipynb").read_text(),
            "startup": startup, "need_datasets": need_datasets, "identity": identity}


def _execute_locally(pool, jobs):
    done: queue.Queue = queue.Queue()
    futures = {}
    for key, job_dir in jobs:  # the caller prepares each job while the earlier ones run
        fut = pool.submit(_run_job_folder, job_dir)
        futures[fut] = key
        fut.add_done_callback(done.put)
        while not done.empty():
            fut = done.get()
            yield futures.pop(fut), fut.result()
    while futures:
        fut = done.get()
        yield futures.pop(fut), fut.result()


# ---------------------------------------------------------------------- on a Dask worker
def _refusal(payload: dict) -> str | None:
    """Why this worker cannot run the grader's tasks, or None: other grading code, another
    Python or Keras (state.worker_identity), or no datasets where the job needs them."""
    mine, theirs = state.worker_identity(), payload.get("identity") or {}
    for what in ("code", "python", "keras"):
        if mine.get(what) != theirs.get(what):
            return (f"Dask worker {os.uname().nodename} runs other {'grading code' if what == 'code' else what} "
                    f"({what} {str(mine.get(what))[:12]}, the grader's {str(theirs.get(what))[:12]}): "
                    "it refuses the grader's tasks; install the grader's version on it")
    if payload.get("need_datasets") and not runtime.has_datasets(runtime.datasets_dir()):
        return (f"Dask worker {os.uname().nodename} has no datasets at {runtime.datasets_dir()} "
                "(set COURSE_DATASETS for the worker)")
    return None


def _worker_address() -> str | None:
    try:
        from distributed import get_worker
        return get_worker().address
    except Exception:
        return None


def sweep_dead_folders(tmpdir: str | None = None) -> list[str]:
    """Remove the temp folders of Dask workers that were killed mid-task (their process is gone)."""
    swept = []
    for folder in Path(tmpdir or tempfile.gettempdir()).glob(f"{REMOTE_PREFIX}*-"):
        pid = folder.name[len(REMOTE_PREFIX):].split("-")[0]
        if pid.isdigit() and folder.owner() == _me() and _gone(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            swept.append(str(folder))
    return swept


def _me() -> str:
    import pwd
    return pwd.getpwuid(os.geteuid()).pw_name


def _gone(pid: int) -> bool:
    """True when the process is no more, or is a zombie (killed, not reaped yet)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def run_remote_job(payload: dict) -> dict:
    """Runs on a Dask worker: one job, in a private temp folder; returns what came out, as data
    (or {"refused": why} when this worker cannot run the grader's tasks: `_refusal`)."""
    refused = _refusal(payload)
    if refused:
        return {"refused": refused, "worker": _worker_address()}
    sweep_dead_folders()
    # The worker's pid in the name: a worker killed mid-task leaves it to the next one's sweep.
    tmp = Path(tempfile.mkdtemp(prefix=f"{REMOTE_PREFIX}{os.getpid()}-", suffix="-"))
    try:
        os.chmod(tmp, 0o755)  # the sandbox's uid reads the start-up files below
        runtime.unpack_startup(payload["startup"], tmp / "ipython")
        spec = dict(payload["job"]["sandbox"])
        if payload["need_datasets"]:
            datasets = runtime.datasets_dir()
            spec.update(datasets=runtime.kernel_datasets(datasets), keras_seed=runtime.keras_seed(str(datasets)))
        job_dir = tmp / "job"
        (job_dir / "scratch").mkdir(parents=True)
        conn = tmp / "c"  # short: Unix socket paths are limited to ~107 bytes
        conn.mkdir(mode=0o700)
        spec.update(python_prefix=sys.base_prefix, venv=sys.prefix, ipythondir=str(tmp / "ipython"),
                    scratch=str(job_dir / "scratch"), conn_dir=str(conn))
        (job_dir / "in.ipynb").write_text(payload["notebook"])
        job = dict(payload["job"], input=str(job_dir / "in.ipynb"), output=str(job_dir / "out.ipynb"),
                   result=str(job_dir / "result.json"), sandbox=spec)
        (job_dir / "job.json").write_text(json.dumps(job))
        result = run_worker(job_dir, spec["caps"]["wall_seconds"])
        out = job_dir / "out.ipynb"
        return {"result": result, "executed": out.read_text() if out.exists() else None,
                "worker": _worker_address()}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
