"""Where the sandboxed executions run: this machine's pool (default) or a Dask cluster.

`executor_for(opts, run_worker, runtime)` gives a function that takes the prepared jobs, an
iterable of `((student, notebook), job folder)` pairs, each folder holding the sanitized
`in.ipynb` and `job.json` that batch.py wrote, and yields `((student, notebook), result)` once
per job, as the jobs finish, with the executed notebook at `job folder/out.ipynb` when there is
one. The iterable is read lazily: each job starts as soon as batch.py has prepared it, so the
grader sanitizes the next submissions while the first ones run, and the results that are back
are handed out between two jobs. The grading process reads them and stays the only writer of
the gradebook, whichever executor ran the job.

- Local (no --cluster): a thread pool of `opts.workers` threads, each running `run_worker` (batch.py's
  `python -m grading.worker` subprocess) on a job folder. Nothing to start.
- Dask (`--cluster tcp://HOST:8786`): each job travels as data (the job settings, the sanitized
  notebook, the IPython start-up files) to a worker of a running Dask cluster; there
  `run_remote_job` writes it into a private temp folder, remaps the machine-specific paths (Python,
  venv, datasets, seeded Keras cache) to the worker's own, runs the same `grading.worker`
  subprocess in the same sandbox with the same caps, and returns the executed notebook and the
  result as data. When a worker is lost, the scheduler runs its tasks again on another worker
  (Dask's `allowed-failures`); each task's result still reaches the grader once.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import functools
import json
import os
import queue
import shutil
import sys
import tempfile
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONNECT_SECONDS = 30


@contextlib.contextmanager
def executor_for(opts, run_worker, runtime: dict):
    """The execute(jobs) function for these options (see the module's docstring)."""
    cluster = getattr(opts, "cluster", None)
    if not cluster:
        with cf.ThreadPoolExecutor(max_workers=max(1, opts.workers)) as pool:
            yield functools.partial(_execute_locally, pool, run_worker)
        return
    from distributed import Client
    from .batch import GradingError
    try:
        client = Client(cluster, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise GradingError(f"cannot reach the Dask scheduler at {cluster}: {exc}") from None
    try:
        yield functools.partial(_execute_on_dask, client, startup_files(runtime["ipythondir"]),
                                runtime["datasets"] is not None)
    finally:
        client.close()


# ---------------------------------------------------------------------------------- local
def _execute_locally(pool, run_worker, jobs):
    done: queue.Queue = queue.Queue()
    futures = {}
    for key, jdir in jobs:  # the caller prepares each job while the earlier ones run
        fut = pool.submit(run_worker, jdir)
        futures[fut] = key
        fut.add_done_callback(done.put)
        while not done.empty():
            fut = done.get()
            yield futures.pop(fut), fut.result()
    while futures:
        fut = done.get()
        yield futures.pop(fut), fut.result()


# ----------------------------------------------------------------------------------- Dask
def startup_files(ipythondir: str) -> dict[str, str]:
    """The IPython start-up files (offline datasets, Colab look-alike, test guard) as data."""
    root = Path(ipythondir)
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def _execute_on_dask(client, startup: dict, need_datasets: bool, jobs):
    from distributed import as_completed
    futures = {}
    finished = as_completed(loop=client.loop)  # not Dask's default client: ours
    for key, jdir in jobs:
        payload = {"job": json.loads((Path(jdir) / "job.json").read_text()),
                   "notebook": (Path(jdir) / "in.ipynb").read_text(),
                   "startup": startup, "need_datasets": need_datasets}
        # An explicit, unique task key: Dask must never merge two students' identical notebooks.
        task = f"grade-{payload['job']['token']}-{key[0]}-{key[1]}"
        fut = client.submit(run_remote_job, payload, key=task, pure=False)
        futures[fut.key] = (key, jdir)
        finished.add(fut)
        while finished.has_ready():
            yield _dask_answer(next(finished), futures)
    for fut in finished:
        yield _dask_answer(fut, futures)


def _dask_answer(fut, futures: dict):
    """((student, notebook), result) of a finished task; its executed notebook into the job folder."""
    key, jdir = futures.pop(fut.key)
    try:
        answer = fut.result()
    except Exception as exc:  # e.g. KilledWorker: the task killed `allowed-failures` workers
        answer = {"result": {"status": "error",
                             "reasons": [f"cluster could not run it: {type(exc).__name__}: {exc}"[:300]]},
                  "executed": None}
    if answer.get("executed") is not None:
        out = Path(jdir) / "out.ipynb"
        tmp = out.with_suffix(".tmp")
        tmp.write_text(answer["executed"])
        os.replace(tmp, out)
    return key, answer["result"]


def worker_datasets() -> Path:
    """The datasets on this worker: $COURSE_DATASETS, or ../shared/datasets beside the code."""
    env = os.environ.get("COURSE_DATASETS")
    return Path(env if env else REPO.parent / "shared" / "datasets").resolve()


@functools.lru_cache(maxsize=None)
def worker_keras_seed(datasets: str) -> str:
    """Seed this worker's Keras cache from its datasets once per worker process."""
    sys.path.insert(0, str(REPO / "scripts"))
    import kernel_env  # the same offline set-up as batch.prepare_runtime
    from .sandbox import grading_cache
    seed = grading_cache() / "keras_home"
    kernel_env.seed_cache(Path(datasets), seed)
    return str(seed)


def run_remote_job(payload: dict) -> dict:
    """Runs on a Dask worker: one job, in a private temp folder; returns what came out, as data."""
    from .batch import Batch
    from .sandbox import Caps
    tmp = Path(tempfile.mkdtemp(prefix="grading-dask-"))
    try:
        os.chmod(tmp, 0o755)  # the sandbox's uid reads the start-up files below
        for rel, text in payload["startup"].items():
            path = tmp / "ipython" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        for p in [tmp / "ipython", *(tmp / "ipython").rglob("*")]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        spec = dict(payload["job"]["sandbox"])
        if payload["need_datasets"]:
            datasets = worker_datasets()
            if not (datasets / "seed_keras_cache.py").exists():
                return {"result": {"status": "error", "reasons": [
                    f"Dask worker {os.uname().nodename} has no datasets at {datasets} "
                    "(set COURSE_DATASETS for the worker)"]}, "executed": None}
            spec.update(datasets=str(datasets), keras_seed=worker_keras_seed(str(datasets)))
        jdir = tmp / "job"
        (jdir / "scratch").mkdir(parents=True)
        conn = tmp / "c"  # short: Unix socket paths are limited to ~107 bytes
        conn.mkdir(mode=0o700)
        spec.update(python_prefix=sys.base_prefix, venv=sys.prefix, ipythondir=str(tmp / "ipython"),
                    scratch=str(jdir / "scratch"), conn_dir=str(conn))
        (jdir / "in.ipynb").write_text(payload["notebook"])
        job = dict(payload["job"], input=str(jdir / "in.ipynb"), output=str(jdir / "out.ipynb"),
                   result=str(jdir / "result.json"), sandbox=spec)
        (jdir / "job.json").write_text(json.dumps(job))
        # batch.py's own launcher, so the worker process, its caps and its timeouts are exactly
        # the local ones; it only reads the caps from the Batch it is given.
        host = types.SimpleNamespace(opts=types.SimpleNamespace(caps=Caps(**spec.get("caps", {}))))
        result = Batch._run_worker(host, jdir)
        out = jdir / "out.ipynb"
        return {"result": result, "executed": out.read_text() if out.exists() else None}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
