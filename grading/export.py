"""Grades of one assignment, from the gradebook, as the file an LMS imports.

    python -m grading export schedules --format canvas --roster roster.csv -o canvas.csv
    python -m grading export schedules --format moodle --roster roster.csv --moodle-id email
    python -m grading export schedules --format csv

The grade of a submission is nbgrader's: the sum of its cells' scores minus the late penalty,
never below 0 (as `nbgrader export` computes it). The roster (a CSV with a `student_id` column,
the course's nbgrader ids) maps each student to the LMS: Canvas reads `name`, `canvas_id`,
`sis_user_id`, `sis_login_id`, `section`; Moodle reads the column named by --moodle-id. Without
--roster the gradebook's own student records are used (`nbgrader db student add --lms-user-id
--email ...`). A graded student missing from the roster, or a roster student without a graded
submission, is an error that lists them all; --allow-missing leaves them out of the file and
lists them on stderr instead.
"""
from __future__ import annotations

import argparse
import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path

FORMATS = ("canvas", "moodle", "csv")
CANVAS_IDS = ("canvas_id", "sis_user_id", "sis_login_id")  # Canvas matches a row on any of them
MOODLE_IDS = ("email", "idnumber", "username")


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
    """(one Grade per submission of the assignment, the assignment's maximum) from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry
    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///"):]).exists():
        raise ExportError(f"no gradebook at {db_url} (see --course-root, --db-url)")
    with Gradebook(db_url, course_id) as gb:
        try:
            a = gb.find_assignment(assignment)
        except MissingEntry:
            raise ExportError(f"assignment {assignment!r} is not in the gradebook {db_url} "
                              "(grade it first: python -m grading ...)") from None
        grades = [Grade(s.student.id, max(0.0, float(s.score) - float(s.late_submission_penalty or 0)),
                        float(s.max_score), bool(s.needs_manual_grade))
                  for s in a.submissions]
        return sorted(grades, key=lambda g: g.student_id), float(a.max_score)


def gradebook_roster(db_url: str, course_id: str) -> dict[str, dict]:
    """student_id -> LMS fields, from the gradebook's student records (no --roster)."""
    from nbgrader.api import Gradebook
    with Gradebook(db_url, course_id) as gb:
        roster = {}
        for s in gb.students:
            name = ", ".join(p for p in (s.last_name, s.first_name) if p)
            roster[s.id] = {"student_id": s.id, "name": name or s.id, "canvas_id": s.lms_user_id or "",
                            "email": s.email or ""}
        return roster


def read_roster(path: Path) -> dict[str, dict]:
    """student_id -> the row of a roster CSV (header required, `student_id` column required)."""
    text = Path(path).read_text(encoding="utf-8-sig")  # a BOM from Excel is fine
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or "student_id" not in rows[0]:
        raise ExportError(f"roster {path}: needs a header row with a `student_id` column "
                          "(the course's student ids) and the LMS ids")
    roster, dupes = {}, []
    for row in rows:
        sid = (row.get("student_id") or "").strip()
        if not sid:
            continue
        if sid in roster:
            dupes.append(sid)
        roster[sid] = {k.strip(): (v or "").strip() for k, v in row.items() if k}
    if dupes:
        raise ExportError(f"roster {path}: student ids listed twice: {', '.join(sorted(set(dupes)))}")
    return roster


# ------------------------------------------------------------------------------ checking
def match(grades: list[Grade], roster: dict[str, dict], lms_id_of, allow_missing: bool):
    """(grades to write, messages): every graded student needs an LMS id and every roster student
    a grade, else ExportError listing them (or, with allow_missing, they are left out)."""
    graded = {g.student_id for g in grades}
    no_lms = sorted(g.student_id for g in grades if not lms_id_of(roster.get(g.student_id)))
    not_graded = sorted(set(roster) - graded)
    problems = []
    if no_lms:
        problems.append(f"{len(no_lms)} graded student(s) with no LMS id in the roster: " + ", ".join(no_lms))
    if not_graded:
        problems.append(f"{len(not_graded)} roster student(s) with no graded submission: "
                        + ", ".join(not_graded))
    if problems and not allow_missing:
        raise ExportError("\n".join(problems) + "\n(fix the roster, grade the missing submissions, "
                          "or pass --allow-missing to leave these students out)")
    messages = [f"left out: {p}" for p in problems]
    manual = sorted(g.student_id for g in grades if g.needs_manual_grade)
    if manual:
        messages.append(f"warning: {len(manual)} submission(s) still need manual grading "
                        f"(exported with the points given so far): {', '.join(manual)}")
    return [g for g in grades if g.student_id not in no_lms], messages


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


def render(rows) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def export(db_url: str, course_id: str, assignment: str, fmt: str, roster_path: Path | None = None,
           column: str | None = None, moodle_id: str = "email",
           allow_missing: bool = False) -> tuple[str, list[str]]:
    """(the file's text, messages for stderr)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    grades, max_score = read_grades(db_url, course_id, assignment)
    roster = read_roster(roster_path) if roster_path else gradebook_roster(db_url, course_id)
    column = column or assignment
    if fmt == "canvas":
        def lms_id(r):
            return r and any(r.get(k) for k in CANVAS_IDS)
    elif fmt == "moodle":
        if moodle_id not in MOODLE_IDS:
            raise ExportError(f"--moodle-id must be one of {', '.join(MOODLE_IDS)}")
        def lms_id(r):
            return r and r.get(moodle_id)
    elif roster_path:
        def lms_id(r):
            return r is not None  # plain CSV with a roster: every graded student on it
    else:
        def lms_id(r):
            return True  # plain CSV: the course ids are enough
        roster = {}
    keep, messages = match(grades, roster, lms_id, allow_missing)
    if fmt == "canvas":
        rows = canvas_rows(keep, roster, column, max_score)
    elif fmt == "moodle":
        rows = moodle_rows(keep, roster, column, moodle_id)
    else:
        rows = csv_rows(keep, roster)
    return render(rows), messages


# ------------------------------------------------------------------------------ command
def main(argv=None) -> int:
    from .course import REPO, GradingError, load_config
    p = argparse.ArgumentParser(prog="python -m grading export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("assignment", help="assignment id")
    p.add_argument("--format", required=True, choices=FORMATS, help="the LMS's import format")
    p.add_argument("--roster", type=Path, help="CSV: student_id and the LMS ids (see above)")
    p.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    p.add_argument("--column", help="grade column name (default: the assignment id; for Canvas, "
                                    "'NAME (CANVAS_ASSIGNMENT_ID)' as in its own export)")
    p.add_argument("--moodle-id", default="email", choices=MOODLE_IDS,
                   help="roster column that identifies a Moodle user (default: email)")
    p.add_argument("--allow-missing", action="store_true",
                   help="leave out, and list, students missing from the roster or the gradebook")
    p.add_argument("--course-root", type=Path, default=REPO,
                   help="folder with nbgrader_config.py (default: the repository)")
    p.add_argument("--db-url", help="gradebook URL (default: the course's, sqlite:///.../gradebook.db)")
    a = p.parse_args(argv)
    try:
        from nbgrader.coursedir import CourseDirectory
        cd = CourseDirectory(config=load_config(Path(a.course_root).resolve(), a.db_url))
        text, messages = export(cd.db_url, cd.course_id, a.assignment, a.format, a.roster,
                                a.column, a.moodle_id, a.allow_missing)
    except (ExportError, GradingError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in messages:
        print(line, file=sys.stderr)
    if a.output:
        a.output.write_text(text, encoding="utf-8")
        print(f"{a.output}: {text.count(chr(10)) - 1 - (a.format == 'canvas')} student(s)", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
