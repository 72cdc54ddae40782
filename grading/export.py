"""Grades and feedback of one assignment, from the gradebook into the files an LMS imports.

The grades as the CSV file of the LMS's grade import, the students' feedback as the archive its
bulk feedback upload takes:

    python -m grading export schedules --format canvas --roster roster.csv --column 'Schedules (4711)' \\
        -o canvas.csv --submissions canvas-download.zip --regex '^[^_]+_(?:LATE_)?(?P<student>\\d+)_\\d+_'
    python -m grading export schedules --format moodle --roster roster.csv --moodle-id email \\
        -o moodle.csv --submissions moodle-download.zip --regex '_(?P<student>\\d+)_assignsubmission'
    python -m grading export schedules --format csv

The grade of a submission is nbgrader's: the sum of its cells' scores minus the late penalty,
never below 0 (as `nbgrader export` computes it), read for all submissions in one query. Only a
final grade is exported: the grader's record of the student (its resume state) must say it was
graded (`ok`, or `graded_with_problems`: problems of the student's own making), and no cell may
still wait for a manual grade. Anyone else (an error, a timeout, a grader that stopped, no record)
is an error that lists them with their status; --allow-missing leaves them out and lists them.

The roster (a CSV with a `student_id` column, the course's nbgrader ids) maps each student to the
LMS: Canvas reads `name`, `canvas_id`, `sis_user_id`, `sis_login_id`, `section`; Moodle reads the
column named by --moodle-id. Without --roster the gradebook's own student records are used
(`nbgrader db student add --lms-user-id --email ...`). A graded student missing from the roster,
or a roster student without a graded submission, is an error that lists them all; --allow-missing
leaves them out of the file and lists them on stderr instead.

Feedback (Canvas, Moodle): with --submissions, the zip (or folder) downloaded from the LMS and
graded (with the same --regex), the feedback files of every exported student go into one archive
named as the LMS's upload expects; see docs/instructor.md, "Returning grades and feedback".
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from . import spreadsheet, state
from .spreadsheet import Roster, RosterError, UnsafeValue

FORMATS = ("canvas", "moodle", "csv")
CANVAS_IDS = ("canvas_id", "sis_user_id", "sis_login_id")  # Canvas matches a row on any of them
MOODLE_IDS = ("email", "idnumber", "username")
# The grader's statuses that are a grade: graded, or graded with problems of the student's own
# making (those a rerun keeps). Anything else (timeout, kernel_died, error, not_graded, claimed,
# released, a status added later) is not, until the student is graded again.
FINAL = state.DONE
CANVAS_COLUMN = re.compile(r".*\(\s*\d+\s*\)\s*")  # "Schedules (4711)": Canvas's assignment id


class ExportError(RuntimeError):
    """Missing students, a bad roster, an unknown assignment: nothing is written (exit 2)."""


@dataclass
class Grade:
    student_id: str
    score: float         # after the late penalty, as nbgrader export
    max_score: float
    needs_manual_grade: bool


# ------------------------------------------------------------------------------ reading
def read_grades(db_url: str, course_id: str, assignment: str) -> tuple[list[Grade], float]:
    """(one Grade per submission of the assignment, the assignment's maximum) from the gradebook,
    in one aggregate query over nbgrader's tables (its per-object properties ran one query per
    submission and property; see scripts/bench_export.py)."""
    from nbgrader.api import (Assignment, Gradebook, Grade as CellGrade, MissingEntry,
                              SubmittedAssignment, SubmittedNotebook)
    from sqlalchemy import case, func, select
    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///"):]).exists():
        raise ExportError(f"no gradebook at {db_url} (see --course-root, --db-url)")
    with Gradebook(db_url, course_id) as gb:
        try:
            a = gb.find_assignment(assignment)
        except MissingEntry:
            raise ExportError(f"assignment {assignment!r} is not in the gradebook {db_url} "
                              "(grade it first: python -m grading ...)") from None
        max_score = float(a.max_score)
        # Per notebook: its cells' scores (nbgrader's Grade.score: manual over auto, plus extra
        # credit), whether one waits for a manual grade, its late penalty; then per submission.
        notebooks = (
            select(SubmittedNotebook.assignment_id.label("submission"),
                   func.coalesce(func.sum(CellGrade.score), 0.0).label("score"),
                   func.max(case((CellGrade.needs_manual_grade, 1), else_=0)).label("manual"),
                   func.coalesce(SubmittedNotebook.late_submission_penalty, 0.0).label("late"))
            .select_from(SubmittedNotebook)
            .outerjoin(CellGrade, CellGrade.notebook_id == SubmittedNotebook.id)
            .group_by(SubmittedNotebook.id, SubmittedNotebook.assignment_id,
                      SubmittedNotebook.late_submission_penalty)
            .subquery())
        rows = gb.db.execute(
            select(SubmittedAssignment.student_id,
                   func.coalesce(func.sum(notebooks.c.score), 0.0),
                   func.coalesce(func.sum(notebooks.c.late), 0.0),
                   func.coalesce(func.max(notebooks.c.manual), 0))
            .select_from(SubmittedAssignment)
            .outerjoin(notebooks, notebooks.c.submission == SubmittedAssignment.id)
            .where(SubmittedAssignment.assignment_id == a.id)
            .group_by(SubmittedAssignment.id, SubmittedAssignment.student_id)).all()
    grades = [Grade(student, max(0.0, float(score) - float(late)), max_score, bool(manual))
              for student, score, late, manual in rows]
    return sorted(grades, key=lambda g: g.student_id), max_score


def read_states(db_url: str, course_id: str, assignment: str,
                autograded_dir: Path | None = None) -> dict[str, dict] | None:
    """student -> {"status", "problems"} from the grader's resume state, read only (grading/state.py
    writes it; this is its one reader here): the JSON file `state.state_path` for a SQLite
    gradebook, else the table `state.TABLE` of the gradebook's database, where the
    row's status column is the current one (`claimed` while a grader holds it). None when the
    assignment has no state (never graded by `python -m grading`)."""
    if not db_url.startswith("sqlite"):
        import sqlalchemy as sa
        engine = sa.create_engine(db_url)
        try:
            if not sa.inspect(engine).has_table(state.TABLE):
                return None
            t = sa.Table(state.TABLE, sa.MetaData(), autoload_with=engine)
            with engine.connect() as conn:
                rows = conn.execute(sa.select(t.c.student, t.c.status, t.c.owner, t.c.entry).where(
                    (t.c.course == course_id) & (t.c.assignment == assignment))).all()
        finally:
            engine.dispose()
        if not rows:
            return None
        states = {}
        for student, status, owner, entry in rows:
            entry = json.loads(entry) if entry else {}
            states[student] = {"status": status, "problems": entry.get("problems", []), "owner": owner}
        return states
    if autograded_dir is None:  # nbgrader's default layout: autograded/ beside gradebook.db
        autograded_dir = Path(db_url[len("sqlite:///"):]).parent / "autograded"
    path = state.state_path(autograded_dir, assignment)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise ExportError(f"the grading state {path} cannot be read ({exc}): rerun the batch "
                          "(python -m grading ...), which grades everyone again") from None
    return {s: e for s, e in data.items() if isinstance(e, dict)}


def not_final(entry: dict | None) -> str | None:
    """Why a student's gradebook score is not a grade yet, or None when it is."""
    if entry is None:
        return "no grading record (never graded, or its grader stopped before recording it)"
    status = str(entry.get("status"))
    if status in FINAL:
        return None
    why = "; ".join(entry.get("problems") or [])
    if status == "claimed":
        why = f"being graded by {entry.get('owner') or 'another grader'}"
    elif status == "released":
        why = "its grader stopped before finishing it"
    return f"{status}: {why}" if why else status


def gradebook_roster(db_url: str, course_id: str) -> Roster:
    """The gradebook's student records as a roster (no --roster)."""
    from nbgrader.api import Gradebook
    with Gradebook(db_url, course_id) as gb:
        rows = {}
        for s in gb.students:
            name = ", ".join(p for p in (s.last_name, s.first_name) if p)
            rows[s.id] = {"student_id": s.id, "name": name or s.id, "canvas_id": s.lms_user_id or "",
                          "email": s.email or ""}
    return Roster("the gradebook's student records", ["student_id", "name", "canvas_id", "email"], rows)


def read_roster(path: Path, encoding: str | None = None) -> Roster:
    try:
        return spreadsheet.read_roster(path, encoding=encoding)
    except RosterError as exc:
        raise ExportError(str(exc)) from None


# ------------------------------------------------------------------------------ checking
def match(grades: list[Grade], states: dict | None, roster: dict[str, dict], lms_id_of,
          allow_missing: bool) -> tuple[list[Grade], list[str]]:
    """(grades to write, messages). A student is written only with a final grade (`not_final`;
    states None: the gradebook is trusted), no cell waiting for a manual grade, and an LMS id;
    every roster student needs such a grade. Else ExportError listing them all, or with
    allow_missing they are left out and listed."""
    by_student = {g.student_id: g for g in grades}
    unfinished = {}
    if states is not None:
        for student in sorted(set(by_student) | set(states)):
            why = not_final(states.get(student))
            if why is None and student not in by_student:
                why = "recorded as graded, but not in the gradebook"
            if why is not None:
                unfinished[student] = why
    manual = sorted(s for s, g in by_student.items() if g.needs_manual_grade and s not in unfinished)
    final = [g for g in grades if g.student_id not in unfinished and g.student_id not in manual]
    no_lms = sorted(g.student_id for g in final if not lms_id_of(roster.get(g.student_id)))
    not_graded = sorted(set(roster) - set(by_student) - set(unfinished))
    problems = []
    if unfinished:
        problems.append(f"{len(unfinished)} student(s) without a final grade (never exported as a "
                        "number): " + "; ".join(f"{s} ({why})" for s, why in unfinished.items()))
    if manual:
        problems.append(f"{len(manual)} submission(s) need manual grading and have no manual grade "
                        "yet (nbgrader formgrader): " + ", ".join(manual))
    if no_lms:
        problems.append(f"{len(no_lms)} graded student(s) with no LMS id in the roster: " + ", ".join(no_lms))
    if not_graded:
        problems.append(f"{len(not_graded)} roster student(s) with no graded submission: "
                        + ", ".join(not_graded))
    if problems and not allow_missing:
        raise ExportError("\n".join(problems) + "\n(grade them again with python -m grading, give "
                          "the manual grades, fix the roster, or pass --allow-missing to leave these "
                          "students out)")
    return [g for g in final if g.student_id not in no_lms], [f"left out: {p}" for p in problems]


def lms_id_rule(fmt: str, roster: Roster | None, moodle_id: str):
    """The function telling whether a roster row has the LMS id `fmt` needs; ExportError when the
    roster lacks the column altogether (naming it), so that the cause is not reported per student."""
    where = Path(roster.path).name if roster else ""
    if fmt == "canvas":
        if roster is not None and not set(CANVAS_IDS) & set(roster.columns):
            raise ExportError(f"{where} has none of the columns {', '.join(CANVAS_IDS)} (Canvas matches "
                              f"a row on one of them); its columns: {', '.join(roster.columns)}")
        return lambda r: bool(r) and any(r.get(k) for k in CANVAS_IDS)
    if fmt == "moodle":
        if moodle_id not in MOODLE_IDS:
            raise ExportError(f"--moodle-id must be one of {', '.join(MOODLE_IDS)}")
        if roster is not None and moodle_id not in roster.columns:
            raise ExportError(f"{where} has no column '{moodle_id}' (--moodle-id); its columns: "
                              f"{', '.join(roster.columns)}")
        return lambda r: bool(r) and bool(r.get(moodle_id))
    if roster is None:
        return lambda r: True  # plain CSV without a roster: the course ids are enough
    return lambda r: r is not None  # plain CSV with a roster: every graded student on it


def checked_ids(grades, roster, columns) -> None:
    """ExportError when an LMS id that will be written starts like a spreadsheet formula."""
    bad = []
    for g in grades:
        for column in columns:
            try:
                spreadsheet.check_id(roster[g.student_id].get(column, ""), f"{column} of {g.student_id}")
            except UnsafeValue as exc:
                bad.append(str(exc))
    if bad:
        raise ExportError("roster ids refused:\n  " + "\n  ".join(bad))


# ------------------------------------------------------------------------------ writing
def points(x: float) -> str:
    """2.5 -> '2.5', 3.0 -> '3', 1/3 -> '0.33': what a person would type into the LMS."""
    return f"{round(x, 2):.2f}".rstrip("0").rstrip(".")


def canvas_rows(grades, roster, column: str, max_score: float):
    """Canvas's gradebook CSV: Student, ID, SIS User ID, SIS Login ID, Section, then one column
    per assignment; the second row (Points Possible) is the assignment's maximum."""
    yield ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column]
    yield ["Points Possible", "", "", "", "", points(max_score)]
    for g in grades:
        r = roster[g.student_id]
        yield [r.get("name") or g.student_id, r.get("canvas_id", ""), r.get("sis_user_id", ""),
               r.get("sis_login_id", ""), r.get("section", ""), points(g.score)]


def moodle_rows(grades, roster, column: str, key: str):
    """Moodle's grade import (CSV file): an identifier column and a grade column, mapped in the
    import form (Map from `key` to the same user field; the grade column to the grade item)."""
    yield [key, column]
    for g in grades:
        yield [roster[g.student_id][key], points(g.score)]


def csv_rows(grades, roster):
    extra = sorted({k for r in roster.values() for k in r} - {"student_id"})
    yield ["student_id", *extra, "score", "max_score"]
    for g in grades:
        r = roster.get(g.student_id, {})
        yield [g.student_id, *(r.get(k, "") for k in extra), points(g.score), points(g.max_score)]


@dataclass
class Export:
    text: str               # the grades file (spreadsheet-safe CSV)
    messages: list[str]     # for stderr
    grades: list[Grade]     # the students written
    roster: dict            # student -> roster row ({} without one)


def build(db_url: str, course_id: str, assignment: str, fmt: str, roster_path: Path | None = None,
          column: str | None = None, moodle_id: str = "email", allow_missing: bool = False,
          states: dict | None = None, trust_gradebook: bool = False, autograded_dir: Path | None = None,
          roster_encoding: str | None = None) -> Export:
    """The grades file of `fmt` and what to say about it. `states`: the grader's per-student
    records (default: `read_states`); `trust_gradebook`: there are none (plain nbgrader), every
    gradebook submission counts as graded."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    grades, max_score = read_grades(db_url, course_id, assignment)
    if trust_gradebook:
        states = None
    elif states is None:
        states = read_states(db_url, course_id, assignment, autograded_dir)
        if states is None:
            raise ExportError(f"no grading state for {assignment!r}: grade it with python -m grading "
                              "(which records who was graded), or, for a gradebook filled by plain "
                              "`nbgrader autograde`, pass --trust-gradebook")
    roster = read_roster(roster_path, roster_encoding) if roster_path else \
        gradebook_roster(db_url, course_id) if fmt != "csv" else None
    lms_id = lms_id_rule(fmt, roster, moodle_id)
    keep, messages = match(grades, states, roster.rows if roster else {}, lms_id, allow_missing)
    messages = [*(roster.notes if roster else []), *messages]
    column = column or assignment
    if fmt == "canvas":
        if not CANVAS_COLUMN.fullmatch(column):
            messages.append(f"warning: the Canvas column {column!r} names no Canvas assignment id, so "
                            "Canvas's import creates a new assignment; to fill an existing one pass "
                            "--column 'NAME (ID)' as in Canvas's own gradebook export (ID: the number "
                            "in the assignment's address)")
        checked_ids(keep, roster.rows, CANVAS_IDS)
        rows = canvas_rows(keep, roster.rows, column, max_score)
    elif fmt == "moodle":
        checked_ids(keep, roster.rows, (moodle_id,))
        rows = moodle_rows(keep, roster.rows, column, moodle_id)
    else:
        rows = csv_rows(keep, roster.rows if roster else {})
    return Export(spreadsheet.csv_text(rows), messages, keep, roster.rows if roster else {})


def export(*args, **kwargs) -> tuple[str, list[str]]:
    """(the file's text, messages for stderr); the arguments of `build`."""
    done = build(*args, **kwargs)
    return done.text, done.messages


# ------------------------------------------------------------------------------ feedback archives
@dataclass
class Download:
    """One file of the LMS's submissions download, and the LMS ids its name carries."""
    path: str        # inside the download, with /
    student: str     # the course's id, by the same rule as grading (--regex)
    ids: tuple       # moodle: (full name, participant id); canvas: (name prefix, user id, attachment id)


def download_paths(path: Path) -> list[str]:
    """The files of a downloaded zip or folder (hidden files and __MACOSX/ left out)."""
    path = Path(path)
    if path.is_dir():
        names = [p.relative_to(path).as_posix() for p in sorted(path.rglob("*")) if p.is_file()]
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if not n.endswith("/")]
    else:
        raise ExportError(f"--submissions {path}: not a folder or a zip file")
    return [n for n in names if not any(p.startswith(".") or p == "__MACOSX" for p in PurePosixPath(n).parts)]


def moodle_ids(path: str):
    """(full name, participant id) by the rule of Moodle's feedback import
    (assignfeedback_file_zip_importer::is_valid_filename_for_import): the first path part that,
    split at `_` into at most 5 pieces, has 4 or more and a number second."""
    for part in PurePosixPath(path).parts:
        info = part.split("_", 4)
        if len(info) >= 4 and info[1].isascii() and info[1].isdigit():
            return info[0], info[1]
    return None


def canvas_ids(path: str):
    """(name prefix, user id, attachment id) by the rule of Canvas's re-upload
    (Assignment#infer_comment_context_from_filename): the first two parts of the file's name, split
    at `_`, that are all digits; the prefix is the name up to the attachment id."""
    parts = PurePosixPath(path).name.split("_")
    digits = [i for i, p in enumerate(parts) if p.isascii() and p.isdigit()][:2]
    if len(digits) < 2:
        return None
    return "_".join(parts[:digits[0]]), parts[digits[0]], parts[digits[1]]


def read_download(path: Path, fmt: str, regex: str | None) -> dict[str, list[Download]]:
    """student -> the files of the LMS download that belong to them (the student found as the
    grader found it: --regex, else the folder, else the name up to the first `_`)."""
    pattern = re.compile(regex) if regex else None
    if pattern is not None and "student" not in pattern.groupindex:
        raise ExportError("--regex needs a named group (?P<student>...)")
    parse = moodle_ids if fmt == "moodle" else canvas_ids
    found: dict[str, list[Download]] = {}
    for name in download_paths(path):
        if pattern is not None:
            m = pattern.search(name)
            student = m.group("student") if m else None
        else:
            parts = PurePosixPath(name).parts
            student = parts[0] if len(parts) > 1 else name.split("_", 1)[0] if "_" in name else None
        ids = parse(name)
        if student and ids:
            found.setdefault(student, []).append(Download(name, student, ids))
    return found


def feedback_files(feedback_dir: Path) -> list[tuple[str, Path]]:
    """(path relative to the student's feedback folder, file) of every file in it."""
    return [(p.relative_to(feedback_dir).as_posix(), p) for p in sorted(Path(feedback_dir).rglob("*"))
            if p.is_file()]


def archive_names(fmt: str, download: list[Download], files: list[str]) -> list[str]:
    """The names of a student's feedback files in the LMS's archive, in `files`' order.

    Moodle: `FULL NAME_PARTICIPANT_assignfeedback_file_/<file>`, the folder of Moodle's own
    "Download all submissions" with the feedback-file plugin in place of the submission plugin;
    the import attaches the files below it as that participant's feedback files, keeping
    subfolders. The trailing `_` is the form before Moodle 4.1, whose importer split the whole
    path at the first four `_` and needed five pieces; 4.1 and later accept both forms.
    Canvas: `<name prefix>_<user id>_<attachment id>_<file>`, flat, the attachment being the
    student's submitted notebook (the re-upload attaches each file to a comment on the submission
    that holds that attachment)."""
    if fmt == "moodle":
        name, participant = download[0].ids
        return [f"{name}_{participant}_assignfeedback_file_/{rel}" for rel in files]
    chosen = sorted(download, key=lambda d: (not d.path.lower().endswith(".ipynb"), d.path))[0]
    prefix, user, attachment = chosen.ids
    head = f"{prefix}_{user}_{attachment}" if prefix else f"{user}_{attachment}"
    return [f"{head}_{rel.replace('/', '-')}" for rel in files]


def write_feedback_archive(fmt: str, students: list[str], feedback_dir_of, download: dict,
                           roster: dict, out: Path) -> tuple[int, list[str]]:
    """Write the archive of `students`' feedback; (students in it, messages)."""
    no_download, no_feedback, mismatch, entries = [], [], [], []
    for student in students:
        mine = download.get(student)
        if not mine:
            no_download.append(student)
            continue
        if fmt == "canvas":  # the user id of the download must be the roster's Canvas id
            expected = (roster.get(student) or {}).get("canvas_id")
            user = mine[0].ids[1]
            if expected and expected != user:
                mismatch.append(f"{student} (roster canvas_id {expected}, download user id {user})")
                continue
        files = feedback_files(feedback_dir_of(student))
        if not files:
            no_feedback.append(student)
            continue
        names = archive_names(fmt, mine, [rel for rel, _ in files])
        entries += [(name, path) for name, (_, path) in zip(names, files)]
    if mismatch:
        raise ExportError("the download and the roster disagree on Canvas user ids (nothing written): "
                          + "; ".join(mismatch))
    messages = []
    if no_download:
        messages.append(f"warning: no feedback in the archive for {len(no_download)} student(s) with "
                        f"no file in the download (--submissions, --regex): {', '.join(no_download)}")
    if no_feedback:
        messages.append(f"warning: no feedback files for {len(no_feedback)} student(s) (generate them: "
                        f"python -m grading without --no-feedback): {', '.join(no_feedback)}")
    if entries:
        tmp = out.with_name(out.name + ".tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            for name, path in entries:
                z.write(path, name)
        tmp.replace(out)
    count = len(students) - len(no_download) - len(no_feedback)
    return count, messages


# ------------------------------------------------------------------------------ command
def parser() -> argparse.ArgumentParser:
    from .course import REPO
    p = argparse.ArgumentParser(prog="python -m grading export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("assignment", help="assignment id")
    p.add_argument("--format", required=True, choices=FORMATS, help="the LMS's import format")
    p.add_argument("--roster", type=Path, help="CSV: student_id and the LMS ids (see above)")
    p.add_argument("--roster-encoding", help="the roster's encoding (default: UTF-8, else Windows-1252)")
    p.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    p.add_argument("--column", help="grade column name (default: the assignment id; for Canvas, "
                                    "'NAME (CANVAS_ASSIGNMENT_ID)' as in its own export)")
    p.add_argument("--moodle-id", default="email", choices=MOODLE_IDS,
                   help="roster column that identifies a Moodle user (default: email)")
    p.add_argument("--allow-missing", action="store_true",
                   help="leave out, and list, students without a final grade or missing from the roster")
    p.add_argument("--trust-gradebook", action="store_true",
                   help="no grading state to check (a gradebook filled by plain nbgrader autograde)")
    p.add_argument("--bom", action=argparse.BooleanOptionalAction, default=None,
                   help="start -o's file with a UTF-8 byte-order mark, for Excel (default: yes for "
                        "--format csv, no for canvas and moodle, whose imports need none)")
    p.add_argument("--submissions", type=Path,
                   help="Canvas, Moodle: the submissions download from the LMS that was graded; its "
                        "names give the ids of the feedback archive")
    p.add_argument("--regex", help="as when grading the download: the named group 'student'")
    p.add_argument("--feedback-zip", type=Path,
                   help="the feedback archive (default: beside -o, NAME-feedback.zip)")
    p.add_argument("--course-root", type=Path, default=REPO,
                   help="folder with nbgrader_config.py (default: the repository)")
    p.add_argument("--db-url", help="gradebook URL (default: the course's, sqlite:///.../gradebook.db)")
    return p


def course_directory(a: argparse.Namespace):
    """nbgrader's view of the course root (gradebook URL, course id, folders)."""
    from nbgrader.coursedir import CourseDirectory
    from .course import load_config
    return CourseDirectory(config=load_config(Path(a.course_root).resolve(), a.db_url))


def feedback_archive(a: argparse.Namespace, cd, done: Export):
    """(archive path, students in it, messages), or None without --submissions (or for csv)."""
    if a.format == "csv" or not a.submissions:
        return None
    download = read_download(a.submissions, a.format, a.regex)
    out = a.feedback_zip or (a.output.with_name(a.output.stem + "-feedback.zip") if a.output
                             else Path(f"{a.assignment}-{a.format}-feedback.zip"))
    return out, *write_feedback_archive(
        a.format, [g.student_id for g in done.grades],
        lambda s: Path(cd.format_path(cd.feedback_directory, s, a.assignment)),
        download, done.roster, out)


def write_files(a: argparse.Namespace) -> tuple[Export, tuple | None]:
    """The grades file (-o) and the feedback archive, from the options."""
    cd = course_directory(a)
    autograded = Path(cd.autograded_directory)
    if not autograded.is_absolute():
        autograded = Path(cd.root) / autograded
    done = build(cd.db_url, cd.course_id, a.assignment, a.format, a.roster, a.column, a.moodle_id,
                 a.allow_missing, trust_gradebook=a.trust_gradebook, autograded_dir=autograded,
                 roster_encoding=a.roster_encoding)
    archive = feedback_archive(a, cd, done)
    if a.output:
        bom = a.bom if a.bom is not None else a.format == "csv"
        spreadsheet.write_csv(a.output, done.text, bom=bom)
    return done, archive


def say_what_was_written(a: argparse.Namespace, done: Export, archive: tuple | None) -> None:
    """The grades to stdout without -o; on stderr the messages and what went where."""
    for line in done.messages:
        print(line, file=sys.stderr)
    if a.output:
        print(f"{a.output}: {len(done.grades)} student(s)", file=sys.stderr)
    else:
        sys.stdout.write(done.text)
    if archive:
        out, count, messages = archive
        for line in messages:
            print(line, file=sys.stderr)
        if count:
            print(f"{out}: feedback of {count} student(s), for the LMS's bulk feedback upload "
                  "(docs/instructor.md, \"Returning grades and feedback\")", file=sys.stderr)
    elif a.format != "csv":
        print(f"no feedback archive: pass --submissions with the {a.format.capitalize()} download that "
              "was graded (and its --regex) to write one", file=sys.stderr)


def main(argv=None) -> int:
    from .course import GradingError
    a = parser().parse_args(argv)
    try:
        done, archive = write_files(a)
    except (ExportError, GradingError, OSError, re.error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    say_what_was_written(a, done, archive)
    return 0
