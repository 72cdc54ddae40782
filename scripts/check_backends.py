"""Run the quick book and the assignment solutions on each Keras backend; write a table.

    python scripts/check_backends.py [--backends tensorflow,jax,torch] [--jobs N] [--out results/backends.md]

Started by scripts/check-backends.sh, which prepares the environment (a virtual environment
with TensorFlow, JAX and PyTorch, and the kernels' offline datasets). For each backend:
- the quick profile is built with `KERAS_BACKEND=<backend> bash scripts/build-book.sh`
  (its own cache under _build/profiles/quick[-<backend>]/); each page either ran, or the
  table gives its exact error; a page that ran but wrote warnings to stderr lists them;
- each solutions/<name>/<name>.ipynb (solutions, visible and hidden tests) runs top to
  bottom with every cell tried; it passes when no cell raised, else the table names the
  failing cells and their errors.
Each backend's results are kept in _build/backends/<backend>.json as soon as it is done, and
the table shows every backend found there: `--backends jax` reruns one column, keeping the others.
The table goes to --out (Markdown) and to the console.
"""
import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from check_stderr import unexpected_stderr  # noqa: E402

BACKENDS = ("tensorflow", "jax", "torch")


def code(text: str) -> str:
    """Markdown code span for a message that may itself hold backticks; table-safe."""
    text = text.replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def build_name(backend: str) -> str:
    return "quick" if backend == "tensorflow" else f"quick-{backend}"


def build_book(backend: str, jobs: int, log_dir: Path) -> tuple[int, float]:
    env = dict(os.environ, KERAS_BACKEND=backend, COURSE_PROFILE="quick")
    env.pop("RESULTS_DIR", None)  # each backend writes its own _build/results/quick[-backend]
    log = log_dir / f"build-{backend}.log"
    start = time.monotonic()
    with log.open("w") as handle:
        status = subprocess.run(["bash", str(REPO / "scripts" / "build-book.sh"), "--jobs", str(jobs)],
                                env=env, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT).returncode
    return status, time.monotonic() - start


def page_times(out: Path) -> list[dict]:
    """The rows of a build folder's page-times.csv (page, status, seconds, error); none if absent."""
    times = out / "page-times.csv"
    if not times.exists():
        return []
    with times.open() as handle:
        return list(csv.DictReader(handle))


def page_results(out: Path) -> dict[str, str]:
    """Page -> 'ran (N s)', or its error, from a build folder; stderr lines a page wrote are added."""
    results = {}
    for row in page_times(out):
        if row["status"] == "failed":
            results[row["page"]] = f"**fails**: {code(row['error'])}"
        else:
            seconds = f" ({float(row['seconds']):.0f} s)" if row["seconds"] else ""
            results[row["page"]] = f"ran{seconds}"
    cache = out / "_build" / ".jupyter_cache"
    if cache.exists():
        warnings = {}
        for uri, _, line in unexpected_stderr(str(cache)):
            page = Path(uri).relative_to(out.parents[2]).as_posix()  # <book>/_build/profiles/<name>
            warnings.setdefault(page, []).append(line.strip())
        for page, lines in warnings.items():
            if page in results and results[page].startswith("ran"):
                results[page] += f"; stderr: {code(lines[0][:160])}" + (f" (+{len(lines) - 1} lines)" if len(lines) > 1 else "")
    return results


def reuse_note(out: Path) -> str:
    """How many pages this build took from jupyter-cache (unchanged since an earlier build):
    their times in the table are those of the build that executed them."""
    cached = sum(row["status"] == "cached" for row in page_times(out))
    return f"; {cached} page(s) unchanged since an earlier build, taken from its cache" if cached else ""


def cell_errors(notebook) -> list[str]:
    errors = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                name = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell {index}")
                value = " ".join(output.get("evalue", "").split())[:200]
                errors.append(f"{name}: {output.get('ename')}: {value}")
    return errors


def run_solution(source: Path, backend: str, timeout: int) -> tuple[list[str], float]:
    """Every cell of the solution notebook, errors allowed, in a scratch copy of its folder."""
    env_before = dict(os.environ)
    os.environ.update(KERAS_BACKEND=backend, COURSE_PROFILE="quick")
    try:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch) / source.parent.name
            shutil.copytree(source.parent, folder)
            notebook = nbformat.read(folder / source.name, as_version=4)
            start = time.monotonic()
            NotebookClient(notebook, timeout=timeout, allow_errors=True, kernel_name="python3",
                           resources={"metadata": {"path": str(folder)}}).execute()
            return cell_errors(notebook), time.monotonic() - start
    finally:
        os.environ.clear()
        os.environ.update(env_before)


def versions() -> str:
    found = []
    for module in ("keras", "tensorflow", "jax", "torch"):
        try:
            found.append(f"{module} {__import__(module).__version__}")
        except ImportError:
            found.append(f"{module} (not installed)")
    return ", ".join(found)


def save(log_dir: Path, backend: str, result: dict) -> None:
    result = dict(result, date=date.today().isoformat(), versions=versions())
    (log_dir / f"{backend}.json").write_text(json.dumps(result, indent=1))


def load_all(log_dir: Path) -> dict:
    found = {}
    for backend in BACKENDS:
        path = log_dir / f"{backend}.json"
        if path.exists():
            found[backend] = json.loads(path.read_text())
    return found


def write_table(out: Path, results: dict) -> str:
    backends = list(results)
    pages = {b: r["pages"] for b, r in results.items()}
    solutions = {b: r["solutions"] for b, r in results.items()}
    builds = {b: r["build"] for b, r in results.items()}
    dates = sorted({r["date"] for r in results.values()})
    when = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
    names = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}
    header = "| | " + " | ".join(names[b] for b in backends) + " |"
    rule = "| --- |" + " --- |" * len(backends)
    lines = [
        "# Keras backends: what runs",
        "",
        f"Written by `bash scripts/check-backends.sh` ({when}), "
        f"on {platform.machine()} CPUs ({os.cpu_count()} cores), with {'; '.join(sorted({r['versions'] for r in results.values()}))}. "
        "Pages: the quick profile (`COURSE_PROFILE=quick`), built with `KERAS_BACKEND` set; "
        "'ran' gives the page's execution time. Solutions: each reference solution in `solutions/` "
        "with its visible and hidden tests, every cell tried; 'passes' means no cell raised. "
        "'not run': that run did not reach it (see its last row).",
        "",
        header, rule,
    ]
    all_pages = sorted({p for b in backends for p in pages.get(b, {})},
                       key=lambda p: min(list(pages.get(b, {})).index(p) for b in backends if p in pages.get(b, {})))
    for page in all_pages:
        lines.append(f"| `{page}` | " + " | ".join(pages.get(b, {}).get(page, "not run") for b in backends) + " |")
    for name in sorted({n for b in backends for n in solutions.get(b, {})}):
        lines.append(f"| solution `{name}` | " + " | ".join(solutions.get(b, {}).get(name, "not run")
                                                        for b in backends) + " |")
    lines.append("| whole quick build | " + " | ".join(builds.get(b, "not run") for b in backends) + " |")
    text = "\n".join(lines) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--jobs", type=int, default=max(2, (os.cpu_count() or 1) // 2))
    parser.add_argument("--solutions", default="", help="comma-separated names (default: all)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per solution cell")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "backends.md")
    parser.add_argument("--pages-from", type=Path, metavar="BUILD_DIR",
                        help="take the pages' results from this earlier quick build of the same code "
                             "and backend (a _build/profiles/<name> folder) instead of building again")
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    names = [n for n in args.solutions.split(",") if n] or sorted(
        p.name for p in (REPO / "solutions").iterdir() if (p / f"{p.name}.ipynb").exists())
    log_dir = REPO / "_build" / "backends"
    log_dir.mkdir(parents=True, exist_ok=True)
    for backend in backends:
        if args.pages_from:
            print(f"==> {backend}: pages from the build in {args.pages_from}", flush=True)
            build, pages = "not rebuilt here (pages from an earlier build)", page_results(args.pages_from)
        else:
            print(f"==> {backend}: quick build", flush=True)
            status, seconds = build_book(backend, args.jobs, log_dir)
            out = REPO / "_build" / "profiles" / build_name(backend)
            build = (f"passes ({seconds:.0f} s, {args.jobs} job(s){reuse_note(out)})" if status == 0
                     else f"**fails** (exit {status}; log `_build/backends/build-{backend}.log`)")
            pages = page_results(out)
        for page, result in pages.items():
            print(f"  {page}: {result}", flush=True)
        solutions = {}
        for name in names:
            print(f"==> {backend}: solution {name}", flush=True)
            errors, seconds = run_solution(REPO / "solutions" / name / f"{name}.ipynb", backend, args.timeout)
            solutions[name] = (f"passes ({seconds:.0f} s)" if not errors else
                               "**fails**: " + "; ".join(code(e) for e in errors))
            print(f"  {name}: {solutions[name]}", flush=True)
        save(log_dir, backend, {"pages": pages, "solutions": solutions, "build": build})
    print(write_table(args.out, load_all(log_dir)))
    print(f"Table written to {args.out}")


if __name__ == "__main__":
    main()
