"""Execute a book's pages in parallel into the jupyter-cache that `jupyter-book build` reads.

    python scripts/execute_pages.py CACHE_DIR [--jobs N] [--times CSV] [--reports DIR]
                                   [--hold PAGE ...] [--only PAGE ...]

Run from the book's root (the folder holding _config.yml and _toc.yml). Every page in the
table of contents that is a notebook, and is not excluded by `execute.exclude_patterns`, is
registered in the cache exactly as myst-nb's cache mode registers it (same path, same reader),
so the hash of its code cells is the one the build computes. Pages whose code is unchanged
are found in the cache and not executed; the others run concurrently, N kernels at a time,
longest first (by their last recorded time), and each is stored in the cache as soon as it
succeeds. `jupyter-book build` then finds every page cached and executes nothing.

A page that fails keeps its traceback in the cache (as myst-nb does), in the console and in
REPORTS_DIR/<page>.err.log; the exit status is 1 once every page has been tried.
--times writes one row per page: page, status (executed, cached, failed), seconds, error.

--hold PAGE leaves a page out of this run; --only PAGE runs just that page, and its row then
replaces the page's row in an existing --times file. The full build uses both to run the
results page last, once the other pages' CSV files are in results/full (jupyter-cache
hashes code cells only, so it cannot see that the CSV files changed).
"""
import argparse
import csv
import fnmatch
import multiprocessing
import os
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat
import yaml
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from jupyter_cache.cache.db import NbProjectRecord
from myst_nb.core.read import is_myst_markdown_notebook

# What myst-nb's cache mode passes to jupyter-cache for a MyST Markdown page
# (myst_nb.core.read.create_nb_reader): the cache reads the page with the same plugin.
MYST_READ_DATA = {"type": "plugin", "name": "myst_nb_md"}


def toc_files(root: Path) -> list[str]:
    """Every document of _toc.yml, root first, as written there (no suffix)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return files


def execution_settings(root: Path) -> dict:
    config = yaml.safe_load((root / "_config.yml").read_text()) or {}
    return config.get("execute", {}) or {}


def executed_pages(root: Path, exclude_patterns: list[str]) -> list[Path]:
    """The notebooks that the build executes: MyST Markdown notebooks and .ipynb files."""
    pages = []
    for name in toc_files(root):
        for suffix in ("", ".md", ".ipynb"):
            path = root / f"{name}{suffix}"
            if path.is_file():
                break
        else:
            continue
        relative = path.relative_to(root).as_posix()
        if any(fnmatch.fnmatch(relative, pattern) for pattern in exclude_patterns):
            continue
        if path.suffix == ".ipynb" or is_myst_markdown_notebook(path.read_text(encoding="utf8")):
            pages.append(path)
    return pages


def register(cache, path: Path):
    """Add the page to the cache's project as myst-nb does; return its record's uri."""
    read_data = MYST_READ_DATA if path.suffix == ".md" else {"name": "nbformat", "type": "plugin"}
    return cache.add_nb_to_project(str(path.absolute()), read_data=read_data).uri


def last_seconds(cache) -> dict[str, float]:
    """The last recorded execution time of each page, whatever its code was then."""
    seconds = {}
    for record in sorted(cache.list_cache_records(), key=lambda r: r.created):
        if "execution_seconds" in (record.data or {}):
            seconds[record.uri] = record.data["execution_seconds"]
    return seconds


def execute_page(uri: str, page: str, notebook_json: str, timeout: int, allow_errors: bool) -> dict:
    """Run one notebook in a fresh kernel, in the page's folder (as myst-nb does)."""
    from jupyter_cache.executors.utils import single_nb_execution  # in the worker process

    print(f"Executing notebook: {page}", flush=True)
    notebook = nbformat.reads(notebook_json, as_version=4)
    result = single_nb_execution(notebook, cwd=str(Path(uri).parent), timeout=timeout,
                                 allow_errors=allow_errors, meta_override=True)
    error = None
    if result.err is not None:
        err = result.err
        error = (f"{err.ename}: {err.evalue}" if getattr(err, "ename", None)
                 else (str(err).strip().splitlines() or [type(err).__name__])[-1])
    return {"uri": uri, "notebook": nbformat.writes(result.nb), "seconds": result.time,
            "error": error, "traceback": result.exc_string}


def write_report(reports_dir: Path, root: Path, uri: str, text: str) -> Path:
    docname = Path(uri).relative_to(root.absolute()).with_suffix("")
    report = reports_dir / f"{docname.as_posix()}.err.log"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(text, encoding="utf8")
    return report


def default_jobs() -> int:
    return max(2, (os.cpu_count() or 1) // 2)  # as build-book.sh


def select(pages: list[Path], root: Path, hold: list[str], only: list[str]) -> list[Path]:
    """The pages of this run: those named by --only (all if none), less those held."""
    names = [path.relative_to(root).as_posix() for path in pages]
    for name in hold + only:
        if name not in names:
            sys.exit(f"error: {name} is not an executed page of this book ({', '.join(names)})")
    return [path for path, name in zip(pages, names)
            if name not in hold and (not only or name in only)]


def run(root: Path, cache_dir: Path, jobs: int, reports_dir: Path | None,
        hold: list[str] = (), only: list[str] = ()) -> list[dict]:
    settings = execution_settings(root)
    timeout = int(settings.get("timeout", 30))
    allow_errors = bool(settings.get("allow_errors", False))
    pages = select(executed_pages(root, settings.get("exclude_patterns", []) or []), root,
                   list(hold), list(only))
    cache = get_cache(str(cache_dir))
    rows, todo = [], []
    for path in pages:
        uri = register(cache, path)
        cached = cache.get_cached_project_nb(uri)
        if cached is not None:
            rows.append({"page": path.relative_to(root).as_posix(), "status": "cached",
                         "seconds": cached.data.get("execution_seconds", ""), "error": ""})
        else:
            todo.append((path, uri))
    previous = last_seconds(cache)
    todo.sort(key=lambda item: -previous.get(item[1], float("inf")))  # new pages first, then longest
    print(f"Pages: {len(pages)}; cached: {len(pages) - len(todo)}; to execute: {len(todo)} "
          f"with {jobs} job(s)", flush=True)

    # spawn: the workers inherit no open database connection; each only runs its kernel
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(todo) or 1)), mp_context=context) as pool:
        futures = {}
        for path, uri in todo:
            notebook = cache.get_project_notebook(uri).nb
            NbProjectRecord.remove_tracebacks([cache.get_project_record(uri).pk], cache.db)
            futures[pool.submit(execute_page, uri, path.relative_to(root).as_posix(),
                                nbformat.writes(notebook), timeout, allow_errors)] = (path, uri)
        for future in as_completed(futures):
            path, uri = futures[future]
            page = path.relative_to(root).as_posix()
            try:
                result = future.result()
            except Exception:  # the worker itself broke (not a cell error): keep why
                result = {"uri": uri, "seconds": 0.0, "error": "the executor failed",
                          "traceback": traceback.format_exc()}
            if result["error"] is None:
                cache.cache_notebook_bundle(
                    CacheBundleIn(nbformat.reads(result["notebook"], as_version=4), uri,
                                  data={"execution_seconds": result["seconds"]}),
                    check_validity=False, overwrite=True)
                print(f"  {page}: executed in {result['seconds']:.1f} s", flush=True)
                rows.append({"page": page, "status": "executed",
                             "seconds": round(result["seconds"], 1), "error": ""})
            else:
                NbProjectRecord.set_traceback(uri, result["traceback"], cache.db)
                print(f"  {page}: FAILED after {result['seconds']:.1f} s: {result['error']}\n"
                      f"{result['traceback']}", flush=True)
                if reports_dir is not None:
                    report = write_report(reports_dir, root, uri, result["traceback"])
                    print(f"  traceback saved in: {report}", flush=True)
                rows.append({"page": page, "status": "failed",
                             "seconds": round(result["seconds"], 1), "error": result["error"]})
    order = {path.relative_to(root).as_posix(): i for i, path in enumerate(pages)}
    return sorted(rows, key=lambda row: order[row["page"]])


def print_times(rows: list[dict], wall: float) -> None:
    print("Per-page execution times (s):")
    for row in rows:
        seconds = f"{row['seconds']:8.1f}" if row["seconds"] != "" else "       ?"
        print(f"  {seconds}  {row['status']:<8}  {row['page']}")
    ran = [row["seconds"] for row in rows if row["status"] != "cached"]
    print(f"  executed {len(ran)} page(s) in {wall:.1f} s wall time "
          f"({sum(ran):.1f} s of page time)", flush=True)


def write_times(path: Path, rows: list[dict], merge: bool) -> None:
    """Write the rows; with merge, keep the file's rows for the pages this run left alone."""
    if merge and path.is_file():
        with path.open(newline="") as handle:
            earlier = list(csv.DictReader(handle))
        ours = {row["page"]: row for row in rows}
        rows = [ours.pop(row["page"], row) for row in earlier] + list(ours.values())
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["page", "status", "seconds", "error"])
        writer.writeheader()
        writer.writerows(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cache_dir", type=Path)
    parser.add_argument("--jobs", type=int, default=default_jobs(),
                        help="pages executed at once (default: one per 2 CPU cores, at least 2)")
    parser.add_argument("--times", type=Path, help="write per-page status and times to this CSV")
    parser.add_argument("--reports", type=Path, help="folder for the tracebacks of failed pages")
    parser.add_argument("--hold", action="append", default=[], metavar="PAGE",
                        help="leave this page (path from the book's root) out of this run")
    parser.add_argument("--only", action="append", default=[], metavar="PAGE",
                        help="run only this page; its row replaces its row in --times")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    start = time.monotonic()
    rows = run(Path.cwd(), args.cache_dir, args.jobs, args.reports, args.hold, args.only)
    print_times(rows, time.monotonic() - start)
    if args.times:
        write_times(args.times, rows, merge=bool(args.only))
    failed = [row["page"] for row in rows if row["status"] == "failed"]
    if failed:
        sys.exit(f"error: {len(failed)} page(s) failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
