"""What a batch leaves for the instructor and the students.

The report (grading/report.py): bounded at 10,000 students (histograms, not one bar per student;
HTML tables cut, the CSV files whole), spreadsheet-safe grades.csv, integer counts, and the
similarity section of every batch report. The feedback page (grading/feedback_page.py): a summary
named after the tasks with the message of every lost point, and math that renders in Chromium with
the network blocked. Both end to end on one `tiny` batch (its task text given a heading and math)
in which one student handed in another's answer with the names changed and the helpers reordered,
one wrote their own, and one got it wrong; its notebook ends with a written answer worth 2 points.

Written answers graded in the browser, as docs/instructor.md (step 5) says: the export refuses a
student whose answer waits for its grade; a real Jupyter server (started here, with nbgrader's
formgrader extension, in the course root) serves the formgrader, where Chromium types a score and
a comment into the submission's page; they reach the gradebook, the feedback page (`nbgrader
generate_feedback --force`) and the LMS export."""
from __future__ import annotations

import csv
import io
import os
import random
import re
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell
from PIL import Image

from helpers.browser import network_log, offline_chromium
from helpers.course import REPO, read_grades, run_grading
from helpers.tiny import A, CHECKS, WRONG, student_nb, tiny_course
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
ANSWER = "Adding is commutative, so add(a, b) and add(b, a) agree."
COMMENT = "Right, but say why it matters for the tests."


def written(source: str):
    return new_markdown_cell(source, metadata={"nbgrader": {
        "grade": True, "grade_id": "written", "locked": False, "points": 2, "schema_version": 3,
        "solution": True, "task": False}})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nbgrader_env(env: dict) -> dict:
    return {**env, "PATH": os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")}


TASK_TEXT = """# Tiny

## 1. Adding two numbers

$$s(a, b) = a + b \\quad\\text{for all } a, b \\in \\mathbb{Z}$$

Write `add` so that it returns $s(a, b)$; the cost is `$5` per call."""
# The visible check draws a figure (grading/figures.py): add(x, 2) against x + 2 on the example.
FIGURE = '''

from grading.checks import Observation, agreement, chart, series


def _figure(report):
    xs = list(range(6))
    obs = Observation.of(report, "figure")
    yours = obs.value if obs.problem() is None and isinstance(obs.value, list) else [None] * 6
    return chart("add(x, 2)", "Line chart of add(x, 2) for x from 0 to 5 against x + 2: "
                 + agreement(xs, [x + 2 for x in xs], yours, "input") + ".", "x", "add(x, 2)",
                 [series("right", "right", xs, [x + 2 for x in xs]), series("yours", "yours", xs, yours)],
                 caption="Your add on the example")


_plain_visible = checks.pop("test_visible").build


@checks("test_visible")
def visible_with_figure(p, rng):
    _plain_visible(p, rng)
    p.value("[add(x, 2) for x in range(6)]", key="figure")
    p.figure_from(_figure)
'''
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
    nb.cells.append(written("### BEGIN SOLUTION\nBecause addition commutes.\n### END SOLUTION"))
    nbformat.write(nb, source)
    (course / "grading" / "checks" / f"{A}.py").write_text(CHECKS + FIGURE)
    for student, body in {"ann": ANN, "ben": BEN, "cy": CY, "eve": WRONG}.items():
        (subs / student).mkdir(parents=True)
        nb = student_nb(body)
        nb.cells.append(written(ANSWER if student == "ann" else f"{student} thinks it commutes."))
        nbformat.write(nb, subs / student / f"{A}.ipynb")
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
    assert grades == {"ann": 3.0, "ben": 3.0, "cy": 3.0, "eve": 0.0}  # it changes no grade


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
    assert summary.count("class=\"lost-message\"") == 3  # two checks, and the written answer
    assert "add(1, 2)" in summary and "add of two integers" in summary  # the checks' own reasons
    assert "1. Adding two numbers: written answer, graded by hand" in summary and "no comment yet" in summary
    right = feedback_of(course, "ann").read_text()
    right_summary = right[right.index("<div id=\"toc\">"):right.index("</ol>")]
    assert right_summary.count("\u2713") == 2 and right_summary.count("lost-message") == 1
    assert "(figure)" in summary and "(figure)" in right_summary   # the visible check's figure
    assert "yours differs from it at 6 of 6 inputs, first at input 0 (yours -2, right 2)" in page
    assert "yours matches it at all 6 inputs" in right
    for page in (page, right):
        assert page.count('<figure class="feedback-figure"') == 1 and '<svg' in page
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
            const svgs = Array.from(document.querySelectorAll('figure.feedback-figure svg'));
            return {math: math.length, drawn: math.filter(m => box(m).width > 0 && box(m).height > 0).length,
                    figures: svgs.map(s => ({w: box(s).width, h: box(s).height, role: s.getAttribute('role'),
                                             alt: s.getAttribute('aria-label'), title: s.querySelector('title') !== null,
                                             shapes: s.querySelectorAll('path, text').length})),
                    block: math.filter(m => m.getAttribute('display') === 'block').length,
                    mathml: typeof MathMLElement !== 'undefined' && math.every(m => m instanceof MathMLElement),
                    text: body.textContent,
                    summary: Array.from(document.querySelectorAll('#toc li.task-summary > a')).map(a => a.textContent),
                    scripts: document.scripts.length};""")
        requested, failed = network_log(driver)
        driver.get(assignment_figures(tmp_path / "figures.html").as_uri())   # the real checks' charts
        drawn = driver.execute_script("""
            return Array.from(document.querySelectorAll('svg')).map(s => {
                const b = s.getBoundingClientRect();
                return {w: b.width, h: b.height, alt: s.getAttribute('aria-label'),
                        shapes: s.querySelectorAll('path').length};});""")
        requested_too, _ = network_log(driver)
    finally:
        driver.quit()
    assert len(drawn) == 6 and all(d["w"] > 200 and d["h"] > 100 and d["alt"] and d["shapes"] > 10
                                   for d in drawn), drawn
    assert [u for u in requested_too if not u.startswith(("file:", "data:"))] == [], requested_too
    assert seen["math"] >= 2 and seen["drawn"] == seen["math"] and seen["block"] == 1, seen
    assert seen["mathml"], "the browser did not take the math for MathML"
    assert "$" not in seen["text"].replace("$5", ""), "raw TeX left on the page"
    assert seen["summary"] == ["1. Adding two numbers: the visible example",
                               "1. Adding two numbers: checks on inputs drawn at grading time",
                               "1. Adding two numbers: written answer, graded by hand"]
    assert [u for u in requested if not u.startswith(("file:", "data:"))] == [], requested
    assert failed == [], failed
    [figure] = seen["figures"]
    assert figure["w"] > 200 and figure["h"] > 100 and figure["role"] == "img" and figure["title"], figure
    assert figure["alt"].startswith("Line chart of add(x, 2)") and figure["shapes"] > 20, figure


def assignment_figures(out):
    """A page with the figure of every check that draws one, for made-up reports (the reference's
    values, or a wrong answer's), as the feedback child draws them."""
    import numpy as np
    from grading import figures
    from grading.checks import cifar10, initializers, schedules
    steps = range(schedules.ONE_CYCLE_STEPS)
    charts = [
        schedules.one_cycle_figure({"figure": {"value": [schedules.one_cycle(t, 100, 1.0) for t in steps]}}),
        schedules.one_cycle_figure({"figure": {"value": [schedules.one_cycle(t, 100, 1.0, anneal_fraction=0.2)
                                                         for t in steps]}}),
        schedules.plateau_figure({"stalled": {"value": schedules.plateau_rates(0.1, [1.0] * 12, patience=2)}}),
        initializers.normal_figure({"visible_sample": {"value": np.random.default_rng(1).normal(
            0, initializers.VISIBLE_SIGMA, 5000).tolist()}}),
        initializers.normal_figure({}),
        cifar10.budget_figure("deep", 0.2, {"epoch_accuracy": {"value": [0.18, 0.27, 0.36]}}),
    ]
    out.write_text("<!DOCTYPE html><html><body>" + "".join(
        f"<figure>{figures.svg(c, str(i))}</figure>" for i, c in enumerate(charts)) + "</body></html>")
    return out


def test_class_scores_in_two_queries_equal_nbgrader_per_object_scores(tmp_path):
    """report's scores (Course.cell_scores -> course.read_cell_scores) as nbgrader's properties
    give them, on the synthetic gradebook of scripts/bench_export.py (manual scores over automatic
    ones, extra credit, a written answer waiting for its grade, late penalties)."""
    sys.path.insert(0, str(REPO / "scripts"))
    from bench_export import ASSIGNMENT, COURSE, build_gradebook
    from nbgrader.api import Gradebook
    from grading.course import read_cell_scores
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    build_gradebook(url, 15, seed=3)
    students = [f"s{i:05d}" for i in range(15)] + ["nobody"]
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


# ------------------------------------------------------------------ the formgrader (last: it changes ann's grade)
@pytest.fixture(scope="module")
def server(graded, env):
    """`jupyter server` in the course root, as `jupyter lab` would start it (no token: the test
    is the only client, on 127.0.0.1)."""
    course = graded[0]
    port = free_port()
    log = open(course.parent / "jupyter.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "server", "--no-browser", "--allow-root",
         f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0",
         "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={course}"],
        cwd=course, env=nbgrader_env(env), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(base + "/api/status", timeout=5)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("jupyter server did not start:\n" + (course.parent / "jupyter.log").read_text()[-3000:])
            time.sleep(1)
    yield base
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def export_csv(course, tmp_path, env, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grading", "export", A, "--format", "csv", *extra,
                           "--course-root", str(course), "-o", str(tmp_path / "grades.csv")],
                          env=env, capture_output=True, text=True, timeout=300)


def manual_grade(course):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "tdnn") as gb:
        grade = gb.find_grade("written", A, A, "ann")
        comment = gb.find_comment("written", A, A, "ann")
        return grade.manual_score, comment.manual_comment, gb.find_submission_notebook(A, A, "ann").id


@pytest.mark.slow
def test_score_and_comment_typed_in_the_formgrader_reach_feedback_and_export(graded, server, env, tmp_path):
    course, _ = graded
    waiting = export_csv(course, tmp_path, env)
    assert waiting.returncode != 0 and "ann" in waiting.stderr and "manual" in waiting.stderr, waiting.stderr
    score, comment, notebook_id = manual_grade(course)
    assert score is None and not comment

    driver = offline_chromium(tmp_path / "chromium-profile")
    try:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys
        from selenium.webdriver.support import expected_conditions as ready
        from selenium.webdriver.support.ui import WebDriverWait
        driver.get(f"{server}/formgrader/submissions/{notebook_id}/")
        # The page is ready when formgrader's views have filled the comment box's placeholder
        # (they bind the boxes' save-on-change at the same time) and no request is pending.
        WebDriverWait(driver, 180).until(lambda d: d.execute_script(
            "const c = document.querySelector('textarea#written-comment');"
            "return document.readyState === 'complete' && !!c && !!c.getAttribute('placeholder')"
            " && window.jQuery && jQuery.active === 0"))
        assert ANSWER in driver.page_source
        box = driver.find_element(By.CSS_SELECTOR, "input.score#written")
        box.click()
        box.send_keys("1.5", Keys.TAB)
        note = driver.find_element(By.CSS_SELECTOR, "textarea#written-comment")
        note.click()
        note.send_keys(COMMENT)
        note.send_keys(Keys.TAB)
        deadline = time.monotonic() + 180
        while manual_grade(course)[:2] != (1.5, COMMENT) and time.monotonic() < deadline:
            time.sleep(1)
    finally:
        driver.quit()
    assert manual_grade(course)[:2] == (1.5, COMMENT)

    feedback = subprocess.run([sys.executable, "-m", "nbgrader", "generate_feedback", A, "--force"],
                              cwd=course, env=nbgrader_env(env), capture_output=True, text=True, timeout=300)
    assert feedback.returncode == 0, feedback.stderr[-3000:]
    page = (course / "feedback" / "ann" / A / f"{A}.html").read_text()
    assert COMMENT in page and "written answer, graded by hand" in page
    assert "your instructor's comment is under your answer" in page.replace("&#39;", "'")
    assert "Score: 4.5 / 5.0" in page  # 3 autograded points and the 1.5 typed in

    exported = export_csv(course, tmp_path, env, "--allow-missing")  # the others still wait
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "grades.csv").read_text(encoding="utf-8-sig"))))
    assert [(r["student_id"], float(r["score"])) for r in rows] == [("ann", 4.5)], rows
    assert read_grades(course, A)["ann"]["total"] == 4.5
