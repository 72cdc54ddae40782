"""Feedback HTML shows no hidden tests, no traceback quoting them, and no live student HTML.

One submission of the schedules assignment: a power schedule that ignores c (fails a hidden
test only) and prints / displays a <script>. It is autograded, then `nbgrader generate_feedback`
runs with the repository's nbgrader_config.py (grading.hidden_tests.StripHiddenTests,
HTMLExporter.sanitize_html)."""
import re

import pytest

from helpers.course import solution_sources
from helpers.nbgrader_batch import generate_feedback, grade_batch
from helpers.variants import build_submission

ASSIGNMENT = "schedules"
STUDENT_CODE = '''
from IPython.display import HTML, display

print("<script>window.printedByStudent = 1</script>")
display(HTML("<b>bold</b><script>window.displayedByStudent = 1</script>"))


def power_schedule(t, initial_lr, s, c=1.0):
    t = keras.ops.cast(t, "float32")
    return initial_lr / (1.0 + t / s)
'''


@pytest.fixture(scope="module")
def feedback_html(repo, offline_env, tmp_path_factory):
    work = tmp_path_factory.mktemp("feedback")
    sources = {**solution_sources(repo, ASSIGNMENT), "power": STUDENT_CODE}
    notebook = build_submission(repo / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", sources,
                                work / "student.ipynb")
    results = grade_batch(repo, ASSIGNMENT, {"student": notebook}, work, offline_env)
    assert results["student"]["test_power_hidden"] == 0, results   # the hidden test did fail
    assert results["student"]["test_power_visible"] == 1, results
    course = work / "course"
    generate_feedback(course, ASSIGNMENT, offline_env)
    html_file = course / "feedback" / "student" / ASSIGNMENT / f"{ASSIGNMENT}.html"
    return html_file.read_text()


def test_sanitize_trait_exists():
    from nbconvert.exporters import HTMLExporter
    assert "sanitize_html" in HTMLExporter.class_trait_names()


def test_no_hidden_test_code(feedback_html):
    for hidden in ["BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "COURSE_GRADING_SEED",
                   "power_schedule with an integer tensor t=", "_rng.uniform"]:
        assert hidden not in feedback_html, f"hidden test text {hidden!r} in the feedback"


def test_no_figure_without_the_graders_probes(feedback_html):
    """Figures (grading/figures.py) come only from what `python -m grading`'s probes observed: the
    plain nbgrader workflow, whose tests run in the student's kernel, draws none (their leak
    tests: tests/test_tampering.py and tests/test_figures.py)."""
    assert '<figure class="feedback-figure"' not in feedback_html and "<svg" not in feedback_html


def test_error_summary_without_traceback(feedback_html):
    # the failing hidden test is reported as `AssertionError: <message>` ...
    assert "AssertionError" in feedback_html
    # ... without the frames of a traceback (which would quote the hidden code)
    assert "Traceback (most recent call last)" not in feedback_html
    assert not re.search(r"Cell\s+(?:<[^>]+>\s*)*In\s*(?:<[^>]+>\s*)*\[", feedback_html), (
        "a traceback frame (Cell In[...]) appears in the feedback")


def test_student_script_is_not_live(feedback_html):
    for marker in ["printedByStudent", "displayedByStudent"]:
        assert not re.search(r"<script[^>]*>[^<]*" + marker, feedback_html), (
            f"a <script> from student output ({marker}) is live in the feedback HTML")
    assert "&lt;script&gt;window.printedByStudent" in feedback_html  # shown as text, escaped


def test_feedback_children_take_rounds_of_students(monkeypatch, tmp_path):
    """grading.feedback.Pipeline: a child per CHUNK students, or for fewer once the first
    waited GATHER_SECONDS, or for the rest when the batch is done; every student once."""
    import time

    from grading import feedback

    rounds = []

    def render(root, assignment, db_url, students, work, seconds):  # no child: just record
        rounds.append(list(students))
        return {s: None for s in students}

    monkeypatch.setattr(feedback, "generate", render)
    monkeypatch.setattr(feedback, "GATHER_SECONDS", 1.0)
    pipeline = feedback.Pipeline(tmp_path, "a", "sqlite://", tmp_path, parallel=1)
    first = [f"s{i:02d}" for i in range(feedback.CHUNK + 3)]
    for student in first:
        pipeline.add(student)
    time.sleep(2.5)  # the 3 after the first CHUNK have waited longer than GATHER_SECONDS
    pipeline.add("late")
    results = pipeline.close()  # the batch is done: "late" goes at once
    assert rounds == [first[:feedback.CHUNK], first[feedback.CHUNK:], ["late"]]
    assert results == {s: None for s in first + ["late"]}
