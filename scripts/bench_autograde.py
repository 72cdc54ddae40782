"""Seconds that `nbgrader autograde` needs per submission, for the schedules and initializers
assignments (target: under 20 s on the 2-core machine).

    python scripts/bench_autograde.py [ASSIGNMENT ...] [--repeat N]

For each assignment: a temporary course (repository config, solutions/<assignment>), the
reference solution submitted N times (default 2) under different student ids, one autograde call;
prints the release time, the autograde time per submission, and the points obtained."""
import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from helpers.course import solution_sources  # noqa: E402
from helpers.nbgrader_batch import autograde, gradebook_points, make_released_course  # noqa: E402
from helpers.variants import build_submission, max_points  # noqa: E402

DEFAULT = ["schedules", "initializers"]


def bench(assignment: str, repeat: int, env: dict) -> float:
    with tempfile.TemporaryDirectory(prefix=f"bench-{assignment}-") as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        course = make_released_course(REPO, assignment, work, env)
        release_s = time.perf_counter() - start
        release = REPO / "exercises" / assignment / f"{assignment}.ipynb"
        notebook = build_submission(release, solution_sources(REPO, assignment), work / "ref.ipynb")
        students = [f"reference{i}" for i in range(repeat)]
        for student in students:
            target = course / "submitted" / student / assignment / f"{assignment}.ipynb"
            target.parent.mkdir(parents=True)
            shutil.copy2(notebook, target)
        start = time.perf_counter()
        autograde(course, assignment, env)
        per_submission = (time.perf_counter() - start) / repeat
        points = gradebook_points(course, assignment, students)
        best = max_points(REPO, assignment)["total"]
        got = ", ".join(f"{points[s]['total']:g}" for s in students)
        print(f"{assignment:>14}: {per_submission:5.1f} s per submission "
              f"(autograde of {repeat}; generate_assignment {release_s:.1f} s); "
              f"points {got} of {best:g}", flush=True)
        return per_submission


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", COURSE_PROFILE="quick")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    print(f"autograde benchmark, {os.cpu_count()} CPUs, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for assignment in args.assignments:
        bench(assignment, args.repeat, env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
