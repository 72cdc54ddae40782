"""The book's code fits the rendered page: no code line wider than MAX_WIDTH characters.

The book's theme shows code cells in a box about 90 characters wide; a longer line makes the
whole cell scroll sideways. The check reads the code cells of chapters/*.md (MyST notebooks) and
of the assignment notebooks, which are book pages too (exercises/, the release) and the source of
them (solutions/); it needs no build. The cell header (```{code-cell}), its options and its YAML
metadata block (the figure's alt text, which is never shown as code) are left out.
"""
import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = sorted((REPO / "chapters").glob("*.md"))
NOTEBOOKS = sorted(REPO.glob("exercises/*/*.ipynb")) + sorted(REPO.glob("solutions/*/*.ipynb"))
MAX_WIDTH = 90

_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
_YAML_BLOCK = re.compile(r"\A---\n.*?^---\n", re.MULTILINE | re.DOTALL)
_OPTION_LINES = re.compile(r"\A(?:[ \t]*:[\w-]+:.*\n)+")


def code_lines(page_text):
    """(line number in the page, line) for every line of code in the page's code cells."""
    for cell in _CELL.finditer(page_text):
        body = cell.group(1)
        start = page_text.count("\n", 0, cell.start(1)) + 1
        header = _YAML_BLOCK.match(body) or _OPTION_LINES.match(body)
        skipped = header.end() if header else 0
        first = start + body.count("\n", 0, skipped)
        for offset, line in enumerate(body[skipped:].splitlines()):
            yield first + offset, line


def test_the_pages_have_code_cells():
    """Guards the pattern below: if it stopped matching, the width test would pass vacuously."""
    assert PAGES, "no chapters/*.md found"
    counts = {page.name: sum(1 for _ in _CELL.finditer(page.read_text())) for page in PAGES}
    assert sum(counts.values()) > 50, counts


def test_code_lines_skip_cell_metadata():
    page = ("text\n```{code-cell} ipython3\n---\nmystnb:\n  image:\n    alt: " + "x" * 120 +
            "\n---\nshort = 1\n```\n\n```{code-cell} ipython3\n:tags: [hide-input]\n\n"
            "y = 2\n```\n")
    assert [line for _, line in code_lines(page)] == ["short = 1", "", "y = 2"]
    assert [number for number, _ in code_lines(page)] == [8, 13, 14]


@pytest.mark.parametrize("page", PAGES, ids=[page.stem for page in PAGES])
def test_code_lines_fit_the_page(page):
    too_wide = [f"{page.name}:{number}: {len(line)} characters"
                for number, line in code_lines(page.read_text()) if len(line) > MAX_WIDTH]
    assert not too_wide, (f"code lines wider than {MAX_WIDTH} characters (they scroll sideways "
                          "in the book):\n" + "\n".join(too_wide))


def test_the_assignment_notebooks_are_found():
    assert {p.parent.parent.name for p in NOTEBOOKS} == {"exercises", "solutions"}
    assert len(NOTEBOOKS) >= 6, NOTEBOOKS


@pytest.mark.parametrize("notebook", NOTEBOOKS,
                         ids=[p.relative_to(REPO).as_posix() for p in NOTEBOOKS])
def test_assignment_code_lines_fit_the_page(notebook):
    cells = nbformat.read(notebook, as_version=4).cells
    too_wide = [f"{notebook.relative_to(REPO)}: cell {index}: {len(line)} characters: {line[:60]}"
                for index, cell in enumerate(cells) if cell.cell_type == "code"
                for line in cell.source.splitlines() if len(line) > MAX_WIDTH]
    assert not too_wide, (f"code lines wider than {MAX_WIDTH} characters:\n" + "\n".join(too_wide))
