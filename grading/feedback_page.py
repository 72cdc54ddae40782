"""What the student's feedback page says: a summary named after the tasks, figures, math with no network.

nbgrader's feedback page lists every graded cell as "Test cell" and loads MathJax from a CDN, so a
student sees fifteen identical links and, offline or behind a strict network, raw `$$...$$`.
`TeachingFeedback` (an nbconvert preprocessor, listed in nbgrader_config.py before
`grading.hidden_tests.StripHiddenTests`, so that it still sees which cells held hidden tests) gives
every graded cell a `metadata.feedback` entry that the course's feedback template
(grading/templates/course_feedback) shows in the summary and above the cell:

    title    the task's heading (the instructor's locked markdown cell above), then what the cell
             checks: "the visible example", "checks on inputs drawn at grading time" (a hidden
             test), or the cell's own name ("piecewise boundaries")
    lost     for a cell that lost points, the grader's first reason and how many more (the verdicts are
             written so as to say what was wrong without the hidden inputs or expected values);
             for a written answer, that it is graded by hand and whether a comment is there
    figure   for a cell whose check draws one (grading/figures.py), the chart the grader kept in
             the autograded notebook, drawn here as inline SVG with its alt text (the student's
             values against the right ones on the notebook's own example), and its caption

and renders the math of every markdown cell to MathML at grading time (latex2mathml), which
browsers draw themselves (Chromium 109+, Firefox, Safari): nothing is fetched. The template's
`mathjax()` is empty. TeX that latex2mathml cannot read stays as it was written.
"""
from __future__ import annotations

import re
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from . import figures

TEMPLATES = Path(__file__).parent / "templates"   # course_feedback/: the page's template

HIDDEN = "BEGIN HIDDEN TESTS"
# Code (fenced or inline) is left alone; `$$...$$` is display math, `$...$` inline math (not `\$`,
# not a price such as "$5 and $6": the closing `$` is not followed by a digit).
_CODE = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.S)
_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$\w])\$(?![\s$])([^$\n]+?)(?<![\s\\])\$(?![\d$])", re.S)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
LOST_CHARS = 300


def to_mathml(tex: str, display: bool) -> str | None:
    """MathML for `tex`, or None when latex2mathml cannot read it."""
    from latex2mathml.converter import convert
    try:
        return convert(tex.strip(), display="block" if display else "inline")
    except Exception:  # an unknown command: the TeX stays, as the notebook shows it
        return None


def render_math(markdown: str) -> str:
    """`markdown` with its `$...$` and `$$...$$` replaced by MathML (code spans untouched)."""
    def math(match: re.Match) -> str:
        display = match.group(1) is not None
        mathml = to_mathml(match.group(1) if display else match.group(2), display)
        if mathml is None:
            return match.group(0)
        return f"\n\n{mathml}\n\n" if display else mathml
    parts = _CODE.split(markdown)
    return "".join(part if i % 2 else _MATH.sub(math, part) for i, part in enumerate(parts))


def plain_heading(markdown: str) -> str | None:
    """The last heading of a markdown cell (the one nearest the cells below) as plain text,
    backticks and emphasis dropped."""
    found = _HEADING.findall(markdown)
    return re.sub(r"[`*_]", "", found[-1]).strip() if found else None


def output_text(cell) -> str:
    """Everything the cell's outputs say as text: the grader's verdict, or an error's lines."""
    parts = []
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            parts.append(str(output.get("text", "")))
        elif kind == "error":
            parts += [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}",
                      *[str(line) for line in output.get("traceback") or [] if isinstance(line, str)]]
    return "\n".join(parts)


def what_it_checks(grade_id: str, cell, meta: dict) -> str:
    if meta.get("task") or (meta.get("solution") and meta.get("grade")):
        return "written answer, graded by hand"
    # A hidden test: nbgrader's region (plain workflow) or the grader's verdict on a hidden check.
    if HIDDEN in cell.source or re.search(r"^Grader: hidden tests|hidden tests (passed|failed)",
                                          output_text(cell), re.M):
        return "checks on inputs drawn at grading time"
    name = re.sub(r"^test_", "", grade_id or "")
    if name.endswith("_visible") or name == "visible":
        return "the visible example"
    return name.replace("_", " ") or "test"


def _shortened(text: str) -> str:
    return text[:LOST_CHARS] + (" ..." if len(text) > LOST_CHARS else "")


def lost_message(cell, meta: dict) -> str | None:
    """What the student is told about lost points: the grader's first reason (its verdicts say
    what was wrong without hidden inputs or expected values), an error's last line, or that a
    written answer waits for its grade."""
    score, points = meta.get("score"), meta.get("points")
    if points is None:
        return None
    if score is None:
        return "Not graded yet: your instructor grades this answer by hand."
    if float(score) >= float(points):
        return None
    if cell.cell_type == "markdown" or meta.get("task"):  # nbgrader gives no "still to grade" flag here
        if meta.get("comment"):
            return "Graded by hand: your instructor's comment is under your answer."
        return "Graded by hand: it counts 0 until your instructor has graded it; no comment yet."
    text = output_text(cell)
    reasons = [line[2:].strip() for line in text.splitlines() if line.startswith("- ")]
    if reasons:
        more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
        return _shortened(reasons[0] + more)
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            first = (str(output.get("evalue", "")).strip().splitlines() or [""])[0]
            return _shortened(f"{output.get('ename', 'Error')}: {first}" if first else str(output.get("ename", "Error")))
    return "This cell lost points; run it in your notebook to see why."


def drawn_figure(cell, gid: str) -> dict:
    """The cell's chart (grading.figures: kept by the grader in the autograded notebook) drawn as
    inline SVG, with its caption and anchor; {} when it has none or it cannot be drawn."""
    chart = cell.get("metadata", {}).get(figures.KEY)
    if not chart:
        return {}
    try:
        drawing = figures.svg(chart, salt=gid)
    except Exception:  # a figure explains; the page goes on without it
        return {}
    return {"figure": drawing, "figure_caption": chart.get("caption") or chart.get("title", ""),
            "figure_id": "figure-" + re.sub(r"[^A-Za-z0-9_-]", "_", gid)}


class TeachingFeedback(Preprocessor):
    """metadata.feedback (title, lost) on every graded cell; math rendered to MathML."""

    enabled = Bool(True, help="nbconvert's preprocessors are off unless enabled").tag(config=True)

    def preprocess(self, nb, resources):
        section = None
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader") or {}
            if cell.cell_type == "markdown":
                if meta.get("locked") and not meta.get("solution"):  # the instructor's text
                    section = plain_heading(cell.source) or section
                cell.source = render_math(cell.source)
            if meta.get("grade") or meta.get("task"):
                checks = what_it_checks(meta.get("grade_id", ""), cell, meta)
                cell.metadata["feedback"] = {
                    "title": f"{section}: {checks}" if section else checks,
                    "lost": lost_message(cell, meta), **drawn_figure(cell, meta.get("grade_id", ""))}
        return nb, resources


def _nbgrader_folder(*parts: str) -> str:
    import nbgrader
    return str(Path(nbgrader.__file__).parent.joinpath("server_extensions", "formgrader", *parts))


def template_dirs() -> list[str]:
    """HTMLExporter.extra_template_basedirs for generate_feedback: ours (course_feedback), then
    nbgrader's (its `feedback` template, which ours extends)."""
    return [str(TEMPLATES), _nbgrader_folder("templates")]


def template_paths() -> list[str]:
    """HTMLExporter.extra_template_paths for generate_feedback: nbgrader's templates folder (for
    `extends 'feedback/index.html.j2'`) and the Bootstrap CSS that nbgrader's page inlines."""
    return [_nbgrader_folder("templates"),
            _nbgrader_folder("static", "node_modules", "bootstrap", "dist", "css")]
