"""A real PostgreSQL gradebook: a throwaway server (Debian's postgresql, initdb/pg_ctl in a temp
folder, Unix socket only, run as `nobody` when the tests run as root: PostgreSQL refuses root),
a small batch graded into it with `--db-url postgresql+psycopg://...`, the same grades as the
default SQLite gradebook, and the export reading them back from the server; the resume state in
that server (`grading.state.DatabaseStore`): atomic claims, two graders started at once on
one database, handed overlapping students, grade each submission once; a grader killed with
SIGKILL while it holds claims leaves them to its own rerun, and no export writes them meanwhile;
outages, a server restart mid-batch, and a second course on the same database."""
from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from helpers.course import grading_cmd, read_grades, run_grading
from helpers.small_batch import ASSIGNMENT, FAST, default_grades, grade, small_batch
from helpers.tiny import tiny_course

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:.*not in session")]
SERVER: dict = {}  # how the session's server is stopped and started again (the outage tests)


def pg_ctl(*args: str) -> None:
    subprocess.run([*SERVER["pg_ctl"], *args], cwd=SERVER["base"], check=True, capture_output=True,
                   timeout=120)


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
    SERVER.update(pg_ctl=[*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                          "-t", "60"], base=base, options=f"-k {base} -c listen_addresses='' -c fsync=off")
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
    assert set(grades) == {"right", "wrong"}
    assert grades["right"]["total"] > 0 and grades["wrong"]["total"] == 0
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
    course0, subs0 = small_batch(root / "files")  # the right and wrong notebooks to copy
    right = subs0 / "right" / f"{ASSIGNMENT}.ipynb"
    wrong = subs0 / "wrong" / f"{ASSIGNMENT}.ipynb"
    notebook = {"a": wrong, "b": right, "c": wrong, "d": wrong}
    run_env = dict(env, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    procs = []
    for name, students in (("one", "abc"), ("two", "bcd")):
        course = tiny_course(root / name)
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
    assert {s: grades[s] for s in "abcd"} == {s: baseline["right" if s == "b" else "wrong"] for s in "abcd"}


# ----------------------------------------------------- outages, dead graders, two courses
def _tiny_batch(root: Path, course_id: str | None = None) -> tuple[Path, Path]:
    course, subs = small_batch(root, right="p1", wrong="p2")
    if course_id:
        with open(course / "nbgrader_config.py", "a") as fh:
            fh.write(f"\nc.CourseDirectory.course_id = {course_id!r}\n")
    return course, subs


TINY = ["--workers", "2", "--no-feedback", "--no-report", "--cell-seconds", "300",
        "--wall-seconds", "600", "--memory-mb", "3500", "--seed", "5"]


def test_a_second_course_on_the_same_database_is_refused(postgres_url, env, tmp_path):
    """Course tdnn grades p1; course tdnn2, on the same database with its own `tiny` and its own
    p1, is refused with a clear message, and tdnn's p1 keeps its grade."""
    from grading.export import export
    from helpers.tiny import A
    url = new_database(postgres_url, "tdnn_two_courses")
    first, subs = _tiny_batch(tmp_path / "first")
    proc = run_grading(first, A, subs, *TINY, "--db-url", url, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    second, subs2 = _tiny_batch(tmp_path / "second", course_id="tdnn2")
    proc = run_grading(second, A, subs2, *TINY, "--db-url", url, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr[-3000:]
    assert "of another course ('tdnn'" in proc.stderr and "one database per course" in proc.stderr
    assert "Traceback" not in proc.stderr
    text, _ = export(url, "tdnn", A, "csv")
    assert {r.split(",")[0]: r.split(",")[1] for r in text.splitlines()[1:]} == {"p1": "3", "p2": "0"}


def _claimed_by(url: str, pid: int) -> list[str]:
    """The students whose grading_state row is claimed by the grader with process id `pid`."""
    import sqlalchemy
    engine = sqlalchemy.create_engine(url)
    try:
        if not sqlalchemy.inspect(engine).has_table("grading_state"):
            return []
        with engine.connect() as conn:
            rows = conn.execute(sqlalchemy.text(
                "SELECT student, owner FROM grading_state WHERE status = 'claimed'")).all()
    finally:
        engine.dispose()
    return sorted(r.student for r in rows if (r.owner or "").split(":")[1:2] == [str(pid)])


def test_a_grader_killed_while_it_holds_claims_is_finished_by_its_rerun(postgres_url, env, tmp_path):
    """A real `python -m grading --db-url` killed (SIGKILL) while it holds claims: at that moment
    the export refuses and lists the unfinished students (never a number), a grader from another
    course root cannot take them (the lease runs), and a rerun from the same course root and host
    takes them back at once and grades every student right, each once."""
    from grading.export import ExportError, export
    from grading.state import DatabaseStore
    from helpers.tiny import A
    url = new_database(postgres_url, "tdnn_killed")
    course, subs = _tiny_batch(tmp_path)
    run_env = dict(env, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    grader = subprocess.Popen(grading_cmd(course, A, subs, *TINY, "--db-url", url), cwd=run_env["PYTHONPATH"],
                              env=run_env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline, held = time.monotonic() + 300, []
    while grader.poll() is None and time.monotonic() < deadline and len(held) < 2:
        held = _claimed_by(url, grader.pid)
        time.sleep(0.05)
    grader.kill()  # SIGKILL: no clean-up, its claims stay in the database
    out, err = grader.communicate(timeout=60)
    assert grader.returncode == -9 and held == ["p1", "p2"], (
        f"the grader was not killed while holding both claims ({grader.returncode}, {held}):\n{out}\n{err[-3000:]}")
    unfinished = _claimed_by(url, grader.pid)
    assert unfinished, "the killed grader finished a student after all: nothing left to take back"
    # The export at this moment: an error listing the unfinished students, no file, no number.
    with pytest.raises(ExportError, match="without a final grade") as info:
        export(url, "tdnn", A, "csv")
    for student in unfinished:
        assert f"{student} (claimed: being graded by " in str(info.value), str(info.value)
    other_root = DatabaseStore(url, "tdnn", A, root=tmp_path / "elsewhere")
    assert not any(other_root.claim(s, "key") for s in unfinished), "another course root took a live lease"
    other_root.close()
    rerun = run_grading(course, A, subs, *TINY, "--db-url", url, env=env)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr[-3000:]
    assert f"{len(unfinished)} graded now" in rerun.stdout and "taken by another grader" not in rerun.stdout, rerun.stdout
    grades = read_grades(course, A, url)
    assert {s: (g["total"], g["_submissions"]) for s, g in grades.items()} == {"p1": (3.0, 1), "p2": (0.0, 1)}
    text, _ = export(url, "tdnn", A, "csv")
    assert {r.split(",")[0]: r.split(",")[1] for r in text.splitlines()[1:]} == {"p1": "3", "p2": "0"}


def test_a_database_outage_is_waited_out_then_one_line(postgres_url, tmp_path, capsys):
    """The store retries through a server restart (down for a few seconds); past its limit it
    gives one line saying what to do, not a traceback."""
    from grading.state import DatabaseStore, DatabaseUnavailable
    url = new_database(postgres_url, "tdnn_outage")
    store = DatabaseStore(url, "tdnn", "a4", root=tmp_path, outage_seconds=60)
    assert store.claim("p1", "key")
    pg_ctl("stop", "-m", "fast")
    restart = threading.Timer(4, pg_ctl, args=("start", "-o", SERVER["options"]))
    restart.start()
    try:
        store.record("p1", {"key": "key", "status": "ok", "problems": [], "score": 1})
    finally:
        restart.join()
    assert "gradebook database unreachable, retrying" in capsys.readouterr().err
    store.refresh()
    assert store.entries["p1"]["status"] == "ok"
    pg_ctl("stop", "-m", "fast")
    try:
        store.outage_seconds = 2
        with pytest.raises(DatabaseUnavailable, match="Rerun the same command once it is back") as info:
            store.claim("p2", "key")
        assert "\n" not in str(info.value)
    finally:
        pg_ctl("start", "-o", SERVER["options"])
    store.close()


def test_a_server_restart_mid_batch_ends_graded_or_listed(postgres_url, env, tmp_path):
    """PostgreSQL restarted while a batch runs: the batch ends with everyone graded right, or
    with exit 3 or a one-line error (no traceback) and a rerun grades the rest; the export then
    has the right grades."""
    from grading.export import export
    from helpers.tiny import A
    url = new_database(postgres_url, "tdnn_restart")
    course, subs = _tiny_batch(tmp_path)
    cmd = grading_cmd(course, A, subs, *TINY, "--db-url", url)
    run_env = dict(env, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen(cmd, cwd=run_env["PYTHONPATH"], env=run_env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(15)  # the batch has started: the assignment recorded, kernels running
    pg_ctl("restart", "-m", "fast", "-o", SERVER["options"])
    out, err = proc.communicate(timeout=900)
    assert "Traceback" not in err, err[-3000:]
    assert proc.returncode in (0, 2, 3), f"{proc.returncode}\n{out}\n{err[-3000:]}"
    if proc.returncode != 0:
        again = run_grading(course, A, subs, *TINY, "--db-url", url, env=env)
        assert again.returncode == 0, again.stdout + again.stderr[-3000:]
    text, _ = export(url, "tdnn", A, "csv")
    assert {r.split(",")[0]: r.split(",")[1] for r in text.splitlines()[1:]} == {"p1": "3", "p2": "0"}
