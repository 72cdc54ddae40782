"""The command line of `python -m grading`: options in, the batch run, its summary printed.

    python -m grading schedules submissions.zip --workers 2
    python -m grading schedules downloads/ --regex '(?P<student>[^_/]+)_assignsubmission'
    python -m grading export schedules --format canvas --roster roster.csv -o grades.csv

Exit status: 0 when the batch completed (whatever the students scored), 2 for a wrong path, an
unknown assignment or a machine that cannot sandbox (see --no-sandbox), 3 when students remain
not graded because of the infrastructure (cluster, database: listed; rerun to grade them), 1
for anything else, including a batch that did nothing useful: no file matched a student, or
every submission failed for one reason that is not the students' (grading.summary says which,
and what to do).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import batch, budgets, report, similarity, state, summary
from .batch import BatchResult, Options
from .cluster import INFRASTRUCTURE
from .collect import SubmissionError
from .course import REPO, GradingError, load_config
from .sandbox import Caps, SandboxUnavailable, check_sandbox, describe_isolation
from .state import DatabaseUnavailable


def parse_args(argv=None) -> Options:
    d = Caps()
    p = argparse.ArgumentParser(prog="python -m grading", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("assignment", help="assignment id (a folder of solutions/)")
    p.add_argument("submissions", type=Path, help="folder or .zip of submitted notebooks")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="notebooks graded in parallel (default: number of cores)")
    p.add_argument("--regex", help="regular expression with a named group 'student' "
                                   "(optionally 'notebook') matched against each file's path")
    p.add_argument("--course-root", type=Path, default=REPO,
                   help="folder with nbgrader_config.py (default: the repository)")
    p.add_argument("--db-url", help="gradebook URL, e.g. postgresql://user@host/tdnn "
                                    "(default: sqlite:///COURSE_ROOT/gradebook.db)")
    p.add_argument("--cell-seconds", type=int, default=None,
                   help="timeout per cell (default: from the reference's measured time in "
                        "grading/budgets.json, else Execute.timeout of nbgrader_config.py)")
    p.add_argument("--wall-seconds", type=int, default=None,
                   help=f"wall time per submission (default: from grading/budgets.json, else {d.wall_seconds})")
    p.add_argument("--cpu-seconds", type=int, default=d.cpu_seconds, help="CPU time per kernel")
    p.add_argument("--memory-mb", type=int, default=d.memory_mb, help="address space per kernel (MB)")
    p.add_argument("--output-bytes", type=int, default=d.output_bytes, help="output bytes per cell")
    p.add_argument("--threads", type=int, default=d.threads, help="OMP/TF threads per kernel")
    p.add_argument("--datasets", type=Path, default=None,
                   help="offline datasets (default: $COURSE_DATASETS or ../shared/datasets)")
    p.add_argument("--seed", default=None, help="seed of the hidden tests' parameters "
                                                "(default: $COURSE_GRADING_SEED, else a secret kept in autograded/)")
    p.add_argument("--profile", default="quick", help="COURSE_PROFILE in the kernels (default quick)")
    p.add_argument("--no-feedback", action="store_true", help="skip nbgrader generate_feedback")
    p.add_argument("--no-report", action="store_true", help="skip the HTML report")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _cluster_options(p)
    p.add_argument("--no-sandbox", action="store_true",
                   help="run kernels WITHOUT the sandbox (only for trusted notebooks)")
    p.add_argument("--shared-process-limit", action="store_true",
                   help="where each sandbox cannot get a process limit of its own (no writable "
                        "cgroup, Linux before 5.14), grade anyway with one RLIMIT_NPROC shared by "
                        "all sandboxes: a forking student can then stop other students' kernels")
    a = p.parse_args(argv)
    env = {"COURSE_PROFILE": a.profile}
    seed = a.seed or os.environ.get("COURSE_GRADING_SEED")  # read here only; used by grading.judge
    measured = budgets.defaults(a.assignment)  # multiples of the reference's measured time
    caps = Caps(cell_seconds=a.cell_seconds or (measured[0] if measured else 0),
                wall_seconds=a.wall_seconds or (measured[1] if measured else d.wall_seconds),
                cpu_seconds=a.cpu_seconds, memory_mb=a.memory_mb, output_bytes=a.output_bytes,
                threads=a.threads, shared_process_limit=a.shared_process_limit)
    return Options(assignment=a.assignment, submissions=a.submissions, course_root=a.course_root,
                   workers=a.workers, regex=a.regex, db_url=a.db_url, caps=caps,
                   sandbox=not a.no_sandbox, datasets=a.datasets, feedback=not a.no_feedback,
                   report=not a.no_report, progress=not a.no_progress, env=env,
                   seed=str(seed) if seed else None, cluster=a.cluster, tls=_tls(p, a),
                   task_deadline=a.task_deadline)


def _cluster_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cluster", metavar="tcp://HOST:8786",
                   help="run the sandboxed executions on this Dask scheduler's workers "
                        "(default: on this machine, --workers at a time)")
    p.add_argument("--tls-ca-file", metavar="CA.pem", help="with a tls:// --cluster: the CA that signed "
                   "the scheduler's and workers' certificates (Dask's TLS; docs/grading.md)")
    p.add_argument("--tls-cert", metavar="CERT.pem", help="with a tls:// --cluster: the grader's certificate")
    p.add_argument("--tls-key", metavar="KEY.pem", help="with a tls:// --cluster: the grader's private key")
    p.add_argument("--task-deadline", type=float, default=None, metavar="SECONDS",
                   help="with --cluster: seconds a task may run on a worker before it is cancelled and "
                        "sent to another (default: --wall-seconds + 180)")


def _tls(p: argparse.ArgumentParser, a: argparse.Namespace) -> dict | None:
    files = {"ca": a.tls_ca_file, "cert": a.tls_cert, "key": a.tls_key}
    if not any(files.values()):
        return None
    if not all(files.values()):
        p.error("a TLS cluster needs all three of --tls-ca-file, --tls-cert and --tls-key")
    return files


def main(argv=None) -> int:
    # nbgrader runs `alembic` from PATH when it creates a gradebook.
    bindir = os.path.dirname(sys.executable)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    import warnings
    warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader + SQLAlchemy 2.1 noise
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["export"]:  # `python -m grading export ...`: grades into the LMS (export.py)
        from .export import main as export_main
        return export_main(argv[1:])
    try:
        opts = parse_args(argv)
        if not opts.submissions.exists():
            raise GradingError(f"submissions not found: {opts.submissions}")
        if not (Path(opts.course_root) / "nbgrader_config.py").exists():
            raise GradingError(f"no nbgrader_config.py in {opts.course_root} (see --course-root)")
        if not opts.caps.cell_seconds:  # an assignment never measured: nbgrader's per-cell timeout
            opts.caps.cell_seconds = execute_timeout(Path(opts.course_root))
        if opts.sandbox:
            check_sandbox(opts.caps)
        print(describe_isolation(opts.sandbox, opts.caps), flush=True)
        result = batch.run(opts)
    except (GradingError, SubmissionError, SandboxUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except Exception as exc:  # the gradebook's database failed past the store's retries
        if type(exc).__module__.split(".")[0] not in ("sqlalchemy", "psycopg"):
            raise
        print(f"error: {state.outage_message(exc, 0)}", file=sys.stderr)
        return 3
    index = write_report(result) if opts.report else None
    print_summary(result, index, opts.feedback)
    left = not_graded(result)
    failure = summary.batch_failure(result, opts.regex)
    if failure:
        print(f"error: {failure}", file=sys.stderr)
    return 3 if left else 1 if failure else 0


def not_graded(result: BatchResult) -> list[str]:
    """Students the infrastructure could not grade (recorded, never as a number); said on stderr."""
    left = sorted(s for s in result.students
                  if (result.entries.get(s) or {}).get("status") == INFRASTRUCTURE)
    if left:
        print(f"error: {len(left)} student(s) not graded because of the infrastructure (no grade "
              "recorded; `export` refuses them): " + ", ".join(left) + ". Fix the cause above and "
              "rerun the same command: it grades only them.", file=sys.stderr)
    return left


def execute_timeout(course_root: Path) -> int:
    """`Execute.timeout` of the course's nbgrader_config.py (300 s when it sets none)."""
    return int(load_config(course_root.resolve(), None).Execute.get("timeout", 300) or 300)


def write_report(result: BatchResult) -> Path:
    course = result.course
    students = sorted(set(result.entries) | set(result.students))
    similar = similarity.of_batch(course.folder("release"),
                                  {s: course.folder("autograded", s) for s in students},
                                  course.root / "chapters", workers=os.cpu_count() or 1)
    return report.write_report(course.report_dir, result.assignment, result.entries,
                               course.cell_scores(students), similar)


def print_summary(result: BatchResult, index: Path | None = None, feedback: bool = True) -> None:
    print("\n".join(summary.lines(result, index, feedback)))
    for line in result.log_lines:
        print(line, file=sys.stderr)
