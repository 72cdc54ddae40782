"""The notebooks a student opens in Colab (chapters/*.ipynb): generated from the pages, plain
Markdown without MyST, and, run outside the book, they print every value that their prose names."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REPO
from grading import runtime

sys.path.insert(0, str(REPO / "scripts"))
import colab_notebooks  # noqa: E402  (scripts/colab_notebooks.py)

PAGES = sorted((REPO / "chapters").glob("*.md"))
MYST = re.compile(r"\{(?:glue|cite|doc|ref|numref|eq)[:\w]*\}`|^(?:```|:::)\{|^:class:", re.MULTILINE)
BOLD_NAME = re.compile(r"\*\*⟨([A-Za-z_]\w*)⟩\*\*")
GLUE_CALL = re.compile(r"\bglue\(\s*(f?)([\"'])(.*?)\2")


def notebook(page: Path) -> nbformat.NotebookNode:
    return nbformat.read(page.with_suffix(".ipynb"), as_version=4)


def markdown(nb) -> str:
    return "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_each_notebook_is_what_its_page_gives(page):
    bib = colab_notebooks.Bibliography(REPO / "references.bib")
    wanted = nbformat.writes(colab_notebooks.colab_notebook(page, bib, colab_notebooks.site_url()))
    assert page.with_suffix(".ipynb").read_text(encoding="utf8") == wanted + "\n", \
        f"{page.with_suffix('.ipynb').name} is out of date: run python scripts/colab_notebooks.py"
    nb = notebook(page)
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_no_myst_reaches_colab(page):
    text = markdown(notebook(page))
    leftovers = sorted(set(m.group(0) for m in MYST.finditer(text)))
    assert not leftovers, f"{page.stem}.ipynb shows raw MyST in Colab: {leftovers}"
    note = notebook(page).cells[1].source
    site = colab_notebooks.site_url()
    assert f"({site}chapters/{page.stem}.html)" in note, "no link to the book's page"


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_every_name_in_the_text_is_printed_by_a_glue_call(page):
    """The prose names glued values in bold; outside the book glue() prints `name: value`, so
    each name must be glued by the notebook's own code."""
    nb = notebook(page)
    code = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    patterns = [re.compile(".+".join(map(re.escape, re.split(r"\{[^}]*\}", name))) + r"\Z")
                if is_f else re.compile(re.escape(name) + r"\Z")
                for is_f, _, name in GLUE_CALL.findall(code)]
    named = set(BOLD_NAME.findall(markdown(nb)))
    missing = sorted(name for name in named if not any(p.match(name) for p in patterns))
    assert not missing, f"{page.stem}: named in the text but glued nowhere: {missing}"


def test_citations_references_links_and_answers_read_as_plain_markdown():
    text = markdown(notebook(REPO / "chapters" / "exercises.md"))
    answers = (REPO / "chapters" / "exercises.md").read_text().count(":::{admonition} Answer")
    assert answers >= 18  # questions 1 to 18, each with its answer
    assert text.count("<details>") == text.count("</details>") == answers
    assert "<summary>Answer</summary>" in text
    assert "(Klambauer et al., 2017)" in text  # {cite:p}
    assert "- Günter Klambauer, Thomas Unterthiner" in text  # the page's reference list
    site = colab_notebooks.site_url()
    assert f"]({site}exercises/schedules/schedules.html)" in text  # {doc}
    activations = markdown(notebook(REPO / "chapters" / "activations.md"))
    assert "Glorot and Bengio (2010)" in activations  # {cite:t}, two authors
    assert "**⟨selu_slope⟩**" in activations


def test_a_role_without_a_colab_form_is_an_error(tmp_path):
    bib = colab_notebooks.Bibliography(REPO / "references.bib")
    with pytest.raises(SystemExit, match=r"no Colab form for the MyST syntax"):
        colab_notebooks.colab_markdown("See {ref}`a-label`.", tmp_path / "page.md", bib,
                                       "https://example.org/", [])


def test_the_check_mode_changes_nothing_and_reports_stale_notebooks(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "colab_notebooks.py"),
                             "--check"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "stale: 0 notebook(s)" in result.stdout


# --- run as in Colab ----------------------------------------------------------------------

# Colab has no myst_nb: a notebook run here takes the same path as there.
NO_MYST_NB = runtime.hide_module("myst_nb")


@pytest.fixture(scope="module")
def colab_kernel_env(offline_env, tmp_path_factory):
    """The tests' kernel environment (offline datasets, no nbgrader) without myst_nb, and
    without the book build's COURSE_BOOK_BUILD: a kernel like Colab's."""
    ipython = tmp_path_factory.mktemp("colab-ipython")
    shutil.copytree(offline_env["IPYTHONDIR"], ipython, dirs_exist_ok=True)
    (ipython / "profile_default" / "startup" / "02-no-myst-nb.py").write_text(NO_MYST_NB)
    env = dict(offline_env, IPYTHONDIR=str(ipython), COURSE_PROFILE="quick")
    env.pop("COURSE_BOOK_BUILD", None)
    env.pop("RESULTS_DIR", None)
    return env


def run_alone(page: str, env: dict, folder: Path) -> nbformat.NotebookNode:
    """The committed notebook copied alone into an empty folder and run there, as Colab does."""
    folder.mkdir()
    copy = folder / f"{page}.ipynb"
    shutil.copy(REPO / "chapters" / f"{page}.ipynb", copy)
    nb = nbformat.read(copy, as_version=4)
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)   # the kernel inherits this process's environment
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return nb


def stdout_lines(nb) -> list[str]:
    return [line for cell in nb.cells for output in cell.get("outputs", [])
            if output.get("output_type") == "stream" and output.get("name") == "stdout"
            for line in output["text"].splitlines()]


@pytest.mark.slow
def test_a_chapter_run_outside_the_book_prints_every_value_its_text_names(colab_kernel_env,
                                                                          tmp_path):
    nb = run_alone("exercises", colab_kernel_env, tmp_path / "alone")
    lines = stdout_lines(nb)
    named = set(BOLD_NAME.findall(markdown(nb)))
    assert len(named) > 20
    missing = sorted(name for name in named
                     if not any(line.startswith(f"{name}: ") for line in lines))
    assert not missing, f"named in the text, never printed: {missing}"
    mime = {key for cell in nb.cells for output in cell.get("outputs", [])
            for key in output.get("data", {})}
    assert not any("papermill" in key for key in mime), "myst_nb's glue ran: not as in Colab"
    assert any(line.startswith("claim glorot_curve_falls: holds") for line in lines)


@pytest.mark.slow
def test_the_results_notebook_alone_says_where_the_results_are(colab_kernel_env, tmp_path):
    nb = run_alone("results", colab_kernel_env, tmp_path / "alone")
    text = "\n".join(stdout_lines(nb))
    assert "no results beside this notebook" in text and "clone the" in text
    assert "the full profile has not been run yet" not in text
