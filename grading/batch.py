"""The batch loop: claim each student, prepare its notebooks, execute them, collect, record.

    result = batch.run(Options("schedules", Path("submissions.zip")))

For every student whose submission is new or changed (the resume key, grading.state) and that
this grader could claim: the BEFORE steps prepare each notebook (grading.steps: read the file
without trusting it, nbgrader's sanitizing, probe cells in), an executor runs it in a sandbox
(grading.executors: this machine's pool or a Dask cluster, `python -m grading.worker`), the AFTER
steps turn what came back into grades (verdicts, nbgrader's autograde half), and the student's
entry is recorded in the resume state. A student's file never stops the batch: every failure
becomes a reason on that student's `StudentRun`. This process is the gradebook's only writer;
feedback is rendered meanwhile by child processes (grading.feedback).

`run` returns a `BatchResult`: data for the caller (the summary, the report) to read.
"""
from __future__ import annotations

import fcntl
import itertools
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from . import cgroups, feedback, judge, runtime, state, steps
from .collect import Submission, collect
from .course import REPO, Course, GradingError
from .cluster import DEADLINE_MARGIN, INFRASTRUCTURE
from .executors import executor_for
from .sandbox import Caps, SandboxSpec


@dataclass
class Options:
    assignment: str
    submissions: Path
    course_root: Path = REPO
    workers: int = os.cpu_count() or 1
    regex: str | None = None
    db_url: str | None = None
    caps: Caps = field(default_factory=Caps)
    sandbox: bool = True
    datasets: Path | None = None  # default: grading.runtime.datasets_dir()
    feedback: bool = True
    report: bool = True           # read by the caller, who writes the report (grading.cli)
    progress: bool = True
    env: dict = field(default_factory=dict)  # the kernels' environment (COURSE_PROFILE)
    seed: str | None = None       # the hidden parameters' seed: stays in the grader (grading.judge)
    cluster: str | None = None    # a Dask scheduler's address (grading.executors); None: this machine
    tls: dict | None = None       # {"ca", "cert", "key"}: the client's files for a tls:// cluster
    task_deadline: float | None = None  # seconds per cluster task (default: wall + cluster.DEADLINE_MARGIN)


@dataclass
class StudentRun:
    """One student's trip through this batch, and how it ended."""
    student: str
    submission: Submission
    key: str                                        # the resume key of this submission
    status: str = "pending"                         # then the recorded entry's status
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    waiting: set[str] = field(default_factory=set)  # notebooks sent out, not back yet
    outcomes: list[str] = field(default_factory=list)  # each notebook's execution status

    def note(self, problems) -> None:
        self.problems += [p for p in problems if p not in self.problems]

    def final_status(self) -> str:
        if INFRASTRUCTURE in self.outcomes:  # not graded, whatever its other notebooks did
            return INFRASTRUCTURE
        status = next((s for s in self.outcomes if s != "ok"), "ok")
        return "graded_with_problems" if status == "ok" and self.problems else status


@dataclass
class BatchResult:
    """What a batch did, for its caller: who was graded, who was not and why (the entries)."""
    assignment: str
    students: list[str]           # every student found in the submissions
    graded: list[str]             # graded by this run
    unchanged: list[str]          # skipped: graded before with the same key
    other_grader: list[str]       # held or just graded by another grader on the database
    skipped_files: list[str]      # files that belong to no student, with the reason
    entries: dict                 # student -> the resume state's entry (this run's or earlier)
    course: Course                # where the grades are (the gradebook, autograded/, feedback/)
    log_lines: list[str] = field(default_factory=list)


def run(opts: Options) -> BatchResult:
    """Grade a batch (see the module's docstring). The caller checks the sandbox first
    (grading.sandbox.check_sandbox, as cli.main does): without bwrap every kernel fails."""
    # Files the grader writes are its own (the sandbox's are opened explicitly); the caller's
    # umask comes back at the end, for a batch run inside another program (or a test).
    umask = os.umask(0o077)
    try:
        course = Course(opts.course_root, opts.assignment, opts.db_url)
        subs, skipped = collect(Path(opts.submissions), course.notebooks, opts.regex)
        store = state.open_store(course.db_url, course.course_id, opts.assignment, course.state_dir,
                                 course.root)
        try:
            return _grade_batch(opts, course, store, subs, skipped)
        finally:
            store.close()  # a database store gives back the claims it did not finish
    finally:
        os.umask(umask)


@contextmanager
def _only_grader(course: Course):
    """One `python -m grading` per course root and assignment at a time (a lock file)."""
    course.state_dir.mkdir(parents=True, exist_ok=True)
    with open(course.state_dir / f".grading-{course.assignment}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise GradingError(f"another `python -m grading {course.assignment}` is running on {course.root}")
        yield


def _grade_batch(opts, course, store, subs, skipped) -> BatchResult:
    with store.serialized():  # graders sharing a database: one records the assignment
        course.ensure_assignment()
    cells = course.instructor_cells()
    ctx = steps.Context(course, cells, judge.load_checks(opts.assignment, cells, course.root),
                        judge.grading_seed(opts.seed, course.state_dir), opts.caps.cells_factor)
    result = BatchResult(opts.assignment, sorted(subs), [], [], [], skipped, store.entries, course)
    with _only_grader(course):
        for student, sub in sorted(subs.items()):
            course.import_submission(student, sub.files)
        todo = _claim(opts, course, store, subs, result, ctx.seed)
        work = Path(tempfile.mkdtemp(prefix=f"grading-{opts.assignment}-"))
        pipeline = feedback.start(course.root, opts.assignment, course.db_url, work / "feedback",
                                  course.missing_feedback(result.unchanged), bool(opts.cluster)) \
            if opts.feedback else None
        try:
            batch_runtime = runtime.prepare(work, runtime.datasets_dir(opts.datasets), opts.sandbox)
            _execute(opts, ctx, todo, batch_runtime, work, store, pipeline, result)
        finally:
            for student, why in (pipeline.close() if pipeline else {}).items():
                if why is not None:  # waits for the last students' feedback, then notes failures
                    store.add_problem(student, why)
                    result.log_lines.append(f"feedback for {student}: {why}")
            shutil.rmtree(work, ignore_errors=True)
            cgroups.sweep(f"{os.getpid()}-")  # cgroups of workers that were killed
            cgroups.sweep_stale()  # and of graders that were
    store.refresh()  # what other graders on the database finished meanwhile
    result.entries = dict(store.entries)
    return result


def _claim(opts, course, store, subs, result, seed: str) -> list[StudentRun]:
    """The students this run grades: new or changed ones this grader could claim (the seed in
    use, given or the secret one, is in the key: a replaced seed regrades everyone)."""
    with course.gradebook() as gb:
        in_gradebook = {s.student.id for s in gb.find_assignment(opts.assignment).submissions}
    context = state.context_key(course.root, opts.assignment, course.source_dir, asdict(opts.caps),
                                {**opts.env, **judge.seed_for_key(seed)})
    todo = []
    for student, sub in sorted(subs.items()):
        key = state.student_key(context, sub.digest())
        current = state.is_current(store.entries.get(student), key)
        if current and student in in_gradebook:
            result.unchanged.append(student)
        elif store.claim(student, key, regrade=current):  # current, but not in the gradebook
            todo.append(StudentRun(student, sub, key))
        else:  # another grader on this database holds it or has just graded it
            result.other_grader.append(student)
    return todo


def _execute(opts, ctx, todo, batch_runtime, work, store, pipeline, result) -> None:
    """Prepare each student and start its jobs at once (the executor reads `prepared` lazily),
    and record each student as its last result comes back (the single gradebook writer)."""
    runs = {run.student: run for run in todo}
    jobs: dict[tuple[str, str], steps.Job] = {}
    numbers = itertools.count()  # names the jobs' connection folders: unique within the run
    bar = _progress(opts, len(todo))

    def finish(run: StudentRun) -> None:
        try:
            _record(run, ctx.course, store, pipeline, result)
        except Exception as exc:  # e.g. a score nbgrader could not compute: this student only
            _record_failure(run, "recording its grades", exc, store, result)
        if bar is not None:
            bar.update(1)

    def prepared():
        for run in todo:
            try:
                ready = _prepare(run, ctx, opts, batch_runtime, work, numbers)
            except Exception as exc:  # a grader step failed on this student's data
                ready, run.status = [], "error"
                run.note([_step_failed("preparing its notebooks", exc)])
            if not ready:
                finish(run)
            for job in ready:
                jobs[(run.student, job.notebook)] = job
                yield (run.student, job.notebook), job.folder

    deadline = opts.task_deadline or opts.caps.wall_seconds + DEADLINE_MARGIN
    with executor_for(opts.workers, opts.cluster, batch_runtime, opts.tls, deadline) as execute:
        for (student, nb_id), worker_result in execute(prepared()):
            run = runs[student]
            try:
                _collect(run, jobs.pop((student, nb_id)), worker_result, ctx)
            except Exception as exc:
                run.outcomes.append("error")
                run.note([_step_failed(f"collecting notebook {nb_id}", exc)])
            run.waiting.discard(nb_id)
            if not run.waiting:
                finish(run)
    if bar is not None:
        bar.close()


def _progress(opts, total: int):
    if not opts.progress:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc=f"grading {opts.assignment}", unit="student", file=sys.stderr,
                dynamic_ncols=True)


def _prepare(run: StudentRun, ctx, opts, batch_runtime, work: Path, numbers) -> list[steps.Job]:
    """The student's notebooks through the BEFORE steps, each written as a job folder; [] when
    none can run (then every autograded cell scores 0)."""
    start = time.monotonic()
    sub = run.submission
    run.problems += sub.problems
    if not sub.files:
        run.problems.append("no notebook found" + (f" (files: {', '.join(sub.others)})" if sub.others else ""))
    ctx.course.open_submission(run.student)
    ready = []
    for nb_id in ctx.course.notebooks:
        if nb_id not in sub.files:
            if sub.files:
                run.problems.append(f"notebook {nb_id} missing")
            continue
        job = steps.Job(run.student, nb_id, sub.files[nb_id], sub.digest())
        if steps.before_execution(job, ctx):
            ready.append(job)
        run.problems += job.problems
    if not ready:
        ctx.course.zero_grades(run.student)
        run.status = "not_graded"
    for job in ready:
        job.folder = _write_job(job, opts, batch_runtime, work, next(numbers))
    run.waiting = {job.notebook for job in ready}  # before any of them can come back
    run.seconds += time.monotonic() - start  # sanitizing; the executions are added as they return
    return ready


def _write_job(job: steps.Job, opts, batch_runtime: dict, work: Path, number: int) -> Path:
    """The job folder the executor reads: the notebook and job.json (its sandbox and caps)."""
    folder = work / f"{job.student}--{job.notebook}"
    folder.mkdir()
    nbformat.write(job.nb, folder / "in.ipynb")
    # Connection files and sockets: a short path (Unix sockets allow ~107 bytes) inside this
    # run's work folder, bound into this one sandbox only. The worker removes it; one a killed
    # worker leaves goes with the work folder.
    conn = work / "c" / str(number)
    conn.mkdir(parents=True, mode=0o700)
    spec = SandboxSpec(python_prefix=sys.base_prefix, venv=sys.prefix,
                       datasets=batch_runtime["datasets"], keras_seed=batch_runtime["keras_seed"],
                       ipythondir=batch_runtime["ipythondir"], scratch=str(folder / "scratch"),
                       conn_dir=str(conn), caps=opts.caps, env=judge.kernel_env(opts.env),
                       sandbox=opts.sandbox)
    (folder / "job.json").write_text(json.dumps({
        "input": str(folder / "in.ipynb"), "output": str(folder / "out.ipynb"),
        "result": str(folder / "result.json"), "sandbox": spec.to_json()}))
    return folder


def _step_failed(what: str, exc: Exception) -> str:
    return f"grader failed while {what}: {type(exc).__name__}: {str(exc)[:200]}"


def _worker_result(answer) -> dict:
    """What a worker reported, in the types the batch reads (a worker's file is data too)."""
    answer = answer if isinstance(answer, dict) else {}
    reasons = answer.get("reasons") if isinstance(answer.get("reasons"), list) else []
    seconds = answer.get("seconds")
    return {"status": answer["status"] if isinstance(answer.get("status"), str) else "error",
            "infrastructure": answer.get("infrastructure") is True,
            "reasons": [str(r)[:500] for r in reasons],
            "seconds": float(seconds) if isinstance(seconds, (int, float)) and seconds == seconds else 0.0}


def _collect(run: StudentRun, job: steps.Job, worker_result: dict, ctx) -> None:
    """One executed notebook through the AFTER steps: its grades saved, its reasons noted."""
    worker_result = _worker_result(worker_result)
    run.note(worker_result["reasons"])
    job.result = worker_result
    if worker_result["infrastructure"]:  # nothing of it is a grade (grading.cluster)
        run.outcomes.append(INFRASTRUCTURE)
    else:
        before = len(job.problems)
        saved = steps.after_execution(job, ctx)
        run.note(job.problems[before:])
        failed = INFRASTRUCTURE if any(map(state.database_failure, job.problems[before:])) else "error"
        run.outcomes.append(worker_result["status"] if saved else failed)
    run.seconds += worker_result["seconds"]
    shutil.rmtree(job.folder, ignore_errors=True)


def _record(run: StudentRun, course: Course, store, pipeline, result: BatchResult) -> None:
    """The student's entry in the resume state; its feedback handed to the feedback children."""
    if run.status == "pending":
        run.status = run.final_status()
    if run.status == INFRASTRUCTURE:  # no score at all, not a 0: its other notebooks' go too
        course.forget_submission(run.student)
        score, max_score = None, None
    else:
        score, max_score = course.score(run.student)
    # The feedback of an earlier grading never outlives it (a resubmission that cannot be read
    # scores 0: its old full-score page must not stay); the new one is rendered next.
    shutil.rmtree(course.folder("feedback", run.student), ignore_errors=True)
    if pipeline is not None and course.folder("autograded", run.student).exists():
        pipeline.add(run.student)  # rendered by a child process while the batch goes on
    _store_entry(run, run.status, score, max_score, store, result)


def _record_failure(run: StudentRun, what: str, exc: Exception, store, result: BatchResult) -> None:
    """The student recorded with the reason its grading failed (retried on a rerun); a failure
    to record even that is the store's, and stops the batch."""
    run.note([_step_failed(what, exc)])
    _store_entry(run, "error", 0.0, 0.0, store, result)


def _store_entry(run: StudentRun, status: str, score, max_score, store, result: BatchResult) -> None:
    sub = run.submission
    store.record(run.student, {
        "key": run.key, "hash": sub.digest(), "status": status, "problems": run.problems,
        "score": score, "max_score": max_score, "seconds": round(run.seconds, 2),
        "files": sub.names, "graded_at": datetime.now(timezone.utc).isoformat()})
    if run.student not in result.graded:
        result.graded.append(run.student)
