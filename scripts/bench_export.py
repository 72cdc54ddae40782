"""Export at scale: synthetic gradebooks of 1,000 and 10,000 graded submissions (SQLite, and
PostgreSQL on a throwaway server), and the time `python -m grading export` takes on them, against
nbgrader's per-object properties (one query per submission and property) that it used before.

    python scripts/bench_export.py                               # 1,000 and 10,000; both databases
    python scripts/bench_export.py --sizes 1000 --no-postgres    # quick look

Each gradebook has one assignment of two notebooks (12 autograded cells and a manually graded
written answer), random scores, late penalties, manual scores with extra credit and a few
submissions still waiting for a manual grade; the grading state says every student was graded.
"Export" is the whole `build` of a Canvas file (grades, state, a roster of N rows, checks, CSV);
"read" is the score query alone. "Report" is the batch report of the same class (every student's
cell scores from the gradebook, grades.csv, the figures and the page: grading/report.py), without
its similarity section (scale_model.py counts that, from tokenizing answers). The per-object reading is timed up to --per-object-max
submissions (it grows faster than linearly; 10,004 did not finish in 400 s on 5e81a18).
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import pwd
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader + SQLAlchemy 2.1
COURSE, ASSIGNMENT = "tdnn", "bench"
CELLS = {"part1": [f"test_{i}" for i in range(6)], "part2": [f"test_{i}" for i in range(6, 12)]}


def per_object_grades(db_url: str, course_id: str, assignment: str) -> dict:
    """student -> (score after the late penalty, needs manual grade): what export computed before,
    through nbgrader's per-object properties (the reference the aggregate query must equal)."""
    from nbgrader.api import Gradebook
    with Gradebook(db_url, course_id) as gb:
        return {s.student.id: (max(0.0, float(s.score) - float(s.late_submission_penalty or 0)),
                               bool(s.needs_manual_grade))
                for s in gb.find_assignment(assignment).submissions}


def build_gradebook(db_url: str, n: int, seed: int = 0) -> None:
    """The assignment and its cells through nbgrader's API, then n students' submissions inserted
    in bulk (the API's add_submission takes about as long per student as the old export)."""
    from nbgrader.api import (Gradebook, Grade, GradeCell, Student, SubmittedAssignment,
                              SubmittedNotebook)
    bindir = str(Path(sys.executable).parent)  # nbgrader runs `alembic` from PATH for a new gradebook
    os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    rng = random.Random(seed)
    with Gradebook(db_url, COURSE) as gb:
        a = gb.add_assignment(ASSIGNMENT)
        cells = []
        for nb_name, names in CELLS.items():
            nb = gb.add_notebook(nb_name, ASSIGNMENT)
            for name in names:
                cells.append((nb.id, gb.add_grade_cell(name, nb_name, ASSIGNMENT, max_score=2,
                                                       cell_type="code").id, "code"))
            if nb_name == "part2":
                cells.append((nb.id, gb.add_grade_cell("written", nb_name, ASSIGNMENT, max_score=5,
                                                       cell_type="markdown").id, "markdown"))
        notebook_ids = sorted({nb for nb, _, _ in cells})
        students, subs, nbs, grades = [], [], [], []
        for i in range(n):
            sid = f"s{i:05d}"
            students.append({"id": sid, "first_name": "Ada", "last_name": f"Student {i}"})
            sub = uuid.uuid4().hex
            subs.append({"id": sub, "assignment_id": a.id, "student_id": sid})
            waiting = rng.random() < 0.03
            for nb in notebook_ids:
                snb = uuid.uuid4().hex
                nbs.append({"id": snb, "assignment_id": sub, "notebook_id": nb, "flagged": False,
                            "late_submission_penalty": rng.choice([None] * 9 + [1.0, 30.0])})
                for cell_nb, cell, kind in cells:
                    if cell_nb != nb:
                        continue
                    manual = kind == "markdown"
                    grades.append({
                        "id": uuid.uuid4().hex, "cell_id": cell, "notebook_id": snb,
                        "auto_score": None if manual else rng.choice([0.0, 0.5, 1.0, 2.0]),
                        "manual_score": (None if waiting else rng.choice([0.0, 2.5, 5.0])) if manual else
                        (1.5 if rng.random() < 0.02 else None),
                        "extra_credit": 0.5 if rng.random() < 0.01 else None,
                        "needs_manual_grade": manual and waiting})
        for model, rows in ((Student, students), (SubmittedAssignment, subs),
                            (SubmittedNotebook, nbs), (Grade, grades)):
            for start in range(0, len(rows), 5000):
                gb.db.execute(model.__table__.insert(), rows[start:start + 5000])
        gb.db.commit()
    _ = GradeCell  # (imported for the table's mapper configuration)


def write_state_and_roster(root: Path, n: int) -> Path:
    state = {f"s{i:05d}": {"status": "ok", "problems": []} for i in range(n)}
    (root / "autograded").mkdir(parents=True, exist_ok=True)
    (root / "autograded" / f".grading-state-{ASSIGNMENT}.json").write_text(json.dumps(state))
    roster = root / "roster.csv"
    roster.write_text("student_id,name,canvas_id,section\n" + "".join(
        f"s{i:05d},\"Student {i}, Ada\",{100000 + i},Section {i % 7}\n" for i in range(n)))
    return roster


@contextlib.contextmanager
def postgres_server():
    """A throwaway PostgreSQL server (Debian's initdb/pg_ctl, Unix socket in a temp folder, as
    `nobody` when run as root); yields a function that makes an empty database's URL."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    bindir = Path(found[-1]).parent
    base = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    as_user = []
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(base, nobody.pw_uid, nobody.pw_gid)
        as_user = ["runuser", "-u", "nobody", "--"]
    data = base / "data"
    run = dict(cwd=base, check=True, capture_output=True, timeout=120)
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                    "--auth=trust", "-E", "UTF8", "--no-sync"], **run)
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w",
                    "start", "-o", f"-k {base} -c listen_addresses='' -c fsync=off"], **run)
    try:
        import psycopg

        def new_database(name: str) -> str:
            with psycopg.connect(host=str(base), user="postgres", dbname="postgres", autocommit=True) as c:
                c.execute(f"CREATE DATABASE {name}")
            return f"postgresql+psycopg://postgres@/{name}?host={base}"
        yield new_database
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                        "stop"], cwd=base, capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def postgres_state(db_url: str, n: int) -> None:
    """The grading state in the server's table, as grading/state.py's DatabaseStore keeps it."""
    import sqlalchemy as sa
    from grading.state import DatabaseStore
    store = DatabaseStore(db_url, COURSE, ASSIGNMENT)
    store.close()
    engine = sa.create_engine(db_url)
    table = sa.Table("grading_state", sa.MetaData(), autoload_with=engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"course": COURSE, "assignment": ASSIGNMENT, "student": f"s{i:05d}",
                                       "key": "k", "status": "ok", "entry": json.dumps({"status": "ok"})}
                                      for i in range(n)])
    engine.dispose()


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def bench(label: str, db_url: str, root: Path, n: int, per_object_max: int) -> None:
    from grading.export import build, read_grades
    roster = write_state_and_roster(root, n)
    t_build, _ = timed(build_gradebook, db_url, n)
    t_read, (grades, _) = timed(read_grades, db_url, COURSE, ASSIGNMENT)
    t_export, done = timed(build, db_url, COURSE, ASSIGNMENT, "canvas", roster,
                           column="Bench (4711)", allow_missing=True, autograded_dir=root / "autograded")
    line = (f"{label:10s} {n:6d} submissions: export {t_export:6.2f} s (score query {t_read:5.2f} s; "
            f"{len(done.grades)} written, {n - len(done.grades)} waiting for a manual grade)")
    if n <= per_object_max:
        t_old, old = timed(per_object_grades, db_url, COURSE, ASSIGNMENT)
        same = old == {g.student_id: (g.score, g.needs_manual_grade) for g in grades}
        line += f"; per-object reading {t_old:6.2f} s, same grades: {'yes' if same else 'NO'}"
    print(line + f"  [gradebook built in {t_build:.1f} s]", flush=True)
    t_scores, t_report = bench_report(db_url, root, n)
    print(f"{label:10s} {n:6d} submissions: report {t_scores + t_report:6.2f} s (scores {t_scores:5.2f} s, "
          f"page and figures {t_report:5.2f} s)", flush=True)


def bench_report(db_url: str, root: Path, n: int) -> tuple[float, float]:
    """(seconds to read every student's cell scores, seconds to write the report)."""
    from nbgrader.api import Gradebook
    from grading.course import read_cell_scores
    from grading.report import write_report
    students = [f"s{i:05d}" for i in range(n)]
    rng = random.Random(1)
    entries = {s: {"status": "ok", "problems": [], "seconds": rng.uniform(5, 60), "files": {}}
               for s in students}
    with Gradebook(db_url, COURSE) as gb:
        t_scores, scores = timed(read_cell_scores, gb, ASSIGNMENT, students)
    t_report, _ = timed(write_report, root / "report", ASSIGNMENT, entries, scores)
    return t_scores, t_report


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    p.add_argument("--no-postgres", action="store_true")
    p.add_argument("--per-object-max", type=int, default=2000)
    a = p.parse_args(argv)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        for n in a.sizes:
            root = Path(tmp) / f"sqlite-{n}"
            root.mkdir()
            bench("SQLite", f"sqlite:///{root / 'gradebook.db'}", root, n, a.per_object_max)
        if not a.no_postgres:
            with postgres_server() as new_database:
                for n in a.sizes:
                    url = new_database(f"bench{n}")
                    postgres_state(url, n)
                    root = Path(tmp) / f"pg-{n}"
                    root.mkdir()
                    bench("PostgreSQL", url, root, n, a.per_object_max)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
