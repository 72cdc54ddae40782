"""Time budgets of `python -m grading`: measure the reference, and what bad submissions cost.

    python scripts/bench_budgets.py --measure schedules [initializers ...]
    python scripts/bench_budgets.py [--assignment schedules] [--clean 8] [--workers 2]

--measure executes each assignment's reference (the release with the instructor's answers, the
offline datasets, COURSE_PROFILE=quick) once and records in grading/budgets.json its wall time
(kernel start included), its slowest cell, the SHA-256 of the solution notebook, the machine and
the date; `python -m grading` derives its default caps from them (grading/budgets.py).

Without --measure: grades two batches with the default (budget-derived) caps, each in a fresh
course: N copies of the reference, then a batch of the same size where 20 % of them are bad
submissions (a busy loop, a sleep, a loop that swallows KeyboardInterrupt, in turn, each in the
first answer cell), and prints both wall times and their ratio (the goal is at most 1.3). Run it on an otherwise idle machine: the figures are wall-clock.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from benchlib import REPO, inject, kernel_env, make_course, record_assignment, reference_submission, \
    timed_grading, write

from grading import budgets

BAD = {  # appended to the first answer cell of a reference submission
    "loop": "while True:\n    pass\n",
    "sleep": "import time\ntime.sleep(3600)\n",
    "swallow": ("import time\nwhile True:\n    try:\n        time.sleep(0.05)\n"
                "    except KeyboardInterrupt:\n        pass\n"),
}


def offline_env(tmp: Path) -> dict:
    """A kernel started here runs like a grading kernel: quick profile, one thread."""
    return kernel_env(tmp, COURSE_PROFILE="quick", OMP_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1",
                      TF_NUM_INTEROP_THREADS="1")


def measure(assignment: str, tmp: Path) -> dict:
    """Execute the reference once (one thread, like a grading kernel); wall and slowest cell."""
    from nbclient import NotebookClient
    env = offline_env(tmp)
    course = make_course(tmp / assignment, assignment)
    nb = reference_submission(course, assignment)
    old = dict(os.environ)
    os.environ.update(env)
    try:
        work = tmp / f"{assignment}-run"
        work.mkdir()
        start = time.monotonic()
        NotebookClient(nb, timeout=3600, kernel_name="python3", record_timing=True,
                       resources={"metadata": {"path": str(work)}}).execute()
        wall = time.monotonic() - start
    finally:
        os.environ.clear()
        os.environ.update(old)
    slowest = 0.0
    for cell in nb.cells:
        ex = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in ex and "shell.execute_reply" in ex:
            t0 = datetime.fromisoformat(ex["iopub.execute_input"].replace("Z", "+00:00"))
            t1 = datetime.fromisoformat(ex["shell.execute_reply"].replace("Z", "+00:00"))
            slowest = max(slowest, (t1 - t0).total_seconds())
    errors = [o.get("ename") for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    if errors:
        raise SystemExit(f"the {assignment} reference raised {errors}: not measured")
    return {"wall_seconds": round(wall, 2), "slowest_cell_seconds": round(slowest, 2),
            "solution_sha256": budgets.notebook_hash(REPO / "solutions" / assignment / f"{assignment}.ipynb"),
            "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def grade(assignment: str, root: Path, n_clean: int, n_bad: int, workers: int, env: dict) -> float:
    course = make_course(root, assignment)
    ref = reference_submission(course, assignment)
    subs = root / "subs"
    for i in range(n_clean):
        write(ref, subs / f"clean{i:02d}" / f"{assignment}.ipynb")
    first_answer = next(c.metadata["nbgrader"]["grade_id"] for c in ref.cells
                        if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code")
    kinds = list(BAD)
    for i in range(n_bad):
        nb = nbformat.reads(nbformat.writes(ref), as_version=4)  # a copy with str sources
        write(inject(nb, first_answer, BAD[kinds[i % len(kinds)]]), subs / f"bad{i:02d}" / f"{assignment}.ipynb")
    record_assignment(course, assignment, env)
    seconds, summary = timed_grading(course, assignment, subs, env, "--workers", str(workers),
                                     graded_fully=False)
    print(summary.strip())
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--measure", nargs="+", metavar="ASSIGNMENT")
    ap.add_argument("--assignment", default="schedules")
    ap.add_argument("--size", type=int, default=10, help="submissions per batch")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-budgets-") as tmp:
        tmp = Path(tmp)
        if a.measure:
            record = budgets.load()
            for assignment in a.measure:
                record[assignment] = measure(assignment, tmp)
                print(assignment, record[assignment])
            budgets.BUDGETS.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
            return
        caps = budgets.defaults(a.assignment)
        print(f"{a.assignment}: default caps (cell, wall) = {caps} s from {budgets.BUDGETS.name}")
        env = offline_env(tmp)
        n_bad = max(1, round(a.size * 0.2))
        clean = grade(a.assignment, tmp / "clean", a.size, 0, a.workers, env)
        mixed = grade(a.assignment, tmp / "mixed", a.size - n_bad, n_bad, a.workers, env)
        print(f"clean batch: {a.size} submissions in {clean:.0f} s")
        print(f"with {n_bad} of {a.size} looping/sleeping/interrupt-swallowing: {mixed:.0f} s")
        print(f"ratio: {mixed / clean:.2f} (goal: <= 1.3)")


if __name__ == "__main__":
    main()
