"""`python -m grading`: layouts, reruns, resume after a kill, report, errors.

Uses a tiny one-function assignment (`tiny`, built here in a temporary course) so that kernels
start in seconds; the real `schedules` assignment is graded by test_hostile_submissions.py.
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

sys.path.insert(0, str(Path(__file__).parent / "hostile"))
from helpers import REPO, grading_cmd, read_grades, run_grading  # noqa: E402

from grading.collect import SubmissionError, clean_name, collect  # noqa: E402

A = "tiny"
CAPS = ["--workers", "2", "--cell-seconds", "30", "--wall-seconds", "90"]


def _meta(gid, grade=False, solution=False, locked=False, points=None):
    m = {"grade": grade, "grade_id": gid, "locked": locked, "schema_version": 3,
         "solution": solution, "task": False}
    if points is not None:
        m["points"] = points
    return {"nbgrader": m}


def tiny_source():
    return new_notebook(cells=[
        new_markdown_cell("# Tiny\nWrite `add`.", metadata=_meta("intro", locked=True)),
        new_code_cell("import math", metadata=_meta("setup", locked=True)),
        new_code_cell("def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION",
                      metadata=_meta("answer", solution=True)),
        new_code_cell("assert add(1, 2) == 3, 'add(1, 2) should be 3'",
                      metadata=_meta("test_visible", grade=True, locked=True, points=1)),
        new_code_cell("### BEGIN HIDDEN TESTS\nassert add(-5, 7) == 2\n### END HIDDEN TESTS",
                      metadata=_meta("test_hidden", grade=True, locked=True, points=2)),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def student_nb(body):
    nb = tiny_source()
    nb.cells[2].source = body
    nb.cells[4].source = ""  # the release holds no hidden tests
    return nb


RIGHT = "def add(a, b):\n    return a + b"
WRONG = "def add(a, b):\n    return a - b"


@pytest.fixture(scope="module")
def env(offline_env):
    e = dict(offline_env)
    e["PYTHONPATH"] = str(REPO)
    return e


@pytest.fixture()
def course(tmp_path):
    c = tmp_path / "course"
    (c / "grading").mkdir(parents=True)
    for name in ("__init__.py", "feedback.py"):
        (c / "grading" / name).write_bytes((REPO / "grading" / name).read_bytes())
    (c / "nbgrader_config.py").write_bytes((REPO / "nbgrader_config.py").read_bytes())
    (c / "solutions" / A).mkdir(parents=True)
    nbformat.write(tiny_source(), c / "solutions" / A / f"{A}.ipynb")
    return c


def _write(path, nb):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def _submissions(course, conn_rows=True):
    con = sqlite3.connect(course / "gradebook.db")
    try:
        return con.execute("SELECT student.id, COUNT(*) FROM submitted_assignment JOIN student "
                           "ON submitted_assignment.student_id = student.id GROUP BY student.id").fetchall()
    finally:
        con.close()


# ------------------------------------------------------------------ layouts (no kernels)
def test_collect_layouts(tmp_path):
    nb = nbformat.writes(student_nb(RIGHT)).encode()
    folder = tmp_path / "folder"
    for rel in ("alice/tiny.ipynb", "bob/Copy of tiny.ipynb", "carol/tiny (1).ipynb",
                "dave/notes.txt", "__MACOSX/alice/._tiny.ipynb", "erin/.ipynb_checkpoints/tiny-checkpoint.ipynb"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(nb)
    subs, skipped = collect(folder, [A])
    assert sorted(subs) == ["alice", "bob", "carol", "dave"]
    assert all(subs[s].files[A] == nb for s in ("alice", "bob", "carol"))
    assert subs["dave"].files == {} and subs["dave"].others == ["notes.txt"]

    flat = tmp_path / "flat.zip"
    with zipfile.ZipFile(flat, "w") as zf:
        zf.writestr("alice_tiny.ipynb", nb)
        zf.writestr("bob_Copy of tiny (2).ipynb", nb)
        zf.writestr("../../evil_tiny.ipynb", nb)  # path traversal: read in memory, never extracted
        zf.writestr("noid.ipynb", nb)
    subs, skipped = collect(flat, [A])
    assert sorted(subs) == ["alice", "bob", "evil"]
    assert any("noid.ipynb" in s for s in skipped)

    lms = tmp_path / "lms"
    (lms / "Alice Smith_12345_assignsubmission_file_").mkdir(parents=True)
    (lms / "Alice Smith_12345_assignsubmission_file_" / "tiny.ipynb").write_bytes(nb)
    (lms / "Bob Jones_678_assignsubmission_file_schedules (3).ipynb").write_bytes(nb)
    subs, _ = collect(lms, [A], regex=r"_(?P<student>\d+)_assignsubmission")
    assert sorted(subs) == ["12345", "678"]
    with pytest.raises(SubmissionError):
        collect(lms, [A], regex=r"(?P<who>\d+)")
    assert clean_name("Copy of schedules (1).ipynb") == "schedules"
    # Several notebooks: the name decides.
    (folder / "alice" / "other.ipynb").write_bytes(nb)
    subs, _ = collect(folder, ["tiny", "other"])
    assert set(subs["alice"].files) == {"tiny", "other"}


def test_bad_arguments(course, tmp_path, env):
    proc = run_grading(course, A, tmp_path / "nowhere", env=env)
    assert proc.returncode == 2 and "submissions not found" in proc.stderr
    (tmp_path / "subs").mkdir()
    proc = run_grading(course, "nosuch", tmp_path / "subs", env=env)
    assert proc.returncode == 2 and "unknown assignment 'nosuch'" in proc.stderr
    proc = run_grading(tmp_path, A, tmp_path / "subs", env=env)
    assert proc.returncode == 2 and "nbgrader_config.py" in proc.stderr


def test_refuses_without_bwrap(course, tmp_path, env):
    _write(tmp_path / "subs" / "alice" / "tiny.ipynb", student_nb(RIGHT))
    e = dict(env)
    e["PATH"] = str(Path(sys.executable).parent)  # no /usr/bin: no bwrap
    proc = subprocess.run([sys.executable, "-m", "grading", A, str(tmp_path / "subs"),
                           "--course-root", str(course)], cwd=REPO, env=e, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "bwrap" in proc.stderr and "--no-sandbox" in proc.stderr
    assert not (course / "autograded" / "alice").exists()


# ------------------------------------------------------------------ end to end
@pytest.mark.slow
def test_grade_rerun_regrade(course, tmp_path, env):
    subs = tmp_path / "subs"
    _write(subs / "alice" / "tiny.ipynb", student_nb(RIGHT))
    _write(subs / "bob" / "tiny.ipynb", student_nb(WRONG))
    _write(subs / "carol" / "Copy of tiny (1).ipynb", student_nb(RIGHT))
    t0 = time.monotonic()
    proc = run_grading(course, A, subs, *CAPS, env=env)
    first = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout + proc.stderr
    grades = read_grades(course, A)
    assert {s: g["total"] for s, g in grades.items()} == {"alice": 3.0, "bob": 0.0, "carol": 3.0}
    report = course / "grading-report" / A
    for name in ("index.html", "grades.csv", "scores.png", "tests.png", "time.png"):
        assert (report / name).exists(), name
    csv = (report / "grades.csv").read_text()
    assert csv.startswith("student_id,status,score,max_score") and "carol" in csv
    fb = (course / "feedback" / "alice" / A / f"{A}.html").read_text()
    assert "BEGIN HIDDEN TESTS" not in fb and "add(-5, 7)" not in fb
    assert (course / "submitted" / "carol" / A / f"{A}.ipynb").exists()

    # Unchanged: nothing is executed again.
    t0 = time.monotonic()
    proc = run_grading(course, A, subs, *CAPS, env=env)
    assert proc.returncode == 0
    assert "0 graded now, 3 unchanged" in proc.stdout, proc.stdout
    assert time.monotonic() - t0 < first

    # A resubmission is regraded, and only it.
    _write(subs / "bob" / "tiny.ipynb", student_nb(RIGHT))
    proc = run_grading(course, A, subs, *CAPS, env=env)
    assert "1 graded now, 2 unchanged" in proc.stdout, proc.stdout
    assert read_grades(course, A)["bob"]["total"] == 3.0
    assert sorted(_submissions(course)) == [("alice", 1), ("bob", 1), ("carol", 1)]


def test_results_collected_while_later_students_are_prepared(course, tmp_path, env, monkeypatch):
    """The first student's result comes back while the second is still being prepared, and the
    third is prepared while the second runs: every job keeps a connection folder of its own.
    (Folders named by the number of jobs still running were reused here, and the whole batch
    stopped with FileExistsError.) The grader runs in this process, to slow one step down."""
    from grading import cli
    from grading.batch import Batch
    subs = tmp_path / "subs"
    for i in range(4):
        _write(subs / f"s{i}" / "tiny.ipynb", student_nb(RIGHT if i != 2 else WRONG))
    prepare = Batch.before_execution

    def slow_for_s1(self, student, *args):
        if student == "s1":
            time.sleep(12)  # s0's kernel starts, runs and is collected meanwhile
        return prepare(self, student, *args)

    monkeypatch.setattr(Batch, "before_execution", slow_for_s1)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    umask = os.umask(0o022)
    os.umask(umask)
    code = cli.main([A, str(subs), "--course-root", str(course), "--workers", "2", "--no-progress",
                     "--no-feedback", "--no-report", "--cell-seconds", "30", "--wall-seconds", "90"])
    assert code == 0
    assert os.umask(umask) == umask  # the grader gave this process its umask back
    state = json.loads((course / "autograded" / f".grading-state-{A}.json").read_text())
    assert state["s0"]["graded_at"] < state["s2"]["graded_at"]
    totals = {s: g["total"] for s, g in read_grades(course, A).items()}
    assert totals == {"s0": 3.0, "s1": 3.0, "s2": 0.0, "s3": 3.0}


@pytest.mark.slow
def test_zip_flat_and_regex(course, tmp_path, env):
    z = tmp_path / "flat.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("dave_tiny.ipynb", nbformat.writes(student_nb(RIGHT)))
        zf.writestr("erin_Copy of tiny.ipynb", nbformat.writes(student_nb(WRONG)))
    proc = run_grading(course, A, z, *CAPS, "--no-feedback", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lms = tmp_path / "lms"
    _write(lms / "Fay Doe_4242_assignsubmission_file_tiny.ipynb", student_nb(RIGHT))
    proc = run_grading(course, A, lms, *CAPS, "--no-feedback",
                       "--regex", r"_(?P<student>\d+)_assignsubmission", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    totals = {s: g["total"] for s, g in read_grades(course, A).items()}
    assert totals == {"dave": 3.0, "erin": 0.0, "4242": 3.0}


@pytest.mark.slow
def test_resume_after_kill(course, tmp_path, env):
    subs = tmp_path / "subs"
    students = [f"s{i}" for i in range(4)]
    for i, s in enumerate(students):
        _write(subs / s / "tiny.ipynb", student_nb(RIGHT if i % 2 == 0 else WRONG))
    state = course / "autograded" / f".grading-state-{A}.json"
    e = dict(env)
    e["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{e.get('PATH', '')}"
    # The same caps as the rerun below: caps are part of the resume key.
    proc = subprocess.Popen(grading_cmd(course, A, subs, "--workers", "1", "--cell-seconds", "30",
                                        "--wall-seconds", "90", "--no-feedback", "--no-report"),
                            cwd=REPO, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if state.exists() and 1 <= len(json.loads(state.read_text())) < len(students):
            break
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the grader and its worker, mid-batch
    proc.wait()
    done = json.loads(state.read_text()) if state.exists() else {}
    assert 1 <= len(done) < len(students), "the kill did not land mid-batch"
    proc = run_grading(course, A, subs, *CAPS, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(students) - len(done)} graded now, {len(done)} unchanged" in proc.stdout, proc.stdout
    totals = {s: g["total"] for s, g in read_grades(course, A).items()}
    assert totals == {s: (3.0 if i % 2 == 0 else 0.0) for i, s in enumerate(students)}
    assert sorted(_submissions(course)) == [(s, 1) for s in students]
    assert set(json.loads(state.read_text())) == set(students)
    # No sandbox or worker survived the kill.
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert f"grading-{A}-" not in out


@pytest.mark.slow
def test_resume_key_retry_and_missing_feedback(course, tmp_path, env):
    """A rerun regrades when the seed changes, retries a not-graded entry, regenerates deleted feedback."""
    subs = tmp_path / "subs"
    _write(subs / "alice" / "tiny.ipynb", student_nb(RIGHT))
    (subs / "bob").mkdir()
    (subs / "bob" / "tiny.ipynb").write_text('{"cells": [ not json')
    proc = run_grading(course, A, subs, *CAPS, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "isolation: kernels run as" in proc.stdout and "limits:" in proc.stdout
    state = json.loads((course / "autograded" / f".grading-state-{A}.json").read_text())
    assert state["bob"]["status"] == "not_graded"
    feedback = course / "feedback" / "alice" / A / f"{A}.html"
    feedback.unlink()
    proc = run_grading(course, A, subs, *CAPS, env=env)
    assert "1 graded now, 1 unchanged" in proc.stdout, proc.stdout  # bob is retried, alice kept
    assert feedback.exists()  # regenerated without regrading
    proc = run_grading(course, A, subs, *CAPS, "--seed", "12345", env=env)
    assert "2 graded now, 0 unchanged" in proc.stdout, proc.stdout
    assert read_grades(course, A)["alice"]["total"] == 3.0
    assert sorted(_submissions(course)) == [("alice", 1), ("bob", 1)]


def _reachable_for(uid: int, paths) -> list[str]:
    """A shell prefix that, in a private mount namespace, makes `paths` reachable for `uid` when an
    ancestor is not (e.g. a Python installed under /root, mode 0700), then becomes that user."""
    covers, binds = [], []
    for path in paths:
        path = os.path.realpath(path)
        parts = Path(path).parents
        blocked = [p for p in reversed(list(parts)) if str(p) != "/" and not os.stat(p).st_mode & 0o001]
        if blocked:
            covers.append(str(blocked[0]))
            binds.append(path)
    script = []
    for i, path in enumerate(binds):
        script.append(f'mkdir -p "$STAGE/{i}" && mount --bind "{path}" "$STAGE/{i}"')
    for cover in dict.fromkeys(covers):
        script.append(f'mount -t tmpfs -o mode=0755 tmpfs "{cover}"')
    for i, path in enumerate(binds):
        script.append(f'mkdir -p "{path}" && mount --bind "$STAGE/{i}" "{path}"')
    script.append(f'exec setpriv --reuid {uid} --regid {uid} --clear-groups -- "$@"')
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-ec", " && ".join(script) or "true", "sh"]


@pytest.mark.slow
def test_unprivileged_grader(tmp_path, env):
    """The grader as an unprivileged user (nobody): corrupt and odd zip members stay per student."""
    if os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("unshare"):
        pytest.skip("needs root (to become nobody), setpriv and unshare")
    base = tmp_path / "unprivileged"
    (base / "home").mkdir(parents=True)
    (base / "nodata").mkdir()
    c = base / "course"
    (c / "grading").mkdir(parents=True)
    for name in ("__init__.py", "feedback.py"):
        (c / "grading" / name).write_bytes((REPO / "grading" / name).read_bytes())
    (c / "nbgrader_config.py").write_bytes((REPO / "nbgrader_config.py").read_bytes())
    _write(c / "solutions" / A / f"{A}.ipynb", tiny_source())
    z = base / "subs.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("alice/tiny.ipynb", nbformat.writes(student_nb(RIGHT)))
        zf.writestr("bob/tiny.ipynb", nbformat.writes(student_nb(WRONG)))
        zf.writestr("carol/tiny.ipynb", nbformat.writes(student_nb(RIGHT)) * 3)
        link = zipfile.ZipInfo("dave/tiny.ipynb")
        link.external_attr = (0o120777 << 16)  # a symbolic link member
        zf.writestr(link, "../../../etc/shadow")
    raw = bytearray(z.read_bytes())
    start = raw.index(b"carol/tiny.ipynb") + len(b"carol/tiny.ipynb") + 40
    raw[start:start + 200] = b"\x00" * 200  # corrupt carol's compressed data
    z.write_bytes(bytes(raw))
    for path in [base, *base.rglob("*")]:
        os.chown(path, 65534, 65534, follow_symlinks=False)
    e = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "PYTHONPATH": str(REPO),
         "HOME": str(base / "home"), "LANG": "C.UTF-8", "GRADING_CACHE": str(base / "home" / "cache")}
    cmd = [sys.executable, "-m", "grading", A, str(z), "--course-root", str(c), "--no-progress",
           "--datasets", str(base / "nodata"), *CAPS]
    # nobody must reach the tests' own folders too (pytest's tmp_path is below a 0700 folder).
    prefix = _reachable_for(65534, [sys.base_prefix, sys.prefix, REPO, base])
    stage = tempfile.mkdtemp(prefix="tdnn-test-stage-")  # outside the folders it covers
    try:
        proc = subprocess.run(prefix + cmd, cwd="/", env={**e, "STAGE": stage},
                              capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    assert "kernels run as this user (uid 65534)" in proc.stdout, proc.stdout
    state = json.loads((c / "autograded" / f".grading-state-{A}.json").read_text())
    assert state["carol"]["status"] == "not_graded" and "corrupt zip member" in " ".join(state["carol"]["problems"])
    assert "symbolic link" in " ".join(state["dave"]["problems"])
    totals = {s: g["total"] for s, g in read_grades(c, A).items()}
    assert totals["alice"] == 3.0 and totals["bob"] == 0.0 and totals.get("carol", 0.0) == 0.0
    assert (c / "feedback" / "alice" / A / f"{A}.html").stat().st_uid == 65534


def test_intake_rejects_or_repairs_per_student():
    """Hostile notebook files give a reason; malformed nbgrader metadata of any type is removed."""
    from grading.intake import MAX_DEPTH, Rejected, read_submission
    for raw, why in [(b"", "empty"), (b"\xff\xfe", "UTF-8"), (b"[1, 2]", "not a notebook"),
                     (b"[" * 5000 + b"]" * 5000, "nested deeper"),
                     (b'{"cells": 3}', "no cells"),
                     (b'{"cells": [], "m": ' + b"[" * (MAX_DEPTH + 5) + b"]" * (MAX_DEPTH + 5) + b"}", "nested"),
                     (nbformat.writes(new_notebook(cells=[new_code_cell("1")] * 51)).encode(), "51 cells")]:
        with pytest.raises(Rejected, match=why):
            read_submission(raw, max_cells=50)
    nb = student_nb(RIGHT)
    odd = [["answer"], 7, None, {"x": 1}, "bad id!"]
    for cell, gid in zip(nb.cells, odd):
        cell.metadata["nbgrader"]["grade_id"] = gid
    nb.cells.append(new_code_cell("pass", metadata={"nbgrader": ["not", "a", "dict"]}))
    nb.cells.append(new_code_cell("pass", metadata={"nbgrader": {"grade": "yes", "grade_id": "x"}}))
    nb.cells.append(new_code_cell("pass", metadata={"nbgrader": {"grade": True, "points": "9"}}))
    out, problems = read_submission(nbformat.writes(nb).encode(), max_cells=50)
    assert len(problems) == 8 and all("malformed nbgrader metadata" in p for p in problems), problems
    assert all("nbgrader" not in c.metadata for c in out.cells)
    # A copied cell keeps nothing of the original's identity; an unknown grade_id is dropped.
    nb = student_nb(RIGHT)
    nb.cells.insert(2, nbformat.from_dict(json.loads(json.dumps(nb.cells[3]))))
    nb.cells.append(new_code_cell("pass", metadata={"nbgrader": {"grade": True, "grade_id": "bonus",
                                                                  "points": 99}}))
    nb.cells.append(new_code_cell("pass", metadata={"nbgrader": {}}))
    known = {c.metadata["nbgrader"]["grade_id"] for c in tiny_source().cells}
    out, problems = read_submission(nbformat.writes(nb).encode(), max_cells=50, known=known)
    assert [p.split(" (")[0] for p in problems] == [
        "grade_id test_visible used by cells 2 and 4", "cell 6 has nbgrader metadata with a grade_id "
        "the assignment does not have", "malformed nbgrader metadata in cell 7"], problems
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in out.cells]
    assert ids == ["intro", "setup", "test_visible", "answer", None, "test_hidden", None, None]


def test_collect_reports_odd_members(tmp_path):
    """A corrupt zip member, a symlink (zip or folder) and control characters stay per student."""
    from grading.collect import collect
    nb = nbformat.writes(student_nb(RIGHT)).encode()
    z = tmp_path / "subs.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("alice/tiny.ipynb", nb)
        zf.writestr("carol/tiny.ipynb", nb * 3)
        link = zipfile.ZipInfo("dave/tiny.ipynb")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/shadow")
        zf.writestr("erin/ti\x1bny.ipynb", nb)
    raw = bytearray(z.read_bytes())
    start = raw.index(b"carol/tiny.ipynb") + len(b"carol/tiny.ipynb") + 40
    raw[start:start + 200] = b"\x00" * 200
    z.write_bytes(bytes(raw))
    subs, _ = collect(z, [A])
    assert subs["alice"].files[A] == nb
    assert not subs["carol"].files and "corrupt zip member" in subs["carol"].problems[0]
    assert not subs["dave"].files and "symbolic link" in subs["dave"].problems[0]
    assert subs["erin"].names[A] == "ti\\x1bny.ipynb"
    folder = tmp_path / "folder"
    (folder / "frank").mkdir(parents=True)
    (folder / "frank" / "tiny.ipynb").symlink_to(tmp_path / "subs.zip")
    (folder / "gina").symlink_to(tmp_path)  # a linked folder is not entered
    subs, skipped = collect(folder, [A])
    assert not subs["frank"].files and "symbolic link" in subs["frank"].problems[0]
    assert any("gina" in line and "symbolic link" in line for line in skipped), skipped
