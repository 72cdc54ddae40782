"""The resume state of a batch: what was graded, under which conditions, with what result.

Two stores with one interface (`open_store`), chosen by where the gradebook is:

- `FileStore` (the default SQLite gradebook): one JSON file per course root and assignment,
  `autograded/.grading-state-ASSIGNMENT.json`, rewritten atomically after each student; one
  grader at a time per course root (the batch's lock file).
- `DatabaseStore` (`--db-url`): the table `grading_state` in the gradebook's own database, one
  row per course, assignment and student. Several graders may share the database, even handed
  overlapping students: a grader grades a student only after *claiming* its row, and the claim is
  one atomic statement (insert-if-absent, then an UPDATE whose WHERE admits only an unclaimed
  row, a row whose lease ran out, or a stale key), so exactly one grader gets it. A claim is a
  lease (`LEASE_SECONDS`, renewed by a heartbeat thread while the grader lives), timed by the
  database server's clock: a grader that dies leaves claims that another grader may take once
  the lease has run out, and that its own rerun (same host and course root, named in the
  claim's owner) takes back at once; a grader that stops normally gives back what it did not
  finish. A database outage is waited out (retries with backoff, `OUTAGE_SECONDS`), then
  `DatabaseUnavailable`, one line for the user.

An entry is reused on a rerun (the student is skipped) only when its key is unchanged and its
status is final (`DONE`); the key is a SHA-256 of all that determines a grade:

- the submission's content (`Submission.digest`: every notebook's bytes, or the file names);
- the assignment: every file under `solutions/ASSIGNMENT/` (source notebooks, hidden tests) and
  the course's `nbgrader_config.py`;
- the grader's own code on a grade's path (`grade_code` below): every module the batch loop
  reaches, by import or as a `python -m grading.X` process, and all of grading/checks/ (its
  `code_hash` is also, over the worker-side part, what a Dask task carries: `worker_identity`);
- the seed, the caps and the profile (`COURSE_PROFILE`) the kernels get.

Timed-out, failed (kernel died, worker error) and not-graded entries are retried on every rerun.
"""
from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
import platform
import re
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

DONE = ("ok", "graded_with_problems")
TABLE = "grading_state"  # DatabaseStore's table in the gradebook's database
PACKAGE = Path(__file__).resolve().parent
GRADE_PATH_ROOT = "batch.py"  # the loop every grade goes through
WORKER_ROOT = "executors.py"  # what a Dask worker runs of it (executors.run_remote_job)
CHECKS = "checks"             # grading/checks/: loaded by the assignment's name, so all of it
MODULE_STRING = re.compile(r"^grading\.([A-Za-z_][A-Za-z0-9_]*)$")  # `python -m grading.X`
CLAIMED = "claimed"    # a grader is on it (until lease_until)
RELEASED = "released"  # a grader stopped before finishing it: anyone may claim it
LEASE_SECONDS = 300.0
OUTAGE_SECONDS = 120.0  # how long a database outage is waited out (retries with backoff)
_PARSING = threading.Lock()
HEARTBEAT_SECONDS = 60.0


def _hash_tree(h, folder: Path) -> None:
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and ".ipynb_checkpoints" not in path.parts:
            h.update(str(path.relative_to(folder)).encode() + b"\0")
            h.update(hashlib.sha256(path.read_bytes()).digest())


def _module_file(package: Path, parts: tuple) -> Path | None:
    for path in (package.joinpath(*parts).with_suffix(".py"), package.joinpath(*parts, "__init__.py")):
        if parts and path.is_file():
            return path
    return None


def _reached(package: Path, path: Path) -> set[Path]:
    """The package's modules that one module imports, or starts as `python -m grading.X`."""
    here = path.relative_to(package).parent.parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - node.level + 1] + tuple((node.module or "").split(".") if node.module else ())
            elif (node.module or "").split(".")[0] == "grading":
                base = tuple(node.module.split(".")[1:])
            else:
                continue
            targets = [base + (alias.name,) for alias in node.names] + [base]
        elif isinstance(node, ast.Import):
            targets = [tuple(a.name.split(".")[1:]) for a in node.names if a.name.split(".")[0] == "grading"]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_STRING.match(node.value):
            targets = [(MODULE_STRING.match(node.value).group(1),)]
        found |= {f for f in (_module_file(package, t) for t in targets) if f is not None}
    return found


def grade_code(package: Path = PACKAGE, root: str = GRADE_PATH_ROOT) -> list[Path]:
    """Every file of the grader's own code on a grade's path: the modules `root` (the batch loop)
    reaches, transitively (by import, or as a process), and the whole checks folder. Derived from
    the code itself, so a module split off or added on that path is in the key without anyone
    listing it. `root=WORKER_ROOT`: the part a Dask worker runs (no checks: they stay here)."""
    package = Path(package)
    todo, seen = [package / root], set()
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += _reached(package, path) - seen
    if root == GRADE_PATH_ROOT:
        seen |= {p for p in (package / CHECKS).rglob("*.py") if "__pycache__" not in p.parts}
    return sorted(seen)


def code_hash(files: list[Path], package: Path = PACKAGE) -> str:
    """SHA-256 of the files' package-relative names and bytes: the one code hash, for the resume
    key (`context_key`) and for the Dask tasks (`worker_identity`)."""
    h = hashlib.sha256()
    for path in files:
        h.update(str(Path(path).relative_to(package)).encode() + b"\0" + hashlib.sha256(Path(path).read_bytes()).digest())
    return h.hexdigest()


def worker_identity(package: Path = PACKAGE) -> dict:
    """What a Dask worker must share with the grader to run its tasks: the hash of the grading
    code a worker runs (`WORKER_ROOT` and all it reaches), and the Python and Keras versions."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        keras = version("keras")
    except PackageNotFoundError:
        keras = None
    with _PARSING:  # a Dask worker runs tasks in threads; Python 3.11's ast.parse is not thread-safe
        code = code_hash(grade_code(package, WORKER_ROOT), package)
    return {"code": code, "python": platform.python_version(), "keras": keras}


def context_key(course_root: Path, assignment: str, source_dir: Path, caps: dict, env: dict,
                package: Path = PACKAGE) -> str:
    """The part of the key shared by every student of one run."""
    h = hashlib.sha256(b"grading-state-v3\0")
    _hash_tree(h, source_dir)
    config = Path(course_root) / "nbgrader_config.py"
    if config.exists():
        h.update(hashlib.sha256(config.read_bytes()).digest())
    h.update(code_hash(grade_code(package), package).encode())
    own_checks = Path(course_root) / "grading" / CHECKS  # a course's own checks (grading.checks.load)
    if own_checks.is_dir() and own_checks.resolve() != (Path(package) / CHECKS).resolve():
        _hash_tree(h, own_checks)
    h.update(json.dumps({"caps": caps, "env": env, "assignment": assignment}, sort_keys=True).encode())
    return h.hexdigest()


def student_key(context: str, submission_digest: str) -> str:
    return hashlib.sha256(f"{context}:{submission_digest}".encode()).hexdigest()


def state_path(autograded_dir: Path, assignment: str) -> Path:
    return Path(autograded_dir) / f".grading-state-{assignment}.json"


def load(path: Path) -> dict:
    """The entries; an unreadable file is set aside (everyone is graded again), never fatal."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if isinstance(v, dict)}
    except (OSError, ValueError):
        pass
    os.replace(path, path.with_suffix(".json.unreadable"))
    return {}


def save(path: Path, entries: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(entries, indent=1, sort_keys=True))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def is_current(entry: dict | None, key: str) -> bool:
    """True when this entry can be kept: same key, and a final status."""
    return bool(entry) and entry.get("key") == key and entry.get("status") in DONE


# ---------------------------------------------------------------------------------- stores
class DatabaseUnavailable(RuntimeError):
    """The gradebook's database stayed unreachable through the retries: one line for the user."""


def database_failure(problem: str) -> bool:
    """True when a step's reason (grading.steps.run_steps: "...: ExceptionName: ...") is the
    gradebook's database failing, not the student's notebook."""
    return any(f": {name}: " in problem for name in ("OperationalError", "InterfaceError",
                                                      "DatabaseUnavailable", "DisconnectionError"))


def _first_line(exc) -> str:
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def outage_message(exc, waited: float) -> str:
    return (f"the gradebook database is unreachable ({_first_line(exc)}; retried for {waited:.0f} s). "
            "Rerun the same command once it is back: students graded so far are kept, and this "
            "grader's unfinished students are taken back by its rerun from this course root.")


def _root_tag(root: Path | None) -> str:
    """A short name of the course root (in a claim's owner), the same for every run from it."""
    return hashlib.sha256(str(Path(root).resolve() if root else "").encode()).hexdigest()[:10]


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _add_problem(store, student: str, why: str) -> None:
    """A problem found after the student's entry was recorded (e.g. its feedback failed)."""
    entry = store.entries.get(student)
    if entry is not None and why not in entry.get("problems", []):
        store.record(student, dict(entry, problems=[*entry.get("problems", []), why]))


def open_store(db_url: str | None, course: str, assignment: str, autograded_dir: Path,
               root: Path | None = None):
    """The state of this run: in the gradebook's database when that is a server (PostgreSQL),
    else (the default SQLite gradebook) a file beside the autograded notebooks."""
    if db_url and not db_url.startswith("sqlite"):
        return DatabaseStore(db_url, course, assignment, root=root)
    return FileStore(state_path(autograded_dir, assignment))


class FileStore:
    """The JSON file of one course root; only one grader uses it at a time (the lock file)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.entries = load(self.path)

    def claim(self, student: str, key: str, regrade: bool = False) -> bool:
        return True

    @contextlib.contextmanager
    def serialized(self):
        yield

    def record(self, student: str, entry: dict) -> None:
        self.entries[student] = entry
        save(self.path, self.entries)

    def refresh(self) -> None:
        pass

    def add_problem(self, student: str, why: str) -> None:
        _add_problem(self, student, why)

    def close(self) -> None:
        pass


class DatabaseStore:
    """The table `grading_state` in the gradebook's database (see the module's docstring)."""

    def __init__(self, db_url: str, course: str, assignment: str,
                 lease_seconds: float = LEASE_SECONDS, heartbeat_seconds: float = HEARTBEAT_SECONDS,
                 root: Path | None = None, outage_seconds: float = OUTAGE_SECONDS):
        import sqlalchemy as sa
        self.sa = sa
        self.course, self.assignment = course, assignment
        self.lease_seconds, self.outage_seconds = lease_seconds, outage_seconds
        # host:pid:where: a rerun from the same course root on this host knows its dead claims
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{_root_tag(root)}"
        self.engine = sa.create_engine(db_url, pool_pre_ping=True)
        meta = sa.MetaData()
        self.table = sa.Table(
            TABLE, meta,
            sa.Column("course", sa.String(128), primary_key=True),
            sa.Column("assignment", sa.String(128), primary_key=True),
            sa.Column("student", sa.String(128), primary_key=True),
            sa.Column("key", sa.String(64)),
            sa.Column("status", sa.String(32), nullable=False),
            sa.Column("owner", sa.String(128)),        # the grader that claimed or graded it
            sa.Column("lease_until", sa.Float),        # database clock, seconds since the epoch
            sa.Column("entry", sa.Text))               # the finished entry, as JSON
        self._mine: set[str] = set()   # claimed by this grader and not recorded yet
        self._lock = threading.Lock()
        def create():
            with self.serialized():    # two graders starting at once: one creates the table
                meta.create_all(self.engine)
        self._retrying(create)
        self._take_back_dead_claims()
        self.refresh()
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, args=(heartbeat_seconds,), daemon=True)
        self._beat.start()

    # -- helpers
    def _retrying(self, fn):
        """fn(), again after a database outage (a lost connection, a server restarting), with
        backoff, for up to `outage_seconds`; then DatabaseUnavailable (one line for the user)."""
        delay, waited = 1.0, 0.0
        while True:
            try:
                return fn()
            except (self.sa.exc.OperationalError, self.sa.exc.InterfaceError) as exc:
                if waited >= self.outage_seconds:
                    raise DatabaseUnavailable(outage_message(exc, waited)) from None
                print(f"gradebook database unreachable, retrying in {delay:.0f} s "
                      f"({_first_line(exc)})", file=sys.stderr, flush=True)
                time.sleep(delay)
                waited += delay
                delay = min(delay * 2, 16.0)

    def _take_back_dead_claims(self) -> None:
        """Claims of an earlier grader from this host and course root whose process is gone (it
        was killed): released at once, so that this rerun grades those students now."""
        t = self.table
        host, _, where = self.owner.split(":")
        with self.engine.connect() as conn:
            owners = conn.execute(self.sa.select(t.c.owner).distinct().where(
                (t.c.status == CLAIMED) & t.c.owner.like(f"{host}:%:{where}"))).scalars().all()
        dead = [o for o in owners if o != self.owner and not _alive(o.split(":")[1])]
        if dead:
            with self.engine.begin() as conn:
                conn.execute(t.update().where((t.c.status == CLAIMED) & t.c.owner.in_(dead))
                             .values(status=RELEASED, lease_until=None))

    def _where(self, student: str):
        t = self.table
        return (t.c.course == self.course) & (t.c.assignment == self.assignment) & (t.c.student == student)

    def _now(self, conn) -> float:
        """The database server's clock, so that graders on several machines agree on leases."""
        sql = {"postgresql": "SELECT extract(epoch from clock_timestamp())",
               "sqlite": "SELECT (julianday('now') - 2440587.5) * 86400.0"}.get(conn.dialect.name)
        if sql is None:
            raise RuntimeError(f"grading state: database {conn.dialect.name} is not supported "
                               "(PostgreSQL or SQLite)")
        return float(conn.execute(self.sa.text(sql)).scalar())

    @contextlib.contextmanager
    def serialized(self):
        """One grader at a time in this block (PostgreSQL: a transaction-level advisory lock),
        e.g. around nbgrader's creation of its tables and of the assignment's cells."""
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(self.sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                             {"k": f"tdnn-grading:{self.course}:{self.assignment}"})
            yield

    # -- the interface
    def refresh(self) -> None:
        self._retrying(self._refresh)

    def _refresh(self) -> None:
        t = self.table
        with self.engine.connect() as conn:
            rows = conn.execute(self.sa.select(t.c.student, t.c.entry).where(
                (t.c.course == self.course) & (t.c.assignment == self.assignment)
                & t.c.entry.is_not(None))).all()
        self.entries = getattr(self, "entries", {})  # updated in place: readers keep this dict
        self.entries.clear()
        self.entries.update({student: json.loads(entry) for student, entry in rows})

    def claim(self, student: str, key: str, regrade: bool = False) -> bool:
        """True when this grader now holds the student (nobody else grades it); False when
        another grader holds it or, unless `regrade`, already graded it with this key."""
        got = self._retrying(lambda: self._claim(student, key, regrade))
        if got:
            with self._lock:
                self._mine.add(student)
        return got

    def _claim(self, student: str, key: str, regrade: bool) -> bool:
        sa, t = self.sa, self.table
        with self.engine.begin() as conn:
            now = self._now(conn)
            values = {"key": key, "status": CLAIMED, "owner": self.owner,
                      "lease_until": now + self.lease_seconds}
            try:
                with conn.begin_nested():  # insert if absent (a concurrent insert fails here)
                    conn.execute(t.insert().values(course=self.course, assignment=self.assignment,
                                                   student=student, **values))
                got = True
            except sa.exc.IntegrityError:
                free = (t.c.status != CLAIMED) | (t.c.lease_until < now)
                if not regrade:
                    free &= ~((t.c.key == key) & t.c.status.in_(DONE))
                # PostgreSQL re-checks the WHERE on the row a concurrent UPDATE committed.
                got = conn.execute(t.update().where(self._where(student) & free).values(**values)).rowcount == 1
        return got

    def record(self, student: str, entry: dict) -> None:
        entry = dict(entry)
        entry.setdefault("grader", self.owner)  # who graded it (a later note keeps it)
        def write():
            with self.engine.begin() as conn:
                conn.execute(self.table.update().where(self._where(student)).values(
                    key=entry.get("key"), status=entry["status"], lease_until=None,
                    entry=json.dumps(entry, sort_keys=True)))
        self._retrying(write)
        with self._lock:
            self._mine.discard(student)
        self.entries[student] = entry

    def add_problem(self, student: str, why: str) -> None:
        _add_problem(self, student, why)

    def _heartbeat(self, every: float) -> None:
        t = self.table
        while not self._stop.wait(every):
            try:
                with self.engine.begin() as conn:
                    conn.execute(t.update().where(
                        (t.c.owner == self.owner) & (t.c.status == CLAIMED)).values(
                        lease_until=self._now(conn) + self.lease_seconds))
            except Exception:  # the database is away: the next beat tries again
                pass

    def close(self) -> None:
        """Stop the heartbeat and give back what this grader claimed but did not finish."""
        self._stop.set()
        self._beat.join(timeout=5)
        t = self.table
        with self._lock:
            left = sorted(self._mine)
        try:
            if left:
                with self.engine.begin() as conn:
                    conn.execute(t.update().where(
                        (t.c.course == self.course) & (t.c.assignment == self.assignment)
                        & (t.c.owner == self.owner) & (t.c.status == CLAIMED)
                        & t.c.student.in_(left)).values(status=RELEASED, lease_until=None))
        except (self.sa.exc.OperationalError, self.sa.exc.InterfaceError):
            pass  # the database is away: this host's rerun from this course root takes them back
        self.engine.dispose()
