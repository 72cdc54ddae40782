"""Feedback for a batch: nbgrader's generate_feedback in child processes with time and memory limits.

nbgrader's `generate_feedback` renders every autograded notebook to HTML and sanitizes it
(`HTMLExporter.sanitize_html`), which costs seconds and hundreds of MB per MB of output, so it
does not run in the grader's process:

    python -m grading.feedback JOB.json      # JOB.json: root, assignment, db_url, students

The child (RLIMIT_AS `MEMORY_MB`) prints one JSON line when it starts a student and one when it
is done. The parent (`generate`) kills it when one student takes longer than `SECONDS_PER_STUDENT`
or when it dies, records that student's feedback as failed, and starts a new child for the
students still to do; every other student gets feedback.

`Pipeline` runs that while the batch goes on: the grader adds each student as soon as its grades
are saved, and `parallel` threads each hand a round of students to a new child: `CHUNK` of them,
or fewer once the first has waited `GATHER_SECONDS`, or all that are left when the batch is done.
Feedback so costs the grader's own process nothing and overlaps the executions; gathering the
students matters because each child's start (nbgrader's imports) costs about as much CPU as
rendering a few notebooks, and a child per student would double feedback's cost.
"""
from __future__ import annotations

import contextlib
import json
import os
import queue
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

from .course import REPO, load_config

SECONDS_PER_STUDENT = 120
CHUNK = 16  # students per child: one interpreter start (nbgrader's imports) for many notebooks
GATHER_SECONDS = 60  # a child starts for fewer than CHUNK students once the first waited this long
MEMORY_MB = 3072


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_MB * 1024 * 1024,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def shown_tail(log: Path) -> str:
    try:
        return log.read_bytes()[-300:].decode("utf-8", "replace").strip().splitlines()[-1]
    except (OSError, IndexError):
        return "no log"


def _reader(stream, q):
    for line in stream:
        q.put(line)
    q.put(None)


def generate(root: Path, assignment: str, db_url: str, students: list[str], work: Path,
             seconds_per_student: float = SECONDS_PER_STUDENT) -> dict:
    """{student: None (ok) or the reason its feedback failed}."""
    results: dict = {}
    todo = list(students)
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    round_ = 0
    while todo:
        round_ += 1
        job = work / f"feedback-{round_}.json"
        fd = os.open(job, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # db_url may hold a password
        with os.fdopen(fd, "w") as fh:
            json.dump({"root": str(root), "assignment": assignment, "db_url": db_url, "students": todo}, fh)
        env = dict(os.environ, PYTHONPATH=str(REPO))
        log = open(work / f"feedback-{round_}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "grading.feedback", str(job)],
                                cwd=str(REPO), env=env, stdout=subprocess.PIPE, stderr=log,
                                stdin=subprocess.DEVNULL, text=True, preexec_fn=_limit_memory)
        q: queue.Queue = queue.Queue()
        threading.Thread(target=_reader, args=(proc.stdout, q), daemon=True).start()
        current, started = None, time.monotonic()
        while True:
            try:
                line = q.get(timeout=1)
            except queue.Empty:
                if current is not None and time.monotonic() - started > seconds_per_student:
                    proc.kill()
                    results[current] = f"feedback took more than {seconds_per_student:g} s (stopped)"
                    current = None
                continue
            if line is None:
                break
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("start"):
                current, started = msg["start"], time.monotonic()
            elif msg.get("done"):
                results[msg["done"]] = None if msg.get("ok") else \
                    f"feedback could not be generated: {str(msg.get('error'))[-300:]}"
                current = None
        code = proc.wait()
        log.close()
        if current is not None:  # the child died on this student (memory cap, crash)
            results[current] = f"feedback process died on this notebook (exit {code}; memory cap {MEMORY_MB} MB?)"
        left = [s for s in todo if s not in results]
        if len(left) == len(todo):  # no progress at all: do not loop forever
            for s in left:
                results[s] = f"feedback process failed (exit {code}: {shown_tail(work / f'feedback-{round_}.log')})"
            left = []
        todo = left
    return results


class Pipeline:
    """Feedback generated while the batch runs (see the module's docstring)."""

    def __init__(self, root: Path, assignment: str, db_url: str, work: Path, parallel: int = 1,
                 seconds_per_student: float = SECONDS_PER_STUDENT):
        self.args = (root, assignment, db_url)
        self.work, self.seconds = Path(work), seconds_per_student
        self.pending: list[str] = []
        self.since = 0.0  # when the oldest pending student was added
        self.results: dict = {}
        self.closed = False
        self.cond = threading.Condition()
        self.threads = [threading.Thread(target=self._loop, args=(i,), daemon=True)
                        for i in range(max(1, parallel))]
        for t in self.threads:
            t.start()

    def add(self, student: str) -> None:
        with self.cond:
            if not self.pending:
                self.since = time.monotonic()
            self.pending.append(student)
            if len(self.pending) in (1, CHUNK):  # a waiting thread sets its clock, or starts
                self.cond.notify_all()

    def _loop(self, index: int) -> None:
        for round_ in range(1, 1 << 30):
            with self.cond:
                while not self._round_ready():
                    if self.closed and not self.pending:
                        return
                    waited = time.monotonic() - self.since
                    self.cond.wait(max(0.0, GATHER_SECONDS - waited) if self.pending else None)
                take, self.pending[:CHUNK] = self.pending[:CHUNK], []
                self.since = time.monotonic()
            try:
                res = generate(*self.args, take, self.work / f"{index}-{round_}", self.seconds)
            except Exception as exc:  # e.g. no child could start: those students' problem, said
                res = {s: f"feedback could not be generated: {type(exc).__name__}: {exc}"[:300] for s in take}
            with self.cond:
                self.results.update(res)

    def _round_ready(self) -> bool:
        return bool(self.pending) and (self.closed or len(self.pending) >= CHUNK
                                       or time.monotonic() - self.since >= GATHER_SECONDS)

    def close(self) -> dict:
        """Wait for every student added; {student: None (ok) or why its feedback failed}."""
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        for t in self.threads:
            t.join()
        return dict(self.results)


def start(root: Path, assignment: str, db_url: str, work: Path, students: list[str],
          on_cluster: bool) -> Pipeline:
    """The pipeline of a batch, these students already in it. Its children take the cores the
    executions leave: all but one on a cluster (the grader's thread), half of them otherwise."""
    cores = os.cpu_count() or 1
    pipeline = Pipeline(root, assignment, db_url, work,
                        parallel=max(1, cores - 1 if on_cluster else cores // 2))
    for student in students:
        pipeline.add(student)
    return pipeline


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text())
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    cfg = load_config(Path(job["root"]), job["db_url"])
    api = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
    out = sys.stdout
    for student in job["students"]:
        print(json.dumps({"start": student}), file=out, flush=True)
        try:
            with contextlib.redirect_stdout(sys.stderr):
                res = api.generate_feedback(job["assignment"], student_id=student, force=True)
            ok, error = bool(res.get("success")), str(res.get("error") or res.get("log") or "")
        except Exception as exc:  # one notebook must not stop the others
            ok, error = False, f"{type(exc).__name__}: {exc}"
        print(json.dumps({"done": student, "ok": ok, "error": error[-600:]}), file=out, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
