"""Written answers graded in the browser, as docs/instructor.md (step 5) says: a `tiny` course
whose notebook ends with a written answer worth 2 points is graded with `python -m grading`; the
export refuses the student while the answer waits for its grade; a real Jupyter server (started
here, with nbgrader's formgrader extension, in the course root) serves the formgrader, where
Chromium types a score and a comment into the submission's page; the score and comment reach the
gradebook, the feedback page (`nbgrader generate_feedback --force`) and the LMS export."""
from __future__ import annotations

import csv
import io
import os
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell

from helpers.browser import offline_chromium
from helpers.course import REPO, read_grades, run_grading
from helpers.tiny import A, RIGHT, student_nb, tiny_course

CAPS = ["--workers", "1", "--cell-seconds", "180", "--wall-seconds", "900", "--no-report"]
ANSWER = "Adding is commutative, so add(a, b) and add(b, a) agree."
COMMENT = "Right, but say why it matters for the tests."

pytestmark = pytest.mark.slow


def written(source: str, solution: bool):
    return new_markdown_cell(source, metadata={"nbgrader": {
        "grade": True, "grade_id": "written", "locked": False, "points": 2, "schema_version": 3,
        "solution": True, "task": False}})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nbgrader_env(env: dict) -> dict:
    return {**env, "PATH": os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")}


@pytest.fixture(scope="module")
def env(offline_env):
    return {**offline_env, "PYTHONPATH": str(REPO)}


@pytest.fixture(scope="module")
def course(tmp_path_factory, env):
    root = tmp_path_factory.mktemp("formgrader")
    course = tiny_course(root)
    source = course / "solutions" / A / f"{A}.ipynb"
    nb = nbformat.read(source, as_version=4)
    nb.cells.append(written("### BEGIN SOLUTION\nBecause addition commutes.\n### END SOLUTION", True))
    nbformat.write(nb, source)
    student = student_nb(RIGHT)
    student.cells.append(written(ANSWER, True))
    (root / "subs" / "ada").mkdir(parents=True)
    nbformat.write(student, root / "subs" / "ada" / f"{A}.ipynb")
    proc = run_grading(course, A, root / "subs", *CAPS, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    return course


@pytest.fixture(scope="module")
def server(course, env):
    """`jupyter server` in the course root, as `jupyter lab` would start it (no token: the test
    is the only client, on 127.0.0.1)."""
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


def export_csv(course, tmp_path, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grading", "export", A, "--format", "csv",
                           "--course-root", str(course), "-o", str(tmp_path / "grades.csv")],
                          env=env, capture_output=True, text=True, timeout=300)


def manual_grade(course):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "tdnn") as gb:
        grade = gb.find_grade("written", A, A, "ada")
        comment = gb.find_comment("written", A, A, "ada")
        return grade.manual_score, comment.manual_comment, gb.find_submission_notebook(A, A, "ada").id


def test_score_and_comment_typed_in_the_formgrader_reach_feedback_and_export(course, server, env, tmp_path):
    waiting = export_csv(course, tmp_path, env)
    assert waiting.returncode != 0 and "ada" in waiting.stderr and "manual" in waiting.stderr, waiting.stderr
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
    page = (course / "feedback" / "ada" / A / f"{A}.html").read_text()
    assert COMMENT in page and "written answer, graded by hand" in page
    assert "Score: 4.5 / 5.0" in page  # 3 autograded points and the 1.5 typed in

    exported = export_csv(course, tmp_path, env)
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "grades.csv").read_text(encoding="utf-8-sig"))))
    assert [(r["student_id"], float(r["score"])) for r in rows] == [("ada", 4.5)], rows
    assert read_grades(course, A)["ada"]["total"] == 4.5
