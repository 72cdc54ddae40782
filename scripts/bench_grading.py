"""Throughput of `python -m grading`: K copies of the `schedules` reference, 1 and 2 workers.

    python scripts/bench_grading.py [--copies K] [--workers 1 2]

Each run grades the same K reference submissions in a fresh temporary course (so nothing is
skipped as unchanged), with the real sandbox, one OMP/TF thread per kernel (--threads 1), the
offline datasets of ../shared/datasets, and no feedback or report (the kernels are what scales).
Prints submissions per minute for each worker count and the speed-up over one worker.
Run it on an otherwise idle machine and without `nice`: the numbers are wall-clock.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from helpers.course import make_course, reference_submission, write  # noqa: E402


def offline_env(tmp: Path) -> dict:
    datasets = Path(os.environ.get("COURSE_DATASETS", REPO.parent / "shared" / "datasets"))
    keras_home, ipy = tmp / "keras_home", tmp / "ipython"
    subprocess.run([sys.executable, str(REPO / "scripts" / "kernel_env.py"), str(ipy),
                    str(datasets), str(keras_home)], check=True, stdout=subprocess.DEVNULL)
    env = dict(os.environ, COURSE_DATASETS=str(datasets), PYTHONPATH=str(REPO),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return env


def one_run(workers: int, copies: int, tmp: Path, env: dict) -> float:
    root = tmp / f"w{workers}"
    root.mkdir(parents=True)
    course = make_course(root, "schedules")
    nb = reference_submission(course)
    subs = root / "subs"
    for i in range(copies):
        write(nb, subs / f"student{i:02d}" / "schedules.ipynb")
    # Record the assignment in the gradebook first, outside the timed part.
    subprocess.run([sys.executable, "-c", "import sys; from grading.batch import Batch, Options;"
                    f"b = Batch(Options('schedules', None, course_root=sys.argv[1])); b.ensure_assignment()",
                    str(course)], check=True, env=env, cwd=REPO)
    cmd = [sys.executable, "-m", "grading", "schedules", str(subs), "--course-root", str(course),
           "--workers", str(workers), "--threads", "1", "--no-feedback", "--no-report", "--no-progress"]
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)
    seconds = time.monotonic() - start
    if proc.returncode != 0 or f"{copies} graded now" not in proc.stdout:
        sys.exit(f"grading failed:\n{proc.stdout}\n{proc.stderr[-3000:]}")
    if "Every submission was graded fully." not in proc.stdout:
        sys.exit(f"the reference was not graded fully:\n{proc.stdout}")
    return seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--copies", type=int, default=8)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeat", type=int, default=1,
                   help="runs per worker count, alternating the order; the best time counts")
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        env = offline_env(tmp)
        print(f"{a.copies} copies of the schedules reference; {os.cpu_count()} cores; "
              f"threads per kernel: OMP/TF intra/inter-op = 1; sandbox: bwrap")
        results = {w: [] for w in a.workers}
        order = [w for r in range(a.repeat) for w in (a.workers if r % 2 == 0 else a.workers[::-1])]
        for i, w in enumerate(order):
            load = os.getloadavg()[0]
            s = one_run(w, a.copies, tmp / f"run{i}", env)
            results[w].append(s)
            print(f"workers={w}: {s:6.1f} s for {a.copies} submissions, "
                  f"{a.copies / s * 60:5.2f} submissions/min (load average before: {load:.1f})", flush=True)
        best = {w: min(times) for w, times in results.items()}
        print("best of each (least disturbed by other load): " + ", ".join(
            f"workers={w}: {a.copies / s * 60:.2f} submissions/min" for w, s in best.items()))
        if 1 in best:
            for w, s in best.items():
                if w != 1:
                    print(f"speed-up with {w} workers: {best[1] / s:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
