"""`python -m grading export`: grades from the gradebook into Canvas, Moodle and plain CSV files.

The gradebook is built directly with nbgrader's API (no kernels): three students of a two-cell
assignment, one with a partial score, one with a late penalty, and the grader's state saying all
three were graded; the expected files in tests/data/export/ are written by hand.
"""
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grading.export import ExportError, export

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "export"
A = "schedules"
COURSE_ID = "tdnn"
pytestmark = pytest.mark.filterwarnings("ignore:.*not in session")  # nbgrader + SQLAlchemy 2.1
SCORES = {"alice": (3, 2, 0.0), "bob": (0.5, 2, 0.0), "carol": (3, 0, 2.0)}  # test_a, test_b, late
GRADED = {"status": "ok", "problems": []}


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
    write_state(root, {s: GRADED for s in SCORES})
    return root


def write_state(root: Path, entries: dict) -> None:
    """The grader's resume state as grading/state.py's FileStore writes it."""
    (root / "autograded").mkdir(exist_ok=True)
    (root / "autograded" / f".grading-state-{A}.json").write_text(json.dumps(entries))


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


# ------------------------------------------------------------------------------ scores, at scale
def test_one_aggregate_query_gives_the_per_object_grades(tmp_path):
    """Two notebooks, manual scores over automatic ones, extra credit, late penalties (one larger
    than the score), a written answer still waiting for a manual grade: the same grades as
    nbgrader's per-object properties (scripts/bench_export.py builds 1,000 and 10,000 like this)."""
    sys.path.insert(0, str(REPO / "scripts"))
    from bench_export import build_gradebook as synthetic_gradebook, per_object_grades
    from grading.export import read_grades
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    synthetic_gradebook(url, 300, seed=7)
    grades, max_score = read_grades(url, "tdnn", "bench")
    expected = per_object_grades(url, "tdnn", "bench")
    assert max_score == 12 * 2 + 5
    assert {g.student_id: (pytest.approx(g.score, abs=1e-9), g.needs_manual_grade) for g in grades} \
        == expected
    scores = [g.score for g in grades]
    assert min(scores) == 0 and max(scores) > 20, "the synthetic scores span the range"
    assert 0 < sum(g.needs_manual_grade for g in grades) < 30


# ------------------------------------------------------------------------------ only final grades
def course_with_states(tmp_path, entries: dict, template: Path) -> Path:
    """A copy of the module's course (its gradebook) with the grader's state `entries`."""
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy2(template / "gradebook.db", root / "gradebook.db")
    write_state(root, entries)
    return root


NOT_FINAL = {
    "bob": {"status": "error", "problems": ["worker exited with 1: no datasets"]},
    "carol": {"status": "claimed", "problems": [], "owner": "host-2:4242:ab12"},
}


def test_students_without_a_final_grade_are_an_error_listing_their_status(course, tmp_path):
    root = course_with_states(tmp_path, {"alice": GRADED, **NOT_FINAL}, course)
    with pytest.raises(ExportError) as err:
        export(db(root), COURSE_ID, A, "csv")
    message = str(err.value)
    assert "2 student(s) without a final grade" in message
    assert "bob (error: worker exited with 1: no datasets)" in message
    assert "carol (claimed: being graded by host-2:4242:ab12)" in message
    assert "alice" not in message


@pytest.mark.parametrize("entry,shown", [
    ({"status": "timeout", "problems": ["worker killed after 180 s"]}, "timeout: worker killed"),
    ({"status": "kernel_died", "problems": []}, "kernel_died"),
    ({"status": "released", "problems": []}, "released: its grader stopped"),
    ({"status": "not_graded: cluster lost", "problems": []}, "not_graded: cluster lost"),
    (None, "no grading record"),
])
def test_every_status_but_graded_keeps_the_number_out(course, tmp_path, entry, shown):
    entries = {"alice": GRADED, "carol": GRADED}
    if entry is not None:
        entries["bob"] = entry
    root = course_with_states(tmp_path, entries, course)
    with pytest.raises(ExportError, match=re.escape(f"bob ({shown}")):
        export(db(root), COURSE_ID, A, "moodle", DATA / "roster.csv")
    text, messages = export(db(root), COURSE_ID, A, "moodle", DATA / "roster.csv", allow_missing=True)
    assert "bob" not in text and text.count("\n") == 3
    assert any(m.startswith("left out: 1 student(s) without a final grade") and "bob" in m
               for m in messages)


def test_graded_with_problems_is_a_grade(course, tmp_path):
    entries = {s: GRADED for s in SCORES}
    entries["bob"] = {"status": "graded_with_problems", "problems": ["several notebooks; used x"]}
    root = course_with_states(tmp_path, entries, course)
    text, messages = export(db(root), COURSE_ID, A, "csv")
    assert "bob,2.5,5" in text and messages == []


def test_no_grading_state_is_refused_unless_the_gradebook_is_trusted(course, tmp_path):
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy2(course / "gradebook.db", root / "gradebook.db")
    with pytest.raises(ExportError, match="no grading state .*--trust-gradebook"):
        export(db(root), COURSE_ID, A, "csv")
    text, _ = export(db(root), COURSE_ID, A, "csv", trust_gradebook=True)
    assert text.splitlines()[1:] == ["alice,5,5", "bob,2.5,5", "carol,1,5"]


def test_an_unreadable_state_is_an_error(course, tmp_path):
    root = course_with_states(tmp_path, {}, course)
    (root / "autograded" / f".grading-state-{A}.json").write_text("{not json")
    with pytest.raises(ExportError, match="cannot be read"):
        export(db(root), COURSE_ID, A, "csv")


def set_written_answer(db_url: str, student: str, manual_score=None) -> None:
    """A manually graded cell for `student`: waiting (no score) or graded (as formgrader does)."""
    from nbgrader.api import Gradebook
    with Gradebook(db_url, COURSE_ID) as gb:
        if not any(c.name == "written" for c in gb.find_notebook(A, A).grade_cells):
            gb.add_grade_cell("written", A, A, max_score=5, cell_type="markdown")
            for s in SCORES:  # nbgrader made the submissions' grades before the cell existed
                gb.db.add(__import__("nbgrader.api", fromlist=["Grade"]).Grade(
                    cell_id=gb.find_grade_cell("written", A, A).id,
                    notebook_id=gb.find_submission_notebook(A, A, s).id, needs_manual_grade=False))
        grade = gb.find_grade("written", A, A, student)
        grade.manual_score = manual_score
        grade.needs_manual_grade = manual_score is None
        gb.db.commit()


def test_waiting_for_a_manual_grade_is_listed_then_exported_once_graded(course, tmp_path):
    root = course_with_states(tmp_path, {s: GRADED for s in SCORES}, course)
    set_written_answer(db(root), "alice")
    with pytest.raises(ExportError, match=r"1 submission\(s\) need manual grading .*: alice"):
        export(db(root), COURSE_ID, A, "csv")
    set_written_answer(db(root), "alice", manual_score=4)
    text, messages = export(db(root), COURSE_ID, A, "csv")
    assert "alice,9,10" in text and messages == []


# ------------------------------------------------------------------------------ roster and LMS columns
def test_moodle_roster_without_the_id_column_names_the_column(course, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name,canvas_id\nalice,A,1\nbob,B,2\ncarol,C,3\n")
    with pytest.raises(ExportError, match=r"roster.csv has no column 'email' \(--moodle-id\)"):
        export(db(course), COURSE_ID, A, "moodle", roster)
    with pytest.raises(ExportError, match=r"has no column 'idnumber' \(--moodle-id\)"):
        export(db(course), COURSE_ID, A, "moodle", roster, moodle_id="idnumber")


def test_canvas_roster_without_any_id_column_says_which_are_needed(course, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name,email\nalice,A,a@x\nbob,B,b@x\ncarol,C,c@x\n")
    with pytest.raises(ExportError, match="none of the columns canvas_id, sis_user_id, sis_login_id"):
        export(db(course), COURSE_ID, A, "canvas", roster, column="Schedules (4711)")


def test_canvas_column_without_an_assignment_id_is_a_warning(course):
    _, messages = export(db(course), COURSE_ID, A, "canvas", DATA / "roster.csv")
    assert any(m.startswith("warning: the Canvas column 'schedules' names no Canvas assignment id")
               for m in messages), messages
    _, messages = export(db(course), COURSE_ID, A, "canvas", DATA / "roster.csv", column="Schedules (4711)")
    assert messages == []


# ------------------------------------------------------------------------------ files an instructor opens
HOSTILE = ("student_id,name,canvas_id,sis_user_id,sis_login_id,section,email,username,idnumber\n"
           "alice,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"Alice\"\")\",1001,S-1001,aliddell,"
           "@SUM(1+1),alice@example.edu,aliddell,20261001\n"
           "bob,+Bob,1002,S-1002,bbuilder,-2+3,bob@example.edu,bbuilder,20261002\n"
           "carol,\"O'Hara, Carol\",1003,S-1003,cohara,Section B,carol@example.edu,cohara,20261003\n")


def test_display_cells_that_start_a_formula_are_neutralized(course, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(HOSTILE)
    for fmt in ("canvas", "csv"):
        text, _ = export(db(course), COURSE_ID, A, fmt, roster, column="Schedules (4711)")
        cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
        live = [c for c in cells if c.startswith(("=", "+", "-", "@")) and not re.fullmatch(r"[+-]?[\d.]+", c)]
        assert live == [], f"{fmt}: cells a spreadsheet would run"
        assert "'=HYPERLINK(\"http://evil.example\",\"Alice\")" in cells and "'+Bob" in cells
        assert "'@SUM(1+1)" in cells and "'-2+3" in cells and "2.5" in cells


def test_an_lms_id_that_starts_a_formula_is_refused(course, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(HOSTILE.replace("bob@example.edu", "=cmd|' /C calc'!A0").replace(",1002,", ",+1002,"))
    with pytest.raises(ExportError, match=r"email of bob .=cmd.*refused"):
        export(db(course), COURSE_ID, A, "moodle", roster)
    with pytest.raises(ExportError, match=r"canvas_id of bob '\+1002'.*refused"):
        export(db(course), COURSE_ID, A, "canvas", roster, column="Schedules (4711)")


@pytest.mark.parametrize("encoding,delimiter", [("cp1252", ";"), ("latin-1", ","), ("utf-8-sig", ";")])
def test_rosters_from_spreadsheets_are_read(course, tmp_path, encoding, delimiter):
    text = (DATA / "roster.csv").read_text().replace("Liddell, Alice", "Liddell, Alîce")
    rows = list(csv.reader(io.StringIO(text)))
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    roster = tmp_path / "roster.csv"
    roster.write_bytes(buf.getvalue().encode(encoding))
    out, messages = export(db(course), COURSE_ID, A, "canvas", roster, column="Schedules (4711)")
    assert '"Liddell, Alîce",1001' in out
    assert bool(messages) == (encoding != "utf-8-sig")  # the note that it was not UTF-8


def run_export(course, *args):
    cmd = [sys.executable, "-m", "grading", "export", A, "--course-root", str(course), *args]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)


def test_command_line_roster_errors_are_one_line_and_boms_follow_the_format(course, tmp_path):
    bad = tmp_path / "roster.csv"
    bad.write_bytes(b"student_id,name\nalice,\x81\x8d\n")
    proc = run_export(course, "--format", "csv", "--roster", str(bad))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: roster.csv is not UTF-8")
    plain, canvas = tmp_path / "plain.csv", tmp_path / "canvas.csv"
    assert run_export(course, "--format", "csv", "-o", str(plain)).returncode == 0
    assert plain.read_bytes().startswith(b"\xef\xbb\xbfstudent_id,score,max_score\n")
    proc = run_export(course, "--format", "canvas", "--roster", str(DATA / "roster.csv"),
                      "--column", "Schedules (4711)", "-o", str(canvas))
    assert proc.returncode == 0 and canvas.read_bytes().startswith(b"Student,")
    assert "no feedback archive: pass --submissions" in proc.stderr
    proc = run_export(course, "--format", "canvas", "--roster", str(DATA / "roster.csv"),
                      "--column", "Schedules (4711)", "-o", str(canvas), "--bom")
    assert canvas.read_bytes().startswith(b"\xef\xbb\xbfStudent,")


# ------------------------------------------------------------------------------ feedback back into the LMS
# The LMSs' own rules for the names in a bulk feedback upload, ported from their source:
# Moodle: mod/assign/feedback/file/importziplib.php, is_valid_filename_for_import (4.1 and later,
# and before 4.1);
# Canvas: app/models/assignment.rb, infer_comment_context_from_filename (and ContentZipper's
# download names `<sortable name>[_LATE]_<user id>_<attachment id>_<file name>`).
def moodle_import(names, participants):
    """{participant id: [file name as Moodle stores it]} for the entries Moodle would import."""
    out = {}
    for full in names:
        filename = full.rsplit("/", 1)[-1]
        if full.endswith("/") or filename.startswith((".", "~")):
            continue
        parts = full.split("/")
        while parts:
            info = parts.pop(0).split("_", 4)
            if len(info) < 4 or not info[1].isdigit() or int(info[1]) not in participants:
                continue
            if (info[2], info[3]) not in {("assignsubmission", "file"), ("assignfeedback", "file")}:
                continue
            out.setdefault(int(info[1]), []).append("/".join([info[4] if len(info) > 4 else "", *parts])
                                                    .lstrip("/"))
            break
    return out


def moodle_import_before_4_1(names, participants):
    """The same for Moodle before 4.1: the whole path (under /import/) split at the first four `_`."""
    out = {}
    for full in names:
        if full.endswith("/") or full.rsplit("/", 1)[-1].startswith((".", "~")):
            continue
        info = f"/import/{full}".split("_", 4)
        if len(info) == 5 and info[1].isdigit() and int(info[1]) in participants \
                and (info[2], info[3]) == ("assignfeedback", "file"):
            out.setdefault(int(info[1]), []).append(info[4].lstrip("/"))
    return out


def canvas_reupload(names, attachments):
    """{user id: [file]} for the entries Canvas would attach; attachments: user -> their files' ids."""
    out = {}
    for full in names:
        filename = full.rsplit("/", 1)[-1]
        split = filename.split("_")
        ids = [p for p in split if re.fullmatch(r"\d+", p)][:2]
        if len(ids) < 2 or split[-1].startswith("link") or filename.startswith("._"):
            continue
        user, attachment = map(int, ids)
        if attachment in attachments.get(user, ()):
            out.setdefault(user, []).append(filename)
    return out


IDS = {"501": ("Alice Liddell", "liddellalice", 9001), "502": ("Bob Builder", "builderbob_LATE", 9002),
       "503": ("Carol O'Hara", "oharacarol", 9003)}
LMS_ROSTER = "student_id,name,canvas_id,email\n" + "".join(
    f"{s},\"{n}\",{s},{n.split()[0].lower()}@example.edu\n" for s, (n, _, _) in IDS.items())


@pytest.fixture(scope="module")
def lms_course(tmp_path_factory):
    """Students graded from LMS downloads: their ids are Moodle's participant ids and Canvas's
    user ids (the --regex of docs/grading.md); feedback files as the batch writes them."""
    root = tmp_path_factory.mktemp("lms") / "course"
    root.mkdir()
    shutil.copy2(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    build_gradebook(f"sqlite:///{root / 'gradebook.db'}", dict(zip(IDS, SCORES.values())))
    write_state(root, {s: GRADED for s in IDS})
    for s, (name, _, _) in IDS.items():
        fb = root / "feedback" / s / A
        fb.mkdir(parents=True)
        (fb / f"{A}.html").write_text(f"<html>feedback of {name}</html>")
    (root / "feedback" / "501" / A / "figures").mkdir()
    (root / "feedback" / "501" / A / "figures" / "curve.png").write_bytes(b"\x89PNG...")
    (root / "roster.csv").write_text(LMS_ROSTER)
    with zipfile.ZipFile(root / "moodle.zip", "w") as z:
        for s, (name, _, _) in IDS.items():
            z.writestr(f"{name}_{s}_assignsubmission_file/Copy of {A}.ipynb", "{}")
        z.writestr("__MACOSX/._x", "")
    with zipfile.ZipFile(root / "canvas.zip", "w") as z:
        for s, (_, prefix, attachment) in IDS.items():
            z.writestr(f"{prefix}_{s}_{attachment}_Copy_of_{A}.ipynb", "{}")
    return root


def test_moodle_feedback_archive_imports_as_moodle_reads_it(lms_course, tmp_path):
    out = tmp_path / "moodle.csv"
    proc = run_export(lms_course, "--format", "moodle", "--roster", str(lms_course / "roster.csv"),
                      "-o", str(out), "--submissions", str(lms_course / "moodle.zip"),
                      "--regex", r"_(?P<student>\d+)_assignsubmission")
    assert proc.returncode == 0, proc.stderr
    archive = tmp_path / "moodle-feedback.zip"
    assert f"{archive}: feedback of 3 student(s)" in proc.stderr
    names = zipfile.ZipFile(archive).namelist()
    assert sorted(names) == sorted([f"Alice Liddell_501_assignfeedback_file_/{A}.html",
                                    "Alice Liddell_501_assignfeedback_file_/figures/curve.png",
                                    f"Bob Builder_502_assignfeedback_file_/{A}.html",
                                    f"Carol O'Hara_503_assignfeedback_file_/{A}.html"])
    for rule in (moodle_import, moodle_import_before_4_1):
        imported = rule(names, participants={501, 502, 503})
        assert {k: sorted(v) for k, v in imported.items()} == \
            {501: ["figures/curve.png", f"{A}.html"], 502: [f"{A}.html"], 503: [f"{A}.html"]}, rule
    assert zipfile.ZipFile(archive).read(f"Bob Builder_502_assignfeedback_file_/{A}.html") \
        == b"<html>feedback of Bob Builder</html>"


def test_canvas_feedback_archive_reuploads_as_canvas_reads_it(lms_course, tmp_path):
    archive = tmp_path / "back.zip"
    proc = run_export(lms_course, "--format", "canvas", "--roster", str(lms_course / "roster.csv"),
                      "--column", "Schedules (4711)", "--submissions", str(lms_course / "canvas.zip"),
                      "--regex", r"^[a-z]+_(?:LATE_)?(?P<student>\d+)_", "--feedback-zip", str(archive))
    assert proc.returncode == 0, proc.stderr
    names = zipfile.ZipFile(archive).namelist()
    assert "builderbob_LATE_502_9002_schedules.html" in names
    attached = canvas_reupload(names, {501: {9001}, 502: {9002}, 503: {9003}})
    assert {k: sorted(v) for k, v in attached.items()} == \
        {501: ["liddellalice_501_9001_figures-curve.png", f"liddellalice_501_9001_{A}.html"],
         502: [f"builderbob_LATE_502_9002_{A}.html"], 503: [f"oharacarol_503_9003_{A}.html"]}
    assert len(names) == 4


def test_feedback_archive_holds_only_exported_students_and_checks_canvas_ids(lms_course, tmp_path):
    from grading.export import read_download, write_feedback_archive
    download = read_download(lms_course / "canvas.zip", "canvas", r"^[a-z]+_(?:LATE_)?(?P<student>\d+)_")
    assert set(download) == set(IDS)
    out = tmp_path / "fb.zip"
    count, messages = write_feedback_archive(
        "canvas", ["501", "502", "999"], lambda s: lms_course / "feedback" / s / A, download,
        {"501": {"canvas_id": "501"}}, out)
    assert count == 2 and "no file in the download (--submissions, --regex): 999" in messages[0]
    assert {n.split("_")[1] for n in zipfile.ZipFile(out).namelist()} == {"501", "LATE"}
    with pytest.raises(ExportError, match=r"501 \(roster canvas_id 777, download user id 501\)"):
        write_feedback_archive("canvas", ["501"], lambda s: lms_course / "feedback" / s / A, download,
                               {"501": {"canvas_id": "777"}}, tmp_path / "no.zip")
    assert not (tmp_path / "no.zip").exists()


def test_the_instructors_guide_commands_run_as_written(lms_course, tmp_path):
    """docs/instructor.md, "Returning grades and feedback": each export command, run in a folder
    holding the files it names, writes the grades file and the feedback archive."""
    import shlex
    text = (REPO / "docs" / "instructor.md").read_text()
    section = text.split("## Returning grades and feedback", 1)[1].split("\n## ", 1)[0]
    commands = [shlex.split(block.replace("\\\n", " "))
                for block in re.findall(r"```bash\n(.*?)```", section, re.DOTALL)]
    assert [c[5] for c in commands] == ["--format", "--format"]
    shutil.copy2(lms_course / "roster.csv", tmp_path / "roster.csv")
    shutil.copy2(lms_course / "moodle.zip", tmp_path / "moodle-download.zip")
    shutil.copy2(lms_course / "canvas.zip", tmp_path / "canvas-download.zip")
    for command in commands:
        assert command[:4] == ["python", "-m", "grading", "export"]
        env = dict(os.environ, PYTHONPATH=str(REPO))
        proc = subprocess.run([sys.executable, *command[1:], "--course-root", str(lms_course)],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        fmt = command[6]
        assert (tmp_path / f"{fmt}.csv").read_text().count("\n") == 4 + (fmt == "canvas")
        assert len(zipfile.ZipFile(tmp_path / f"{fmt}-feedback.zip").namelist()) == 4
        assert "warning" not in proc.stderr, proc.stderr
