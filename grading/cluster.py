"""The Dask executor: the batch's jobs as tasks on a Dask cluster, each with a deadline, retried elsewhere.

`execute(connection, jobs, ...)` yields `((student, notebook), result)` once per job, as
`grading.executors` documents for both executors. Here, on top of Dask:

- The task function travels by value (`_by_value`): the scheduler unpickles the task graph and
  needs no `grading` package; only the workers run it (`grading.executors.run_remote_job`).
- Every task carries the grader's `state.worker_identity()` (the hash of the worker-side grading
  code, Python's and Keras's versions); a worker that differs refuses it, and so does a worker
  without the datasets. Such a worker gets no more tasks of this run.
- At most as many tasks are out as the cluster has threads, so a task starts when it is sent;
  the grader's deadline for a task (`deadline` seconds, default the wall cap + 180 s) runs from
  when the scheduler reports it on a worker. A task past it (a stopped or stalled worker) is
  cancelled and sent to another worker; its worker gets no more tasks of this run.
- A job is tried `TRIES` times (a lost worker, a refusal, a deadline); a lost scheduler is waited
  for, `RECONNECT_SECONDS` at most, and the jobs it held are sent again (not counted as tries).
- A job that cannot be run is returned as `infrastructure_error` with the reasons: never a
  grade (grading.batch records the student as not graded).
- Every `PROGRESS_SECONDS` a line on stderr says what the batch waits for.
"""
from __future__ import annotations

import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path

from .course import GradingError

CONNECT_SECONDS = 30
RECONNECT_SECONDS = 180  # a lost scheduler (or no worker at all) is waited for this long
DEADLINE_MARGIN = 180    # beyond a task's wall cap: the worker's own start and clean-up, the transfer
TRIES = 3                # executions of one job (lost workers, refusals, deadlines)
POLL_SECONDS = 0.5
PROGRESS_SECONDS = 30
INFRASTRUCTURE = "infrastructure_error"  # a job's status when the cluster could not run it


def security(tls: dict | None):
    """Dask's TLS settings for the grader's client: {"ca", "cert", "key"} files, or None (tcp://)."""
    if not tls:
        return None
    from distributed.security import Security
    for what, path in tls.items():
        if not Path(path).is_file():
            raise GradingError(f"--tls-{what}: no file {path}")
    return Security(tls_ca_file=str(tls["ca"]), tls_client_cert=str(tls["cert"]),
                    tls_client_key=str(tls["key"]), require_encryption=True)


def connect(address: str, tls: dict | None = None):
    """A Dask client of the scheduler at `address`; GradingError (exit 2) when it cannot be reached."""
    from distributed import Client
    if tls and not address.startswith("tls://"):
        raise GradingError(f"--tls-* given, but the cluster address {address} is not tls://")
    try:
        return Client(address, timeout=CONNECT_SECONDS, set_as_default=False, security=security(tls))
    except (OSError, TimeoutError) as exc:
        raise GradingError(f"cannot reach the Dask scheduler at {address}: {exc}") from None


def _on_worker(payload):
    """The task: runs on a Dask worker, with the worker's own grading package."""
    import importlib
    return importlib.import_module("grading.executors").run_remote_job(payload)


def _by_value(fn):
    """A copy of `fn` that pickle cannot find by name, so that Dask sends its code (cloudpickle)
    instead of a reference the scheduler would have to import."""
    copy = types.FunctionType(fn.__code__, {"__builtins__": __builtins__}, fn.__name__)
    copy.__module__, copy.__qualname__ = "__main__", f"grading-task.{fn.__name__}"
    return copy


@dataclass
class Task:
    """One job on its way through the cluster."""
    key: tuple                      # (student, notebook)
    job_dir: Path
    payload: dict
    tries: int = 0
    future: object = None
    started: float | None = None    # when the scheduler first reported it on a worker
    worker: str | None = None
    avoid: set = field(default_factory=set)   # workers this job must not go to again
    reasons: list = field(default_factory=list)


class Run:
    """The tasks of one batch on one cluster (see the module's docstring)."""

    def __init__(self, client, address: str, tls, tag: str, deadline: float):
        self.client, self.address, self.tls, self.tag = client, address, tls, tag
        self.deadline = deadline
        self.queued: list[Task] = []
        self.out: dict[str, Task] = {}       # future key -> task
        self.banned: dict[str, str] = {}     # worker -> why it gets no more tasks of this run
        self.sent = 0
        self.lost_since: float | None = None
        self.said = time.monotonic()

    # -- the cluster
    def workers(self) -> dict[str, int]:
        """worker address -> threads, of the workers that may get tasks."""
        try:
            info = self.client.scheduler_info().get("workers", {})
        except Exception:
            return {}
        return {w: int(i.get("nthreads", 1)) for w, i in info.items() if w not in self.banned}

    def connected(self) -> bool:
        """True when the scheduler is there; else waits for it (bounded: GradingError after
        RECONNECT_SECONDS) and says so."""
        if self.client.status == "running":
            self.lost_since = None
            return True
        now = time.monotonic()
        self.lost_since = self.lost_since or now
        if self.client.status in ("closed", "closing"):  # Dask gave up: a new client
            try:
                self.client = connect(self.address, self.tls)
                return True
            except GradingError:
                pass
        if now - self.lost_since > RECONNECT_SECONDS:
            raise ClusterUnusable(f"the Dask scheduler at {self.address} was lost and did not come back "
                                f"within {RECONNECT_SECONDS} s")
        self.say(f"the Dask scheduler at {self.address} is lost: waiting for it "
                 f"({now - self.lost_since:.0f} of {RECONNECT_SECONDS} s)")
        return False

    def say(self, line: str, force: bool = False) -> None:
        if force or time.monotonic() - self.said >= PROGRESS_SECONDS:
            print(f"cluster: {line}", file=sys.stderr, flush=True)
            self.said = time.monotonic()

    # -- the tasks
    def submit(self, task: Task) -> None:
        """Send the task to one of the workers it may go to; when there is none, give it up."""
        good = [w for w in self.workers() if w not in task.avoid]
        task.tries += 1
        if not good:
            task.tries = TRIES
            task.reasons.append("no other worker to try it on")
            self.queued.insert(0, task)
            return
        self.sent += 1  # an explicit, unique key: Dask never merges two identical notebooks
        task.started = task.worker = None
        task.future = self.client.submit(
            _by_value(_on_worker), task.payload, pure=False, workers=good, allow_other_workers=False,
            key=f"grade-{self.tag}-{self.sent}-{task.key[0]}-{task.key[1]}")
        self.out[task.future.key] = task

    def note_starts(self) -> None:
        """When and where each task started (the scheduler's view)."""
        try:
            processing = self.client.processing()
        except Exception:
            return
        for worker, keys in processing.items():
            for key in keys:
                task = self.out.get(key)
                if task is not None and task.started is None:
                    task.started, task.worker = time.monotonic(), worker


class ClusterUnusable(Exception):
    """No task of the run can be run any more (no scheduler, or no worker that may take one)."""


def infrastructure(reasons: list[str]) -> dict:
    return {"status": INFRASTRUCTURE, "infrastructure": True,
            "reasons": [f"not graded: {r}" for r in reasons[-2:]] or ["not graded: the cluster could not run it"]}


def execute(client, address: str, tls, tag: str, payload_of, deadline: float, jobs):
    """The generator of `grading.executors.executor_for` for a cluster (the module's docstring)."""
    run = Run(client, address, tls, tag, deadline)
    jobs = iter(jobs)
    more = True
    try:
        while more or run.queued or run.out:
            if not run.connected():
                time.sleep(1)
                continue
            capacity = sum(run.workers().values())
            while more and len(run.queued) + len(run.out) < 2 * max(1, capacity):
                item = next(jobs, None)  # the caller prepares the next job meanwhile
                if item is None:
                    more = False
                else:
                    run.queued.append(Task(item[0], Path(item[1]), payload_of(item[1])))
            for task in [t for t in run.queued if t.tries < TRIES][:max(0, capacity - len(run.out))]:
                run.queued.remove(task)
                run.submit(task)
            yield from _finished(run)
            _wait_for_workers(run, capacity)
            time.sleep(POLL_SECONDS)
    except ClusterUnusable as exc:
        for task in [*run.out.values(), *run.queued]:
            yield task.key, infrastructure([*task.reasons, str(exc)])
        for item in jobs:
            yield item[0], infrastructure([str(exc)])
    finally:
        run.client.close()


def _wait_for_workers(run: Run, capacity: int) -> None:
    """No worker may take tasks: when every one refused or stalled, stop at once with their
    reasons; when none is connected, wait (RECONNECT_SECONDS at most)."""
    if capacity or not (run.queued or run.out):
        run.lost_since = None if capacity else run.lost_since
        return
    now = time.monotonic()
    run.lost_since = run.lost_since or now
    why = "; ".join(f"{w}: {r}" for w, r in run.banned.items()) or "none connected"
    try:
        connected = set(run.client.scheduler_info().get("workers", {}))
    except Exception:
        connected = set()
    if (connected and connected <= set(run.banned)) or now - run.lost_since > RECONNECT_SECONDS:
        raise ClusterUnusable(f"no Dask worker can run the tasks ({why})")
    run.say(f"no worker can take tasks ({why}); waiting ({now - run.lost_since:.0f} of "
            f"{RECONNECT_SECONDS} s)")


def _finished(run: Run):
    """Yield the answers of the tasks that ended; send again those that failed or are overdue."""
    run.note_starts()
    now = time.monotonic()
    waiting = []
    for key, task in list(run.out.items()):
        fut = task.future
        if fut.status == "finished":
            del run.out[key]
            answer = _answer(fut)
            if answer.get("refused"):  # the worker cannot run any task of ours
                run.banned[answer.get("worker") or "?"] = answer["refused"]
                _again(run, task, answer["refused"], answer.get("worker"))
                continue
            yield task.key, _unpack(task, answer)
        elif fut.status == "cancelled":  # the client lost the scheduler: not the job's fault
            del run.out[key]
            task.tries -= 1
            run.queued.insert(0, task)
        elif fut.status == "error":
            del run.out[key]
            _again(run, task, f"{type(fut.exception()).__name__}: {fut.exception()}"[:300], task.worker)
        elif task.started is not None and now - task.started > run.deadline:
            del run.out[key]
            run.client.cancel(fut)
            why = f"no result from worker {task.worker} within {run.deadline:.0f} s (stalled or stopped?)"
            run.banned[task.worker] = why
            _again(run, task, why, task.worker)
        else:
            waiting.append(task)
    if waiting:
        oldest = min(waiting, key=lambda t: t.started or now)
        run.say(f"{len(waiting)} task(s) out, {len(run.queued)} queued; waiting for "
                f"{oldest.key[0]}/{oldest.key[1]}"
                + (f" on {oldest.worker} ({now - oldest.started:.0f} s of {run.deadline:.0f})"
                   if oldest.started else " (not started yet)"))
    yield from _given_up(run)


def _again(run: Run, task: Task, why: str, worker: str | None) -> None:
    """Try the task again on another worker, unless it had its tries (then _given_up)."""
    task.reasons.append(why)
    if worker:
        task.avoid.add(worker)
    run.say(f"{task.key[0]}/{task.key[1]}: {why}; " + ("trying again" if task.tries < TRIES else "giving up"),
            force=True)
    run.queued.insert(0, task)


def _given_up(run: Run):
    for task in [t for t in run.queued if t.tries >= TRIES]:
        run.queued.remove(task)
        yield task.key, infrastructure(task.reasons)


def _answer(fut) -> dict:
    try:
        return fut.result(timeout=60)
    except Exception as exc:
        return {"result": infrastructure([f"{type(exc).__name__}: {exc}"[:300]]), "executed": None}


def _unpack(task: Task, answer: dict) -> dict:
    """The job's result; its executed notebook into the job folder."""
    if answer.get("executed") is not None:
        out = task.job_dir / "out.ipynb"
        tmp = out.with_suffix(".tmp")
        tmp.write_text(answer["executed"])
        tmp.replace(out)
    return answer["result"]
