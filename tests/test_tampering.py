"""Tampering: in-kernel tricks must earn nothing, and no hidden test data may reach feedback.

Each file of tests/submissions/schedules/tampering/ is one mechanism (its `# why:` header), mostly
on the untouched release (no genuine work: `# earns: 0`), some on an otherwise correct answer
with one wrong function (`# earns:` what the genuine work is worth, `# zero:` the cells of the
wrong function). They are graded in the same `python -m grading` batch as the other simulated
students (fixture `graded_assignment`): sandboxed kernels, verdicts decided by the grader from
the probe reports only.
"""
import json
import re
from pathlib import Path

import nbformat
import pytest

from helpers.variants import read_variant

ASSIGNMENT = "schedules"
FOLDER = Path(__file__).parent / "submissions" / ASSIGNMENT / "tampering"
CASES = {"tamper-" + p.stem.replace("_", "-"): read_variant(p)[1] for p in sorted(FOLDER.glob("*.py"))}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(graded_assignment):
    return graded_assignment(ASSIGNMENT)


def test_at_least_fifteen_mechanisms():
    assert len(CASES) >= 15, sorted(CASES)


@pytest.mark.parametrize("student", sorted(CASES))
def test_tampering_earns_nothing_beyond_genuine_work(graded, student):
    headers, got = CASES[student], graded.grades[student]
    assert got["total"] <= float(headers.get("earns", 0)) + 1e-9, (
        f"{student} ({headers['why']}) got {got['total']}\n{graded.table}")
    for cell in headers.get("zero", "").split():
        assert got[cell] == 0, f"{student} ({headers['why']}) got {got[cell]} on {cell}"


def _hidden_texts(repo: Path) -> list[str]:
    """Lines of the instructor's hidden test regions that the release does not also contain."""
    nb = nbformat.read(repo / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    release = nbformat.read(repo / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    # A hidden line that the release shows verbatim (even inside a longer line, as when a
    # formatter wraps the hidden copy of a visible call) gives nothing away.
    public = "\n".join(cell.source for cell in release.cells)
    lines = []
    for cell in nb.cells:
        for block in re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cell.source, re.S):
            lines += [line.strip() for line in block.splitlines()
                      if len(line.strip()) > 25 and line.strip() not in public]
    return lines


def _hidden_inputs(graded, student: str) -> set[str]:
    """The literals of the hidden inputs this student's probes were given (recomputed)."""
    from grading.checks import load
    from grading.collect import Submission
    from grading.judge import rng_for
    data = (graded.course / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    digest = Submission(student, files={ASSIGNMENT: data}).digest()
    checks = load(ASSIGNMENT)
    secrets = set()
    for gid, check in checks.items():
        secrets |= check.probe(rng_for(graded.seed, student, gid, digest)).secrets
    return secrets


def _outputs_text(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts += [str(out.get("text", "")), str(out.get("evalue", "")), " ".join(out.get("traceback") or [])]
            parts += [f"{k} {v}" for k, v in (out.get("data") or {}).items()]
        if (cell.metadata.get("nbgrader") or {}).get("grade") and cell.cell_type == "code":
            parts.append(cell.source)   # test cells: the grader wrote them back
    return "\n".join(parts + [json.dumps(chart) for chart in _charts(path).values()])


def _charts(path: Path) -> dict:
    """grade_id -> the chart the grader kept for the cell's feedback figure (grading.figures)."""
    from grading.figures import KEY
    nb = nbformat.read(path, as_version=4)
    return {(c.metadata.get("nbgrader") or {}).get("grade_id"): c.metadata[KEY]
            for c in nb.cells if KEY in c.metadata}


def _figures_html(html: str) -> str:
    """The feedback page's figures (inline SVG, alt text, caption), as the browser gets them."""
    return "\n".join(re.findall(r'<figure class="feedback-figure".*?</figure>', html, re.S))


def test_no_hidden_data_in_any_feedback(graded, repo):
    """No hidden test code, seed, probe or hidden input in what the grader writes back: the
    outputs and test cells of every autograded notebook, and the feedback HTML (whose only other
    content is the student's own code, which may quote anything its author wrote)."""
    hidden_lines = _hidden_texts(repo)
    assert hidden_lines, "no hidden test regions found"
    forbidden = ["BEGIN HIDDEN TESTS", "COURSE_GRADING_SEED=" + graded.seed,
                 f"'COURSE_GRADING_SEED': '{graded.seed}'"] + hidden_lines
    checked = 0
    for student in graded.students:
        secrets = _hidden_inputs(graded, student)
        assert secrets, student
        if graded.autograded(student).exists():
            text = _outputs_text(graded.autograded(student))
            checked += 1
            for needle in forbidden + ["Grading probe", "application/vnd.tdnn.probe"]:
                assert needle not in text, f"{student}: {needle!r} in the autograded outputs"
            leaked = sorted(s for s in secrets if s in text)
            assert not leaked, f"{student}: hidden inputs {leaked[:5]} in the autograded outputs"
        if graded.feedback(student).exists():
            html = graded.feedback(student).read_text()
            for needle in forbidden:
                assert needle not in html, f"{student}: {needle!r} in the feedback"
            drawn = _figures_html(html)   # the student's code is not in them: no hidden literal either
            leaked = sorted(s for s in secrets | set(forbidden) if s in drawn)
            assert not leaked, f"{student}: hidden inputs {leaked[:5]} in the feedback figures"
    assert checked >= len(graded.students) - 1


def test_hidden_inputs_returned_as_rates_reach_no_figure(graded):
    """The submission that returns the hidden inputs it saw as its rates on the visible 1cycle and
    plateau examples: its figures are drawn (the channel was open), with every number rounded to
    3 significant digits and no hidden literal in the chart or the SVG (checked above for all)."""
    student = "tamper-leak-through-figures"
    charts = _charts(graded.autograded(student))
    assert {"test_one_cycle_visible", "test_plateau"} <= set(charts), sorted(charts)
    yours = [v for chart in charts.values() for s in chart["series"] if s["role"] == "yours" for v in s["y"]]
    assert len({v for v in yours if v is not None}) > 5, yours   # it did send many values
    assert all(v is None or float(f"{v:.3g}") == v for v in yours), yours
    secrets = _hidden_inputs(graded, student)
    html = _figures_html(graded.feedback(student).read_text())
    assert html.count("<svg") >= 2 and not [s for s in secrets if s in html]


def test_leak_attempt_is_reported(graded):
    """The submission that prints the probes it saw: its outputs are removed, the removal reported."""
    entry = graded.state()["tamper-leak-inputs"]
    assert any("hidden test data or a probe was removed" in p for p in entry["problems"]), entry
    text = graded.autograded("tamper-leak-inputs").read_text()
    assert "output removed by the grader" in text
