"""A real PostgreSQL gradebook: a throwaway server (Debian's postgresql, initdb/pg_ctl in a temp
folder, Unix socket only, run as `nobody` when the tests run as root: PostgreSQL refuses root),
a small batch graded into it with `--db-url postgresql+psycopg://...`, the same grades as the
default SQLite gradebook, and the export reading them back from the server."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from grading_batches import ASSIGNMENT, default_grades, grade, small_batch

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
