"""What a batch leaves for the instructor and the students.

The report (grading/report.py): bounded at 10,000 students (histograms, not one bar per student;
HTML tables cut, the CSV files whole), spreadsheet-safe grades.csv, integer counts, and the
similarity section of every batch report. The feedback page (grading/feedback_page.py): a summary
named after the tasks with the message of every lost point, and math that renders in Chromium with
the network blocked. Both end to end on one `tiny` batch (its task text given a heading and math)
in which one student handed in another's answer with the names changed and the helpers reordered,
one wrote their own, and one got it wrong."""
from __future__ import annotations

import csv
import io
import random
import re

import nbformat
import pytest
from PIL import Image

from helpers.browser import network_log, offline_chromium
from helpers.course import REPO, run_grading
from helpers.tiny import A, RIGHT, WRONG, student_nb, tiny_course
from grading import report
from grading.similarity import find_similar

CAPS = ["--workers", "2", "--cell-seconds", "180", "--wall-seconds", "900"]


def synthetic(n: int, seed: int = 0):
    """(entries, scores) of n graded students, as the batch gives them to write_report; one file
    name per student starts like a spreadsheet formula."""
    rng = random.Random(seed)
    cells = [f"test_{i}" for i in range(12)]
    entries, scores = {}, {}
    for i in range(n):
        student = f"s{i:05d}"
        status = "ok" if rng.random() > 0.02 else "timeout"
        entries[student] = {"status": status, "problems": ["slow"] if status != "ok" else [],
                            "seconds": rng.uniform(5, 60), "files": {"nb": f"=HYPERLINK(\"x{i}\").ipynb"},
                            "graded_at": "2026-12-06T12:00:00"}
        got = {c: (float(rng.choice([0, 1, 2])), 2.0) for c in cells}
        scores[student] = {"score": sum(v for v, _ in got.values()), "max_score": 24.0, "cells": got}
    return entries, scores


def test_report_of_ten_thousand_students_stays_bounded(tmp_path):
    entries, scores = synthetic(10_000)
    index = report.write_report(tmp_path, "bench", entries, scores)
    page = index.read_text()
    assert len(page) < 2_000_000, len(page)  # 500-row tables, not 10,000
    assert "... and 9500 more rows in <a href='grades.csv'>grades.csv</a>" in page
    for name in ("scores.png", "tests.png", "time.png"):
        width, height = Image.open(tmp_path / name).size
        assert width <= 1000 and height <= 2000, (name, width, height)  # was 660 x 242,132 for time.png
    rows = list(csv.DictReader(io.StringIO((tmp_path / "grades.csv").read_text())))
    assert len(rows) == 10_000
    assert all(r["files"].startswith("'=HYPERLINK") for r in rows)  # text, not a live formula
    assert float(rows[0]["score"]) == scores["s00000"]["score"]   # numbers stay numbers


def test_count_axes_have_whole_ticks(tmp_path, monkeypatch):
    ticks = {}
    real = report._figure

    def spy(out, name, draw, height):
        def drawn(ax):
            draw(ax)
            ax.figure.canvas.draw()
            ticks[name] = [t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
        real(out, name, drawn, height)
    monkeypatch.setattr(report, "_figure", spy)
    entries, scores = synthetic(3)
    report.write_report(tmp_path, "tiny", entries, scores)
    for name in ("scores.png", "time.png"):
        assert ticks[name] and all(float(t).is_integer() for t in ticks[name]), (name, ticks[name])


def test_similarity_section_reports_pairs_or_why_not(tmp_path):
    code = "def f(values):\n" + "".join(f"    values = [v * {k} + {k} for v in values if v != {k}]\n"
                                         for k in range(8)) + "    return values\n"
    result = find_similar({"ann": code, "ben": code.replace("values", "xs"), "cy": "x = 1\n"})
    page = report.write_report(tmp_path, "tiny", *synthetic(2), similar=result).read_text()
    assert "Similar answer code (1 pair(s))" in page and "<td>ann</td><td>ben</td>" in page
    assert (tmp_path / "similarity.csv").read_text().splitlines()[1].startswith("ann,ben,")
    page = report.write_report(tmp_path, "tiny", *synthetic(2), similar=OSError("disk gone")).read_text()
    assert "Not computed: OSError: disk gone" in page and not (tmp_path / "similarity.csv").exists()


# ------------------------------------------------------------------ a batch, end to end
ANN = '''def _digits(n):
    """The decimal digits of abs(n), least significant first."""
    n = abs(n)
    found = []
    while True:
        found.append(n % 10)
        n //= 10
        if n == 0:
            return found


def _sign(n):
    return -1 if n < 0 else 1


def add(a, b):
    total = 0
    for power, digit in enumerate(_digits(a)):
        total += _sign(a) * digit * 10 ** power
    for power, digit in enumerate(_digits(b)):
        total += _sign(b) * digit * 10 ** power
    return total
'''
# Ben's copy: every name changed, the helpers swapped, comments rewritten.
BEN = '''def sgn(value):
    return -1 if value < 0 else 1


def digit_list(value):
    # digits of value, lowest first
    value = abs(value)
    ds = []
    while True:
        ds.append(value % 10)
        value //= 10
        if value == 0:
            return ds


def add(x, y):
    acc = 0
    for e, d in enumerate(digit_list(x)):
        acc += sgn(x) * d * 10 ** e
    for e, d in enumerate(digit_list(y)):
        acc += sgn(y) * d * 10 ** e
    return acc
'''
TASK_TEXT = """# Tiny

## 1. Adding two numbers

$$s(a, b) = a + b \\quad\\text{for all } a, b \\in \\mathbb{Z}$$

Write `add` so that it returns $s(a, b)$; the cost is `$5` per call."""
# Cy's own solution of the same task.
CY = '''import operator
from functools import reduce


def add(a, b):
    """The sum of a and b, as a fold over both, refusing anything but numbers."""
    operands = [a, b]
    for value in operands:
        if not isinstance(value, (int, float)):
            raise TypeError(f"add takes numbers, not {type(value).__name__}")
    return reduce(operator.add, operands, 0)
'''


@pytest.fixture(scope="module")
def env(offline_env):
    return {**offline_env, "PYTHONPATH": str(REPO)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory, env):
    root = tmp_path_factory.mktemp("report")
    course, subs = tiny_course(root), root / "subs"
    source = course / "solutions" / A / f"{A}.ipynb"
    nb = nbformat.read(source, as_version=4)
    nb.cells[0].source = TASK_TEXT
    nbformat.write(nb, source)
    for student, body in {"ann": ANN, "ben": BEN, "cy": CY, "dee": RIGHT, "eve": WRONG}.items():
        (subs / student).mkdir(parents=True)
        nbformat.write(student_nb(body), subs / student / f"{A}.ipynb")
    proc = run_grading(course, A, subs, *CAPS, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    return course, proc


@pytest.mark.slow
def test_every_batch_report_lists_the_copied_pair_and_not_the_others(graded):
    course, _ = graded
    out = course / "grading-report" / A
    page = (out / "index.html").read_text()
    assert "id='similarity'" in page and "Similar answer code (1 pair(s))" in page
    pairs = list(csv.DictReader(io.StringIO((out / "similarity.csv").read_text())))
    assert [(p["student_a"], p["student_b"]) for p in pairs] == [("ann", "ben")]
    assert float(pairs[0]["similarity"]) >= 0.5
    grades = {r["student_id"]: float(r["score"]) for r in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}
    assert grades == {"ann": 3.0, "ben": 3.0, "cy": 3.0, "dee": 3.0, "eve": 0.0}  # it changes no grade


def feedback_of(course, student):
    return course / "feedback" / student / A / f"{A}.html"


@pytest.mark.slow
def test_feedback_summary_is_named_after_the_tasks_with_what_was_lost(graded):
    course, _ = graded
    page = feedback_of(course, "eve").read_text()
    summary = page[page.index("<div id=\"toc\">"):page.index("</ol>")]
    assert "1. Adding two numbers: the visible example" in summary
    assert "1. Adding two numbers: checks on inputs drawn at grading time" in summary
    assert "Test cell" not in summary
    assert summary.count("class=\"lost-message\"") == 2
    assert "add(1, 2)" in summary and "add of two integers" in summary  # the checks' own reasons
    right = feedback_of(course, "dee").read_text()
    right_summary = right[right.index("<div id=\"toc\">"):right.index("</ol>")]
    assert "lost-message" not in right_summary and right_summary.count("&#10003;") == 2
    for page in (page, right):
        assert "BEGIN HIDDEN TESTS" not in page and "add(-5, 7)" not in page
        assert "cdnjs" not in page and not re.search(r"<script[^>]+src=", page)  # nothing to fetch
        assert "<math" in page and "$$" not in page
        assert "`$5`" not in page and "$5</code>" in page  # code is not math


@pytest.mark.slow
def test_feedback_page_renders_offline_in_chromium(graded, tmp_path):
    course, _ = graded
    driver = offline_chromium(tmp_path / "chromium-profile")
    try:
        driver.get(feedback_of(course, "eve").as_uri())
        blocked = driver.execute_async_script(
            "const done = arguments[0]; fetch('https://example.org/').then(() => done('reached'),"
            " () => done('blocked'))")
        assert blocked == "blocked", "the browser reached the network: this test would prove nothing"
        network_log(driver)
        driver.refresh()
        seen = driver.execute_script("""
            const box = e => e.getBoundingClientRect();
            const math = Array.from(document.querySelectorAll('math'));
            const frac = document.querySelector('math mrow, math mi');
            const body = document.body.cloneNode(true);
            body.querySelectorAll('pre, code, script, style, math').forEach(e => e.remove());
            return {math: math.length, drawn: math.filter(m => box(m).width > 0 && box(m).height > 0).length,
                    block: math.filter(m => m.getAttribute('display') === 'block').length,
                    mathml: typeof MathMLElement !== 'undefined' && math.every(m => m instanceof MathMLElement),
                    text: body.textContent,
                    summary: Array.from(document.querySelectorAll('#toc li.task-summary > a')).map(a => a.textContent),
                    scripts: document.scripts.length};""")
        requested, failed = network_log(driver)
    finally:
        driver.quit()
    assert seen["math"] >= 2 and seen["drawn"] == seen["math"] and seen["block"] == 1, seen
    assert seen["mathml"], "the browser did not take the math for MathML"
    assert "$" not in seen["text"].replace("$5", ""), "raw TeX left on the page"
    assert seen["summary"] == ["1. Adding two numbers: the visible example",
                               "1. Adding two numbers: checks on inputs drawn at grading time"]
    assert [u for u in requested if not u.startswith(("file:", "data:"))] == [], requested
    assert failed == [], failed


def test_class_scores_in_two_queries_equal_nbgrader_per_object_scores(tmp_path):
    """report's scores (Course.cell_scores -> course.read_cell_scores) as nbgrader's properties
    give them, on the synthetic gradebook of scripts/bench_export.py (manual scores over automatic
    ones, extra credit, a written answer waiting for its grade, late penalties)."""
    import sys
    sys.path.insert(0, str(REPO / "scripts"))
    from bench_export import ASSIGNMENT, COURSE, build_gradebook
    from nbgrader.api import Gradebook
    from grading.course import read_cell_scores
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    build_gradebook(url, 40, seed=3)
    students = [f"s{i:05d}" for i in range(40)] + ["nobody"]
    with Gradebook(url, COURSE) as gb:
        fast = read_cell_scores(gb, ASSIGNMENT, students)
        for student in students[:-1]:
            sub = gb.find_submission(ASSIGNMENT, student)
            cells = {g.name: (float(g.score), float(g.max_score)) for nb in sub.notebooks
                     for g in nb.grades if g.cell.cell_type == "code"}
            assert fast[student] == {"score": pytest.approx(float(sub.score)),
                                     "max_score": float(sub.max_score), "cells": cells}, student
    assert fast["nobody"] is None
    assert len({e["score"] for e in fast.values() if e}) > 5
