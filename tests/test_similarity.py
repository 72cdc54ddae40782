"""grading/similarity.py on the course's own answers: a copy with every name changed and a copy
with its functions and independent statements reordered are flagged with their original; the
independent correct solutions of tests/submissions/<assignment>/correct_*.py (different styles)
and the reference solutions are not flagged against one another.

A variant file lists the solution cells its student wrote; in a real notebook the other cells
would hold that student's own code, so only the written cells are compared here (the reference's
code in them would make every variant look like the reference)."""
import ast
import functools
import io
import re
import tokenize

import nbformat
import pytest

from helpers.course import solution_sources
from helpers.variants import read_variant
from conftest import REPO
from grading.similarity import (THRESHOLD, code_cells, csv_rows, find_similar, read_answers,
                                release_code, to_html)

ASSIGNMENTS = ("schedules", "initializers", "cifar10")
CHAPTERS = sorted((REPO / "chapters").glob("*.md"))


@functools.cache
def excluded(assignment: str) -> list[str]:
    return [*release_code(REPO / "exercises" / assignment / f"{assignment}.ipynb"), *map(code_cells, CHAPTERS)]


def written_answers(assignment: str) -> dict[str, dict[str, str]]:
    """name -> {grade_id: code} of the reference and of every correct variant, code cells only."""
    release = nbformat.read(REPO / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)
    code_ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in release.cells if c.cell_type == "code"}
    answers = {"reference": {k: v for k, v in solution_sources(REPO, assignment).items() if k in code_ids}}
    for path in sorted((REPO / "tests" / "submissions" / assignment).glob("correct_*.py")):
        cells = {k: v for k, v in read_variant(path)[0].items() if k in code_ids}
        if cells:
            answers[path.stem] = cells
    return answers


def joined(cells: dict[str, str]) -> str:
    return "\n".join(cells.values()) + "\n"


# ------------------------------------------------------------------------------ copies, as a student makes them
def renamed(code: str) -> str:
    """Every name the code defines (functions, classes, arguments, variables) renamed in place,
    layout and comments kept: what search-and-replace in an editor does."""
    tree = ast.parse(code)
    own = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    own |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    own |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    own -= {"self", "cls"}
    tokens = [t._replace(string=f"my_{t.string[::-1]}") if t.type == tokenize.NAME and t.string in own else t
              for t in tokenize.generate_tokens(io.StringIO(code).readline)]
    return tokenize.untokenize(tokens)


def _stores(node) -> set[str]:
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return names | ({node.name} if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else set())


def _loads(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _swapped(lines: list[str], body: list) -> list[str]:
    """`lines` with adjacent statements of `body` swapped wherever neither uses what the other
    defines (the program does the same); each statement keeps its own lines and comments."""
    spans = []
    for i, st in enumerate(body):
        start = min([st.lineno] + [d.lineno for d in getattr(st, "decorator_list", [])]) - 1
        spans.append([spans[-1][1] if i else start, st.end_lineno])
    order, i = list(range(len(body))), 0
    movable = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.FunctionDef, ast.ClassDef,
               ast.Import, ast.ImportFrom)
    while i + 1 < len(body):
        a, b = body[i], body[i + 1]
        if isinstance(a, movable) and isinstance(b, movable) and not (_stores(a) & (_loads(b) | _stores(b))) \
                and not (_stores(b) & _loads(a)):
            order[i], order[i + 1] = i + 1, i
            i += 2
        else:
            i += 1
    first, last = spans[0][0], spans[-1][1]
    return lines[:first] + [line for j in order for line in lines[spans[j][0]:spans[j][1]]] + lines[last:]


def reordered(code: str) -> str:
    """Independent statements swapped inside every top-level function, then top-level statements
    (functions, classes) swapped the same way."""
    lines = code.splitlines(keepends=True)
    for st in ast.parse(code).body:
        body = [s for s in getattr(st, "body", []) if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        if isinstance(st, ast.FunctionDef) and len(body) > 1:
            lines = _swapped(lines, body)  # same line count: the other statements keep their lines
    tree = ast.parse("".join(lines))
    return "".join(_swapped(lines, tree.body) if len(tree.body) > 1 else lines)


def test_copies_keep_behaviour_but_change_text():
    code = joined(written_answers("schedules")["correct_functional"])
    for copy in (renamed(code), reordered(code)):
        ast.parse(copy)
        assert copy != code and sorted(copy.split()) != sorted(code.split()) or copy != code
    assert "my_" in renamed(code) and sorted(reordered(code).splitlines()) == sorted(code.splitlines())


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_independent_correct_solutions_are_not_flagged(assignment):
    answers = {name: joined(cells) for name, cells in written_answers(assignment).items()}
    assert len(answers) >= 6
    result = find_similar(answers, excluded(assignment))
    assert result.pairs == [] and result.clusters == []
    assert result.compared == len(answers), result.too_short


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_renamed_and_reordered_copies_are_flagged(assignment):
    written = written_answers(assignment)
    answers = {name: joined(cells) for name, cells in written.items()}
    originals = ["reference", sorted(n for n in written if n != "reference")[0]]
    for name in originals:
        answers[f"{name}-renamed"] = joined({k: renamed(v) for k, v in written[name].items()})
        answers[f"{name}-reordered"] = joined({k: reordered(v) for k, v in written[name].items()})
    result = find_similar(answers, excluded(assignment))
    flagged = {frozenset((p.a, p.b)) for p in result.pairs}
    expected = {frozenset(pair) for name in originals
                for pair in ((name, f"{name}-renamed"), (name, f"{name}-reordered"),
                             (f"{name}-renamed", f"{name}-reordered"))}
    assert flagged == expected
    assert all(p.similarity >= THRESHOLD + 0.2 for p in result.pairs), [(p.a, p.b, p.similarity) for p in result.pairs]
    assert sorted(result.clusters) == sorted(sorted([n, f"{n}-renamed", f"{n}-reordered"]) for n in originals)


def test_the_release_itself_is_too_short_to_compare_and_html_is_escaped(tmp_path):
    release = REPO / "exercises" / "schedules" / "schedules.ipynb"
    for student in ("r1", "r2"):
        (tmp_path / student).mkdir()
        (tmp_path / student / "schedules.ipynb").write_bytes(release.read_bytes())
    answers = read_answers({s: tmp_path / s for s in ("r1", "r2")})
    reference = joined(written_answers("schedules")["reference"])
    answers.update({"a": reference + "\n# <script>alert(1)</script>\n", "b": reference.replace("<", " < ")})
    result = find_similar(answers, excluded("schedules"))
    assert result.too_short == ["r1", "r2"]
    assert [(p.a, p.b) for p in result.pairs] == [("a", "b")]
    page = to_html(result)
    assert "<script>" not in page and "Similar answer code (1 pair(s))" in page
    rows = csv_rows(result)
    assert rows[0][:3] == ["student_a", "student_b", "similarity"] and rows[1][:2] == ["a", "b"]
    assert re.search(r"r1, r2", page)
