"""The build pipeline itself, on tiny books: profiles, caching, failure, and repo hygiene."""
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import REPO, page_text

PAGE_HEADER = textwrap.dedent("""\
    ---
    jupytext:
      text_representation:
        extension: .md
        format_name: myst
    kernelspec:
      display_name: Python 3
      language: python
      name: python3
    ---
    """)


def tiny_book(root: Path, page_code: str, extra_cells: str = "") -> Path:
    """A one-page book with the real _config.yml and bibliography."""
    root.mkdir(parents=True)
    for name in ("_config.yml", "references.bib"):
        shutil.copy(REPO / name, root / name)
    # _config.yml loads the offline-MathJax extension from there
    shutil.copytree(REPO / "scripts" / "publish", root / "scripts" / "publish")
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: chapters/page\n")
    (root / "intro.md").write_text("# Tiny book\n")
    (root / "chapters").mkdir()
    (root / "chapters" / "page.md").write_text(
        PAGE_HEADER + "\n# Page\n\n```{code-cell} ipython3\n" + page_code + "\n```\n" + extra_cells)
    return root


def build(book: Path, env: dict, profile: str):
    env = dict(env, BOOK_DIR=str(book), COURSE_PROFILE=profile,
               RESULTS_DIR=str(book / "_build" / "results" / profile))
    return subprocess.run(["bash", str(REPO / "scripts" / "build-book.sh")], env=env,
                          capture_output=True, text=True)


def executed(result) -> int:
    return sum("Executing notebook" in line for line in result.stdout.splitlines())


PROFILE_PAGE = 'import os\nprint(f"Built with the {os.environ.get(\'COURSE_PROFILE\', \'full\')!r} profile")'


@pytest.mark.slow
def test_profiles_keep_separate_caches_quick_full_quick(tmp_path, offline_env):
    book = tiny_book(tmp_path / "book", PROFILE_PAGE)
    page = book / "_build" / "html" / "chapters" / "page.html"
    for step, (profile, runs) in enumerate([("quick", 1), ("full", 1), ("quick", 0)]):
        result = build(book, offline_env, profile)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        shown = set(re.findall(r"Built with the '(\w+)' profile", page_text(page)))
        assert shown == {profile}, f"step {step}: the page says {shown}, not {profile!r}"
        assert executed(result) == runs, f"step {step} ({profile}): executed {executed(result)} notebooks"


@pytest.mark.slow
def test_a_failing_cell_fails_the_build_and_keeps_its_traceback(tmp_path, offline_env):
    book = tiny_book(tmp_path / "broken", "print('fine so far')",
                     "\n```{code-cell} ipython3\nraise RuntimeError('deliberate failure')\n```\n")
    result = build(book, offline_env, "quick")
    assert result.returncode != 0, "a notebook with a failing cell built successfully"
    reports = list((book / "_build").rglob("reports/**/*.err.log"))
    assert reports, "no traceback report was kept"
    assert "deliberate failure" in "".join(r.read_text() for r in reports)


@pytest.mark.slow
def test_cells_tagged_raises_exception_are_allowed(tmp_path, offline_env):
    book = tiny_book(tmp_path / "expected-error", PROFILE_PAGE,
                     "\n```{code-cell} ipython3\n:tags: [raises-exception]\n\n1 / 0\n```\n")
    result = build(book, offline_env, "quick")
    assert result.returncode == 0, result.stdout[-3000:]


def real_setup_cell(page_name: str) -> str:
    """The chapters' set-up cell (the same on every page), for a tiny book's page."""
    text = (REPO / "chapters" / "guidelines.md").read_text()
    cell = re.search(r"^```\{code-cell\}[^\n]*\n:tags: \[hide-input\]\n\n(.*?)^```", text,
                     re.MULTILINE | re.DOTALL).group(1)
    return cell.replace('PAGE = "guidelines"', f'PAGE = "{page_name}"').rstrip("\n")


CONTRADICTED = textwrap.dedent("""
    <!-- claim: bn_ahead_at_20 --> BN ends ahead of the plain network at 20 layers.

    ```{code-cell} ipython3
    :tags: [remove-input]

    claim("bn_ahead_at_20", compare([0.76, 0.77], [0.83, 0.77]).ahead, bn=[0.76, 0.77])
    ```
    """)


def claims_of(book: Path, profile: str) -> list[dict]:
    import csv
    with (book / "_build" / "results" / profile / "claims.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_a_contradicted_claim_fails_the_full_build_and_is_reported_by_the_quick_one(
        tmp_path, offline_env):
    book = tiny_book(tmp_path / "claims", real_setup_cell("page"), CONTRADICTED)
    full = build(book, offline_env, "full")
    assert full.returncode != 0, "a page whose data contradict its prose built in full"
    reports = "".join(r.read_text() for r in (book / "_build").rglob("reports/**/*.err.log"))
    assert "ClaimContradicted" in reports and "bn_ahead_at_20: DOES NOT HOLD" in reports
    assert "FALSE (full profile): page: bn_ahead_at_20" in full.stdout
    assert [(r["claim"], r["holds"]) for r in claims_of(book, "full")] == [
        ("bn_ahead_at_20", "False")]

    quick = build(book, offline_env, "quick")
    assert quick.returncode == 0, quick.stdout[-3000:] + quick.stderr[-3000:]
    assert "claims: 1 checked, 0 true, 1 false" in quick.stdout
    assert "FALSE (quick profile): page: bn_ahead_at_20" in quick.stdout
    assert [(r["claim"], r["holds"]) for r in claims_of(book, "quick")] == [
        ("bn_ahead_at_20", "False")]
    shown = page_text(book / "_build" / "html" / "chapters" / "page.html")
    assert "claim bn_ahead_at_20: DOES NOT HOLD on this run's data (quick profile)" in shown


@pytest.mark.slow
def test_a_warning_printed_to_stdout_fails_the_build(tmp_path, offline_env):
    book = tiny_book(tmp_path / "warning", PROFILE_PAGE + "\nprint('WARNING:tensorflow:5 out "
                     "of the last 5 calls to <function f> triggered tf.function retracing.')")
    result = build(book, offline_env, "quick")
    assert result.returncode != 0, "a page that printed a TensorFlow warning built"
    assert "stdout: WARNING:tensorflow:5 out of the last 5 calls" in result.stdout
    assert "1 warning line(s) in executed pages" in result.stderr


# Each page announces itself, then waits (up to a minute) for the other page to start: both
# can finish only if they run at the same time, so the build passes only with real parallelism.
RENDEZVOUS = textwrap.dedent("""\
    import time
    from pathlib import Path
    Path("started-{me}").touch()
    deadline = time.monotonic() + 60
    while not Path("started-{other}").exists():
        assert time.monotonic() < deadline, "the other page never started: pages ran one at a time"
        time.sleep(0.2)
    print("{me} ran beside {other}")""")


@pytest.mark.slow
def test_jobs_run_pages_at_once_into_the_cache_the_build_reads(tmp_path, offline_env):
    book = tiny_book(tmp_path / "two-pages", RENDEZVOUS.format(me="page", other="other"))
    (book / "chapters" / "other.md").write_text(
        PAGE_HEADER + "\n# Other\n\n```{code-cell} ipython3\n"
        + RENDEZVOUS.format(me="other", other="page") + "\n```\n")
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n"
                                   "  - file: chapters/page\n  - file: chapters/other\n")
    env = dict(offline_env, BOOK_DIR=str(book), RESULTS_DIR=str(book / "_build" / "results"))
    result = subprocess.run(["bash", str(REPO / "scripts" / "build-book.sh"), "--jobs", "2"], env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert "Executing notebook: chapters/page.md" in lines and "Executing notebook: chapters/other.md" in lines
    assert executed(result) == 2, "jupyter-book executed a page that was already executed into the cache"
    assert re.search(r"^\s+[\d.]+\s+executed\s+chapters/other\.md$", result.stdout, re.MULTILINE), \
        "no per-page time printed"
    times = (book / "_build" / "profiles" / "quick" / "page-times.csv").read_text().splitlines()
    assert sorted(line.split(",")[:2] for line in times[1:]) == [["chapters/other.md", "executed"],
                                                                ["chapters/page.md", "executed"]]
    assert "page ran beside other" in page_text(book / "_build" / "html" / "chapters" / "page.html")


def test_jobs_must_be_a_positive_number(offline_env):
    result = subprocess.run(["bash", str(REPO / "scripts" / "build-book.sh"), "--jobs", "0"],
                            env=offline_env, capture_output=True, text=True)
    assert result.returncode == 2 and "--jobs takes a positive number" in result.stderr


def test_the_pages_executed_ahead_are_the_books_notebooks():
    sys.path.insert(0, str(REPO / "scripts"))
    import execute_pages
    settings = execute_pages.execution_settings(REPO)
    pages = [p.relative_to(REPO).as_posix()
             for p in execute_pages.executed_pages(REPO, settings["exclude_patterns"])]
    chapters = [f"{name}.md" for name in execute_pages.toc_files(REPO) if name.startswith("chapters/")]
    assert pages == chapters  # intro.md is no notebook; exercises/ are excluded from execution


def test_kernels_cannot_import_nbgrader_as_in_colab(offline_env):
    ipython = Path(sys.executable).parent / "ipython"
    result = subprocess.run([str(ipython), "-c", "import nbgrader"], env=offline_env,
                            capture_output=True, text=True)
    assert "No module named 'nbgrader'" in result.stdout + result.stderr


@pytest.mark.parametrize("path", ["submitted/alice/schedules/schedules.ipynb",
                                  "autograded/alice/schedules/schedules.ipynb",
                                  "feedback/alice/schedules/schedules.html",
                                  "gradebook.db", "grades.csv", "grading-report/index.html",
                                  "exercises/submitted/x.ipynb",
                                  "downloaded/schedules/archive/alice--schedules.ipynb"])
def test_gitignore_keeps_grading_work_out_of_git(path):
    result = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO)
    assert result.returncode == 0, f"{path} is not ignored by .gitignore"


def test_release_and_source_notebooks_are_not_ignored():
    for path in ["exercises/schedules/schedules.ipynb", "solutions/schedules/schedules.ipynb",
                 "chapters/vanishing_gradients.ipynb"]:
        assert subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO).returncode == 1, path


def test_held_and_only_pages_let_the_results_page_run_last(tmp_path):
    """The full build runs every page but the results page, then that page alone: the
    selection, the refusal of an unknown page and the merged times file."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import execute_pages
    finally:
        sys.path.pop(0)
    pages = [tmp_path / "chapters" / f"{name}.md" for name in ("a", "b", "results")]
    first = execute_pages.select(pages, tmp_path, hold=["chapters/results.md"], only=[])
    assert [p.name for p in first] == ["a.md", "b.md"]
    last = execute_pages.select(pages, tmp_path, hold=[], only=["chapters/results.md"])
    assert [p.name for p in last] == ["results.md"]
    with pytest.raises(SystemExit, match="not an executed page"):
        execute_pages.select(pages, tmp_path, hold=["chapters/result.md"], only=[])

    times = tmp_path / "page-times.csv"
    execute_pages.write_times(times, [
        {"page": "chapters/a.md", "status": "executed", "seconds": 10, "error": ""},
        {"page": "chapters/b.md", "status": "executed", "seconds": 20, "error": ""}], merge=False)
    execute_pages.write_times(times, [
        {"page": "chapters/results.md", "status": "executed", "seconds": 3, "error": ""}],
        merge=True)
    rows = times.read_text().splitlines()
    assert rows == ["page,status,seconds,error", "chapters/a.md,executed,10,",
                    "chapters/b.md,executed,20,", "chapters/results.md,executed,3,"]
