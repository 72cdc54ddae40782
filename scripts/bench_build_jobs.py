"""How much faster `build-book.sh --jobs N` builds the quick profile than `--jobs 1`.

    python scripts/bench_build_jobs.py [--jobs N] [--profile quick]

Copies the book (the files git knows, committed or not) into two scratch folders and
builds each from an empty cache with `BOOK_DIR=<copy> bash scripts/build-book.sh`, first with
--jobs 1, then with --jobs N (default: one per 2 cores, at least 2). Prints both times (the
whole command, and its page-execution phase), the speed-up, and the load average before and
after each run: on a shared machine the figures are only as quiet as the machine was.
The logs go to _build/bench/. Run with the course's environment active (COURSE_VENV).
"""
import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def copy_book(destination: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.splitlines()
    for name in files:
        source = REPO / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def load() -> str:
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def build(book: Path, jobs: int, profile: str, log: Path) -> dict:
    env = dict(os.environ, BOOK_DIR=str(book), COURSE_PROFILE=profile)
    env.pop("RESULTS_DIR", None)
    before = load()
    start = time.monotonic()
    result = subprocess.run(["bash", str(REPO / "scripts" / "build-book.sh"), "--jobs", str(jobs)],
                            env=env, capture_output=True, text=True)
    seconds = time.monotonic() - start
    log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise SystemExit(f"error: the build with --jobs {jobs} failed; log in {log}")
    pages = re.search(r"^<== pages \(.*\): (\d+) s$", result.stdout, re.MULTILINE)
    return {"jobs": jobs, "seconds": seconds, "pages_seconds": int(pages.group(1)) if pages else None,
            "load_before": before, "load_after": load()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=max(2, (os.cpu_count() or 1) // 2))
    parser.add_argument("--profile", default="quick", choices=["quick", "full"])
    args = parser.parse_args(argv)
    logs = REPO / "_build" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-build-") as scratch:
        for jobs in (1, args.jobs):
            book = copy_book(Path(scratch) / f"jobs-{jobs}")
            print(f"building the {args.profile} profile with --jobs {jobs} from an empty cache ...", flush=True)
            runs.append(build(book, jobs, args.profile, logs / f"build-jobs-{jobs}.log"))
            print(f"  {runs[-1]['seconds']:.0f} s", flush=True)
    print(f"\n{os.cpu_count()} CPU cores; {args.profile} profile; load average (1/5/15 min) "
          "before -> after each run")
    print(f"{'jobs':>4}  {'build (s)':>9}  {'pages (s)':>9}  load average")
    for run in runs:
        print(f"{run['jobs']:>4}  {run['seconds']:>9.0f}  {run['pages_seconds'] or '?':>9}  "
              f"{run['load_before']} -> {run['load_after']}")
    one, many = runs
    print(f"speed-up of --jobs {many['jobs']} over --jobs 1: {one['seconds'] / many['seconds']:.2f}x "
          f"(whole build), " + (f"{one['pages_seconds'] / many['pages_seconds']:.2f}x (page execution)"
                                if one["pages_seconds"] and many["pages_seconds"] else ""))
    print(f"logs: {logs}")


if __name__ == "__main__":
    main()
