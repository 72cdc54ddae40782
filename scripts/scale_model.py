"""How long 10,000 `cifar10` submissions take on 1, 10, 50 and 200 two-core Dask workers.

    python scripts/scale_model.py [--submissions 10000] [--cifar10-seconds S]

Measures here, on this machine, the cost of each part of one task:

- sandbox start: `bwrap` creating the namespaces and running /bin/true (median of 5);
- kernel start: `python -m grading` on a one-cell notebook, the worker's time (sandbox, kernel
  start, one trivial cell, shut-down);
- execution: the worker's time for the `cifar10` reference with 2 threads per kernel, minus the
  kernel start (or --cifar10-seconds, the worker's time measured before, to skip this run);
- scheduler overhead per task: 300 empty tasks through a real Dask scheduler and worker
  (`distributed.LocalCluster`, one single-thread worker process), time per task;
- transfer: a round trip through that cluster of a payload the size of the sanitized plus the
  executed `cifar10` notebook, minus an empty task;
- the grader's own work per submission (it is the single gradebook writer, so this part is
  serial): sanitizing and saving the grades (nbgrader's SaveAutoGrades etc.);
- feedback per submission: `grading.feedback.generate` on 3 students in one child process
  (as the pipeline runs it, up to 16 per child), divided by 3;
- the end of the batch, after the last grade: the report (every student's scores from the
  gradebook, grades.csv, figures, page) and the export (the LMS file from one aggregate query) on
  a synthetic gradebook of all N submissions (scripts/bench_export.py's), and the report's
  similarity section: tokenizing the cifar10 reference's answer cells, per answer (20 answers),
  shared among the grader's cores as the report does.

Model of batch.py as it is: three streams run at once. Each two-core worker grades one submission
at a time (2 kernel threads): N x task / W. The grader's one thread sanitizes each submission
just before sending it and saves each result as it comes: N x (sanitize + save + transfer +
scheduler overhead). Feedback is rendered by child processes on the grader's machine as soon as a
student's grades are saved, `--grader-cores` - 1 at a time (batch.py with --cluster): N x
feedback / (cores - 1). The batch takes the slowest of the three plus the pipeline's fill and
drain (one sanitize, one task, one feedback), then the end of the batch.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from benchlib import REPO, copy_config, grading_env, make_course, reference_submission, write
from nbformat.v4 import new_code_cell, new_notebook

WORKERS = (1, 10, 50, 200)
# The one-cell assignment that times a kernel start needs a check like any assignment.
TINY_CHECKS = """from grading.checks import Checks
checks = Checks()


@checks("t")
def t(p, rng):
    p.equal("1 + 1", 2, "1 + 1")
"""


def sandbox_start() -> float:
    bwrap = shutil.which("bwrap")
    cmd = [bwrap, "--unshare-all", "--die-with-parent", "--unshare-user", "--uid", "65534", "--gid", "65534",
           "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
           "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev", "--", "/bin/true"]
    times = []
    for _ in range(5):
        t = time.monotonic()
        subprocess.run(cmd, check=True)
        times.append(time.monotonic() - t)
    return statistics.median(times)


def worker_seconds(course: Path, assignment: str, subs: Path, *extra: str) -> float:
    """Grade; the one student's seconds from the state file (sanitizing plus the worker's time)."""
    cmd = [sys.executable, "-m", "grading", assignment, str(subs), "--course-root", str(course),
           "--workers", "1", "--no-feedback", "--no-progress", *extra]
    proc = subprocess.run(cmd, env=grading_env(), cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0 or "Every submission was graded fully." not in proc.stdout:
        sys.exit(f"grading failed:\n{proc.stdout}\n{proc.stderr[-3000:]}")
    state = json.loads(next((course / "autograded").glob(f".grading-state-{assignment}.json")).read_text())
    return float(next(iter(state.values()))["seconds"])


def kernel_start(tmp: Path) -> float:
    course = tmp / "tiny" / "course"
    copy_config(course)
    meta = {"nbgrader": {"grade": True, "grade_id": "t", "locked": True, "points": 1,
                         "schema_version": 3, "solution": False, "task": False}}
    nb = new_notebook(cells=[new_code_cell("assert 1 + 1 == 2", metadata=meta)],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    write(nb, course / "solutions" / "tiny" / "tiny.ipynb")
    (course / "grading" / "checks").mkdir(parents=True)
    (course / "grading" / "checks" / "tiny.py").write_text(TINY_CHECKS)
    write(nb, tmp / "tiny" / "subs" / "s0" / "tiny.ipynb")
    return worker_seconds(course, "tiny", tmp / "tiny" / "subs", "--no-report")


def cifar10_course(tmp: Path) -> tuple[Path, Path]:
    course = make_course(tmp / "cifar10", "cifar10")
    subs = tmp / "cifar10" / "subs"
    write(reference_submission(course, "cifar10"), subs / "s0" / "cifar10.ipynb")
    return course, subs


def dask_costs(payload_bytes: int) -> tuple[float, float]:
    """(scheduler overhead per task, transfer of payload_bytes there and back) on a real cluster."""
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as lc, \
            Client(lc) as client:
        client.submit(len, "warm-up").result()
        n = 300
        t = time.monotonic()
        client.gather([client.submit(len, "x", key=f"noop-{i}") for i in range(n)])
        per_task = (time.monotonic() - t) / n
        payload = "x" * payload_bytes
        times = []
        for i in range(5):
            t = time.monotonic()
            client.submit(str, payload, key=f"echo-{i}").result()
            times.append(time.monotonic() - t)
        return per_task, max(0.0, statistics.median(times) - per_task)


def grader_work(course: Path, executed_path: Path, students: int = 3) -> tuple[float, float, float]:
    """Medians, in seconds, of the grader's own work on one cifar10 submission: (the BEFORE
    steps, the AFTER steps on the executed notebook, feedback)."""
    from grading import judge, steps
    from grading.course import Course
    from grading.feedback import generate as generate_feedback
    subs = course.parent / "subs"
    c = Course(course, "cifar10")
    c.ensure_assignment()
    cells = c.instructor_cells()
    ctx = steps.Context(c, cells, judge.load_checks("cifar10", cells, c.root), "scale-model", 10)
    raw = (subs / "s0" / "cifar10.ipynb").read_bytes()
    executed = nbformat.read(executed_path, as_version=4)
    parts = {"sanitize": [], "save": [], "feedback": []}
    for i in range(students):
        job = steps.Job(f"model{i}", "cifar10", raw, "digest")
        t0 = time.monotonic()
        c.open_submission(job.student)
        if not steps.before_execution(job, ctx):
            sys.exit(f"the reference could not be prepared: {job.problems}")
        t1 = time.monotonic()
        job.nb = nbformat.from_dict(json.loads(json.dumps(executed)))
        steps.run_steps([steps.decide_verdicts, steps.nbgrader_autograde], job, ctx, "grades not saved")
        c.score(job.student)  # what the batch reads back
        t2 = time.monotonic()
        for key, seconds in zip(parts, (t1 - t0, t2 - t1)):
            parts[key].append(seconds)
    names = [f"model{i}" for i in range(students)]
    t = time.monotonic()
    failed = generate_feedback(course, "cifar10", c.db_url, names, course.parent / "feedback-work")
    parts["feedback"] = [(time.monotonic() - t) / students]
    if any(failed.values()):
        sys.exit(f"feedback failed: {failed}")
    return tuple(statistics.median(v) for v in parts.values())


def end_of_batch(tmp: Path, n: int, grader_cores: int) -> tuple[float, float, float]:
    """Seconds of (report, export, similarity on `grader_cores` cores) for n submissions."""
    from bench_export import ASSIGNMENT, COURSE, bench_report, build_gradebook, write_state_and_roster
    from helpers.course import solution_sources
    from grading.export import build
    from grading.similarity import find_similar
    root = tmp / "end-of-batch"
    root.mkdir()
    url = f"sqlite:///{root / 'gradebook.db'}"
    roster = write_state_and_roster(root, n)
    build_gradebook(url, n)
    scores, page = bench_report(url, root, n)
    t = time.monotonic()
    build(url, COURSE, ASSIGNMENT, "canvas", roster, column="Bench (4711)", allow_missing=True,
          autograded_dir=root / "autograded")
    export = time.monotonic() - t
    answer = "\n".join(solution_sources(REPO, "cifar10").values())
    answers = {f"s{i}": answer.replace("model", f"model{i}") for i in range(20)}
    t = time.monotonic()
    find_similar(answers)
    per_answer = (time.monotonic() - t) / len(answers)
    return scores + page, export, per_answer * n / grader_cores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--submissions", type=int, default=10_000)
    ap.add_argument("--cifar10-seconds", type=float,
                    help="worker seconds of one cifar10 reference with 2 threads, measured before")
    ap.add_argument("--grader-cores", type=int, default=8,
                    help="cores of the grader's machine (feedback children: all but one)")
    a = ap.parse_args()
    os.environ["PATH"] = grading_env()["PATH"]  # nbgrader runs `alembic` from PATH for a new gradebook
    tmp = Path(tempfile.mkdtemp(prefix="scale-model-"))
    try:
        sb = sandbox_start()
        ks = kernel_start(tmp)
        course, subs = cifar10_course(tmp)
        run = a.cifar10_seconds
        if run is None:
            run = worker_seconds(course, "cifar10", subs, "--threads", "2", "--no-report")
        execution = max(0.0, run - ks)
        executed = course / "autograded" / "s0" / "cifar10" / "cifar10.ipynb"
        if not executed.exists():  # --cifar10-seconds: the unexecuted reference stands in for it
            executed = subs / "s0" / "cifar10.ipynb"
        size = (subs / "s0" / "cifar10.ipynb").stat().st_size + executed.stat().st_size
        sched, transfer = dask_costs(size)
        sanitize, save, feedback = grader_work(course, executed)
        report, export, similar = end_of_batch(tmp, a.submissions, a.grader_cores)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    task = ks + execution  # kernel start includes the sandbox start
    serial = sanitize + save + transfer + sched  # the grader's one thread, per submission
    children = max(1, a.grader_cores - 1)
    n = a.submissions
    print(f"Measured on this machine ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} "
          f"at the end), per cifar10 submission:")
    print(f"  sandbox start (bwrap)                  {sb:8.3f} s")
    print(f"  kernel start (sandbox included)        {ks:8.2f} s")
    print(f"  execution, 2 kernel threads            {execution:8.2f} s"
          + ("  (from --cifar10-seconds)" if a.cifar10_seconds else ""))
    print(f"  transfer ({size / 1e6:.2f} MB both ways)         {transfer:8.3f} s")
    print(f"  scheduler overhead per task            {sched:8.4f} s")
    print(f"  grader: sanitize                       {sanitize:8.3f} s")
    print(f"  grader: save grades                    {save:8.3f} s")
    print(f"  feedback (a child process)             {feedback:8.3f} s")
    print(f"at the end of the batch, for all {n} submissions:")
    print(f"  report (scores, grades.csv, page)      {report:8.2f} s")
    print(f"  similarity on {a.grader_cores} grader cores           {similar:8.2f} s")
    print(f"  export (the LMS file)                  {export:8.2f} s")
    end = report + similar + export
    print(f"{n} submissions; each two-core worker runs one at a time ({task:.1f} s each); the grader's "
          f"thread sanitizes and saves ({serial:.2f} s each with transfer and scheduling); feedback "
          f"in {children} child processes on a {a.grader_cores}-core grader ({feedback / children:.2f} s each):")
    for w in WORKERS:
        streams = {"workers": n * task / w, "grader": n * serial, "feedback": n * feedback / children}
        bound = max(streams, key=streams.get)
        total = streams[bound] + sanitize + task + feedback + end
        print(f"  {w:4d} workers: {total / 3600:7.1f} h  (bound by the {bound}: "
              + ", ".join(f"{k} {v / 3600:.1f} h" for k, v in streams.items()) + ")")


if __name__ == "__main__":
    main()
