"""A real PostgreSQL gradebook: a throwaway server (Debian's postgresql, initdb/pg_ctl in a temp
folder, Unix socket only, run as `nobody` when the tests run as root: PostgreSQL refuses root),
a small batch graded into it with `--db-url postgresql+psycopg://...`, the same grades as the
default SQLite gradebook, and the export reading them back from the server; the resume state in
that server (`grading.state.DatabaseStore`): atomic claims, and two graders started at once on
one database, handed overlapping students, grade each submission once."""
from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from helpers.course import grading_cmd, make_course, read_grades
from helpers.small_batch import ASSIGNMENT, FAST, default_grades, grade, small_batch

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:.*not in session")]


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0)
    if not found:
        pytest.fail("PostgreSQL is not installed (Debian: apt-get install postgresql; "
                    "scripts/run-tests.sh installs it when run as root)")
    return Path(found[-1]).parent


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL server for this session; yields the SQLAlchemy URL of an empty database."""
    bindir = _pg_bin()
    base = Path(tempfile.mkdtemp(prefix="tdnn-pg-"))  # directly in /tmp: `nobody` must reach it
    as_user: list[str] = []
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(base, nobody.pw_uid, nobody.pw_gid)
        as_user = ["runuser", "-u", "nobody", "--"]
    data, log = base / "data", base / "server.log"

    def pg(*cmd):
        subprocess.run([*as_user, *map(str, cmd)], cwd=base, check=True, capture_output=True,
                       text=True, timeout=120)

    pg(bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
    # No TCP at all: the server listens on a Unix socket in our private folder only.
    pg(bindir / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "start",
       "-o", f"-k {base} -c listen_addresses='' -c fsync=off")
    try:
        import psycopg
        with psycopg.connect(host=str(base), user="postgres", dbname="postgres", autocommit=True) as c:
            c.execute("CREATE DATABASE tdnn")
        yield f"postgresql+psycopg://postgres@/tdnn?host={base}"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                        "stop"], cwd=base, capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def env(offline_env):
    return dict(offline_env)


def test_server_is_real_postgresql(postgres_url):
    import sqlalchemy
    engine = sqlalchemy.create_engine(postgres_url)
    with engine.connect() as conn:
        version = conn.execute(sqlalchemy.text("select version()")).scalar()
    engine.dispose()
    assert version.startswith("PostgreSQL"), version


def test_batch_into_postgresql_gives_the_sqlite_grades(postgres_url, env, tmp_path_factory):
    course, subs = small_batch(tmp_path_factory.mktemp("pg"))
    grades = grade(course, subs, env=env, db_url=postgres_url)
    assert not (course / "gradebook.db").exists(), "grades went to SQLite, not to the server"
    baseline = default_grades(tmp_path_factory, env)
    assert grades == baseline
    assert set(grades) == {"reference", "release"}
    assert grades["reference"]["total"] > 0 and grades["release"]["total"] == 0
    assert all(g["_submissions"] == 1 for g in grades.values())
    # ... and the export reads them from the server.
    from grading.export import export, points
    text, _ = export(postgres_url, "tdnn", ASSIGNMENT, "csv")
    rows = [line.split(",") for line in text.splitlines()[1:]]
    assert {r[0]: r[1] for r in rows} == {s: points(g["total"]) for s, g in grades.items()}


def new_database(postgres_url: str, name: str) -> str:
    """An empty database on the session's server; its SQLAlchemy URL."""
    import psycopg
    host = postgres_url.split("host=")[1]
    with psycopg.connect(host=host, user="postgres", dbname="postgres", autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    return postgres_url.replace("/tdnn?", f"/{name}?")


def test_claims_are_atomic_and_a_dead_graders_claim_expires(postgres_url):
    from grading.state import DatabaseStore
    url = new_database(postgres_url, "tdnn_claims")
    stores = [DatabaseStore(url, "tdnn", "a1") for _ in range(2)]
    students = [f"s{i:02d}" for i in range(40)]
    won: dict = {0: [], 1: []}

    def grab(i):
        for s in students:
            if stores[i].claim(s, "key"):
                won[i].append(s)
    threads = [threading.Thread(target=grab, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won[0] + won[1]) == students, "a student claimed twice or by nobody"
    holder = stores[0] if students[0] in won[0] else stores[1]
    holder.record(students[0], {"key": "key", "status": "ok"})
    # Graded with this key: nobody claims it again; a new key (resubmission) may be claimed.
    assert not stores[0].claim(students[0], "key") and not stores[1].claim(students[0], "key")
    # A grader that dies keeps its claims only until its lease runs out (here: at once).
    dead = DatabaseStore(url, "tdnn", "a2", lease_seconds=-1)
    assert dead.claim("x", "key")
    alive = DatabaseStore(url, "tdnn", "a2")
    assert alive.claim("x", "key")
    assert not dead.claim("x", "key"), "the live grader's claim was taken"
    for store in (*stores, alive, dead):
        store.close()
    assert DatabaseStore(url, "tdnn", "a1").claim(students[-1], "key"), "close() did not give back"


def test_two_graders_on_one_database_grade_each_submission_once(postgres_url, env, tmp_path_factory):
    """Two `python -m grading` started together on one database (two course roots, as two
    machines would have), handed a,b,c and b,c,d: four executions in all, same grades."""
    url = new_database(postgres_url, "tdnn_two")
    root = tmp_path_factory.mktemp("two")
    course0, subs0 = small_batch(root / "files")  # reference and release notebooks to copy
    reference = subs0 / "reference" / f"{ASSIGNMENT}.ipynb"
    release = subs0 / "release" / f"{ASSIGNMENT}.ipynb"
    notebook = {"a": release, "b": reference, "c": release, "d": release}
    run_env = dict(env, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    procs = []
    for name, students in (("one", "abc"), ("two", "bcd")):
        course = make_course(root / name, ASSIGNMENT)
        for s in students:
            (root / name / "subs" / s).mkdir(parents=True)
            shutil.copy2(notebook[s], root / name / "subs" / s / f"{ASSIGNMENT}.ipynb")
        cmd = grading_cmd(course, ASSIGNMENT, root / name / "subs", *FAST, "--workers", "1",
                          "--seed", "13", "--db-url", url)
        procs.append(subprocess.Popen(cmd, cwd=run_env["PYTHONPATH"], env=run_env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    outputs = [p.communicate(timeout=1200) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, f"grader failed ({p.returncode}):\n{out}\n{err[-4000:]}"
    graded_now = [int(re.search(r"(\d+) graded now", out).group(1)) for out, _ in outputs]
    assert sum(graded_now) == 4, f"executions: {graded_now}\n" + "\n".join(o for o, _ in outputs)
    import sqlalchemy
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sqlalchemy.text(
            "SELECT student, owner, status FROM grading_state WHERE assignment = :a"), {"a": ASSIGNMENT}).all()
    engine.dispose()
    assert sorted(r.student for r in rows) == ["a", "b", "c", "d"]
    assert all(r.status in ("ok", "graded_with_problems") for r in rows), rows
    for p, n in zip(procs, graded_now):  # the owner column names the grader's host:pid:...
        assert sum(r.owner.split(":")[1] == str(p.pid) for r in rows) == n, rows
    grades = read_grades(course0, ASSIGNMENT, url)
    baseline = default_grades(tmp_path_factory, env)
    assert all(grades[s]["_submissions"] == 1 for s in "abcd")
    assert {s: grades[s] for s in "abcd"} == {s: baseline["reference" if s == "b" else "release"] for s in "abcd"}
