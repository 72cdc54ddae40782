"""`python -m grading export`: grades from the gradebook into Canvas, Moodle and plain CSV files.

The gradebook is built directly with nbgrader's API (no kernels): three students of a two-cell
assignment, one with a partial score, one with a late penalty; the expected files in
tests/data/export/ are written by hand.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grading.export import ExportError, export

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "export"
A = "schedules"
COURSE_ID = "tdnn"
pytestmark = pytest.mark.filterwarnings("ignore:.*not in session")  # nbgrader + SQLAlchemy 2.1
SCORES = {"alice": (3, 2, 0.0), "bob": (0.5, 2, 0.0), "carol": (3, 0, 2.0)}  # test_a, test_b, late


def build_gradebook(db_url: str, scores=SCORES) -> None:
    from nbgrader.api import Gradebook
    bindir = str(Path(sys.executable).parent)  # nbgrader runs `alembic` from PATH for a new gradebook
    if bindir not in os.environ["PATH"].split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ["PATH"]
    with Gradebook(db_url, COURSE_ID) as gb:
        gb.add_assignment(A)
        gb.add_notebook(A, A)
        gb.add_grade_cell("test_a", A, A, max_score=3, cell_type="code")
        gb.add_grade_cell("test_b", A, A, max_score=2, cell_type="code")
        for student, (a, b, late) in scores.items():
            gb.add_student(student)
            gb.add_submission(A, student)
            for cell, points in (("test_a", a), ("test_b", b)):
                grade = gb.find_grade(cell, A, A, student)
                grade.auto_score = points
                grade.needs_manual_grade = False
            gb.find_submission_notebook(A, A, student).late_submission_penalty = late
        gb.db.commit()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("export") / "course"
    root.mkdir()
    shutil.copy2(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    build_gradebook(f"sqlite:///{root / 'gradebook.db'}")
    return root


def db(course):
    return f"sqlite:///{course / 'gradebook.db'}"


def roster_without(tmp_path, student):
    lines = (DATA / "roster.csv").read_text().splitlines(keepends=True)
    out = tmp_path / "roster.csv"
    out.write_text("".join(line for line in lines if not line.startswith(student + ",")))
    return out


def test_canvas_matches_the_expected_file(course):
    text, messages = export(db(course), COURSE_ID, A, "canvas", DATA / "roster.csv",
                            column="Schedules (4711)")
    assert text == (DATA / "canvas.csv").read_text()
    assert messages == []


def test_moodle_matches_the_expected_file(course):
    text, _ = export(db(course), COURSE_ID, A, "moodle", DATA / "roster.csv", moodle_id="email")
    assert text == (DATA / "moodle.csv").read_text()


def test_plain_csv_matches_the_expected_file(course):
    text, _ = export(db(course), COURSE_ID, A, "csv", DATA / "roster.csv")
    assert text == (DATA / "plain.csv").read_text()


def test_student_missing_from_the_roster_is_an_error(course, tmp_path):
    roster = roster_without(tmp_path, "bob")
    with pytest.raises(ExportError, match=r"1 graded student\(s\) with no LMS id in the roster: bob"):
        export(db(course), COURSE_ID, A, "canvas", roster)


def test_roster_student_without_a_submission_is_an_error(course, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text((DATA / "roster.csv").read_text()
                      + "dave,\"Dee, Dave\",1004,S-1004,ddee,Section B,dave@example.edu,ddee,20261004\n")
    with pytest.raises(ExportError, match=r"roster student\(s\) with no graded submission: dave"):
        export(db(course), COURSE_ID, A, "moodle", roster)


def test_allow_missing_leaves_them_out_and_says_so(course, tmp_path):
    roster = roster_without(tmp_path, "bob")
    text, messages = export(db(course), COURSE_ID, A, "moodle", roster, allow_missing=True)
    assert text == "email,schedules\nalice@example.edu,5\ncarol@example.edu,1\n"
    assert any("bob" in m and m.startswith("left out") for m in messages), messages


def test_moodle_needs_the_chosen_id_column(course, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,email\nalice,alice@example.edu\nbob,\ncarol,carol@example.edu\n")
    with pytest.raises(ExportError, match="no LMS id in the roster: bob"):
        export(db(course), COURSE_ID, A, "moodle", roster)


def test_command_line_writes_the_file_and_refuses_a_bad_roster(course, tmp_path):
    out = tmp_path / "canvas.csv"
    cmd = [sys.executable, "-m", "grading", "export", A, "--format", "canvas",
           "--roster", str(DATA / "roster.csv"), "--column", "Schedules (4711)",
           "--course-root", str(course), "-o", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == (DATA / "canvas.csv").read_text()
    assert "3 student(s)" in proc.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("id,email\nalice,alice@example.edu\n")
    cmd[cmd.index(str(DATA / "roster.csv"))] = str(bad)
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "student_id" in proc.stderr
