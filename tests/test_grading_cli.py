"""`python -m grading`: errors, layouts end to end, reruns, resume after a kill, report.

Uses a tiny one-function assignment (`tiny`, tests/helpers/tiny.py) so that kernels start in
seconds; the real `schedules` assignment is graded by test_hostile_submissions.py.
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

from helpers.course import REPO, grading_cmd, read_grades, run_grading
from helpers.tiny import A, RIGHT, WRONG, student_nb, tiny_course

CAPS = ["--workers", "2", "--cell-seconds", "30", "--wall-seconds", "90"]


@pytest.fixture(scope="module")
def env(offline_env):
    e = dict(offline_env)
    e["PYTHONPATH"] = str(REPO)
    return e


@pytest.fixture()
def course(tmp_path):
    return tiny_course(tmp_path)


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


# ------------------------------------------------------------------ errors (no kernels)
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
    # Carol pasted the visible test above her answer to try it early: the copy that follows
    # the answer is the one graded (grading/intake.py), so she loses nothing.
    carol = student_nb(RIGHT)
    carol.cells.insert(2, nbformat.from_dict(json.loads(json.dumps(carol.cells[3]))))
    _write(subs / "carol" / "Copy of tiny (1).ipynb", carol)
    proc = run_grading(course, A, subs, *CAPS, env=env)
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
    assert any("only the last copy is graded" in p
               for p in json.loads((course / "autograded" / f".grading-state-{A}.json").read_text())["carol"]["problems"])

    # Unchanged: nothing is executed again (no timing here: a busy machine makes any slow).
    proc = run_grading(course, A, subs, *CAPS, env=env)
    assert proc.returncode == 0
    assert "0 graded now, 3 unchanged" in proc.stdout, proc.stdout

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
    from grading import cli, steps
    subs = tmp_path / "subs"
    for i in range(4):
        _write(subs / f"s{i}" / "tiny.ipynb", student_nb(RIGHT if i != 2 else WRONG))

    def slow_for_s1(job, ctx):  # one more declared step, with the steps' signature
        if job.student == "s1":
            time.sleep(12)  # s0's kernel starts, runs and is collected meanwhile

    monkeypatch.setattr(steps, "BEFORE", [*steps.BEFORE, slow_for_s1])
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
    # Its job folders in a temp folder of its own: the survivors looked for below are its own,
    # not the workers of other tests grading `tiny` at the same time.
    e["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
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
    # No sandbox or worker of the killed grader survived the kill.
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert f"{tmp_path / 'tmp'}/grading-{A}-" not in out


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


# A forking student next to an honest one that needs threads a few seconds later: with one
# RLIMIT_NPROC for every sandbox of the host user, the honest kernel could not start them.
FORK_AND_HOLD = """import subprocess, time
_kids = []
try:
    for _ in range(400):
        _kids.append(subprocess.Popen(["sleep", "60"]))
except OSError:
    print("BLOCKED fork", len(_kids))
time.sleep(8)
def add(a, b):
    return a - b"""
THREADS_LATER = """import threading, time
time.sleep(4)
_threads = [threading.Thread(target=time.sleep, args=(0.2,)) for _ in range(64)]
for _t in _threads:
    _t.start()
for _t in _threads:
    _t.join()
def add(a, b):
    return a + b"""


@pytest.mark.slow
def test_unprivileged_grader(tmp_path, env):
    """The grader as an unprivileged user (nobody): corrupt and odd zip members stay per student;
    a fork bomb (abe, graded beside alice) stops at its own sandbox's process cap, and alice's
    kernel still starts 64 threads while abe holds his."""
    if os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("unshare"):
        pytest.skip("needs root (to become nobody), setpriv and unshare")
    base = tmp_path / "unprivileged"
    (base / "home").mkdir(parents=True)
    (base / "nodata").mkdir()
    c = tiny_course(base)
    z = base / "subs.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("abe/tiny.ipynb", nbformat.writes(student_nb(FORK_AND_HOLD)))
        zf.writestr("alice/tiny.ipynb", nbformat.writes(student_nb(THREADS_LATER)))
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
    assert "per sandbox (RLIMIT_NPROC of the sandbox's own user namespace" in proc.stdout, proc.stdout
    state = json.loads((c / "autograded" / f".grading-state-{A}.json").read_text())
    assert state["carol"]["status"] == "not_graded" and "corrupt zip member" in " ".join(state["carol"]["problems"])
    assert "symbolic link" in " ".join(state["dave"]["problems"])
    totals = {s: g["total"] for s, g in read_grades(c, A).items()}
    assert totals["alice"] == 3.0 and totals["bob"] == 0.0 and totals.get("carol", 0.0) == 0.0
    assert (c / "feedback" / "alice" / A / f"{A}.html").stat().st_uid == 65534
    bomb = nbformat.read(c / "autograded" / "abe" / A / f"{A}.ipynb", as_version=4).cells[2]
    held = [o["text"] for o in bomb.outputs if "BLOCKED fork" in o.get("text", "")]
    assert held and 200 <= int(held[0].split()[2]) < 256, bomb.outputs  # its own cap: 256 tasks
    assert totals["abe"] == 0.0 and state["abe"]["status"] == "ok", state["abe"]


def _delegate_cgroups(uid: int) -> list[Path]:
    """As root: a cgroup of ours, per controller the grader uses, given to `uid` (a delegated
    subtree, as `systemd-run -p Delegate=yes` or an administrator's chown makes one). [] where
    there is none to make (no cgroup v1 memory/pids/cpu hierarchy: cgroup v2 needs systemd)."""
    from grading import cgroups
    if (cgroups.CGROUP_ROOT / "cgroup.controllers").exists() or cgroups._v1_bases() is None:
        return []
    made = []
    for ctrl, base in cgroups._v1_bases().items():
        d = base / f"tdnn-test-delegated-{os.getpid()}"
        d.mkdir()
        made.append(d)
        for path in (d, d / "cgroup.procs", d / "tasks"):
            os.chown(path, uid, uid)
    return made


@pytest.mark.slow
def test_unprivileged_grader_uses_a_delegated_cgroup(tmp_path):
    """Inside a cgroup delegated to it, a non-root grader gets a cgroup per sandbox (memory,
    pids, CPU), and says so; where it was not delegated one (test_unprivileged_grader), each
    sandbox's process cap is RLIMIT_NPROC in its own user namespace."""
    if os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("unshare"):
        pytest.skip("needs root (to delegate a cgroup and become nobody)")
    delegated = _delegate_cgroups(65534)
    if not delegated:
        pytest.skip("no cgroup v1 hierarchy to delegate here (a cgroup v2 host delegates through systemd)")
    home = tmp_path / "home"
    home.mkdir()
    os.chown(home, 65534, 65534)
    os.chmod(tmp_path, 0o755)
    join = " && ".join(f'echo $$ > "{d}/cgroup.procs"' for d in delegated)
    prefix = _reachable_for(65534, [sys.base_prefix, sys.prefix, REPO, home])
    stage = tempfile.mkdtemp(prefix="tdnn-test-stage-")
    try:
        proc = subprocess.run(
            ["sh", "-c", f'{join} && exec "$@"', "sh", *prefix, sys.executable, "-c", DELEGATED, str(home)],
            cwd="/", capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(home),
                 "GRADING_CACHE": str(home / "cache"), "STAGE": stage})
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        for d in delegated:
            for child in d.iterdir():
                if child.is_dir():
                    child.rmdir()
            d.rmdir()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "kernels run as this user (uid 65534)" in proc.stdout, proc.stdout
    assert "limits: cgroup1: memory, pids and CPU limited per sandbox" in proc.stdout, proc.stdout
    assert "oom_kills 0" not in proc.stdout and "oom_kills" in proc.stdout, proc.stdout + proc.stderr


# As the non-root grader: the isolation line, then six children of 100 MB in a sandbox of 400 MB,
# which only a cgroup stops (each stays under RLIMIT_AS).
DELEGATED = """import sys
from grading import cgroups
from grading.sandbox import Caps, SandboxSpec, check_sandbox, describe_isolation, run_sandboxed
check_sandbox()
print(describe_isolation(True))
home = sys.argv[1]
spec = SandboxSpec(python_prefix=sys.base_prefix, venv=sys.prefix, datasets=None, keras_seed=None,
                   ipythondir=home + "/ipython", scratch=home + "/job", conn_dir=home + "/c",
                   caps=Caps(memory_mb=400, processes=64), cgroup=cgroups.detect()[0], tag="deleg")
kid = "import time; b = bytearray(100 << 20); b[::4096] = b'x' * len(b[::4096]); time.sleep(3)"
code = ("import subprocess, sys; kids = [subprocess.Popen([sys.executable, '-c', %r]) for _ in range(6)]; "
        "print([k.wait() for k in kids])" % kid)
proc = run_sandboxed(spec, [sys.prefix + "/bin/python", "-c", code], timeout=120)
print("oom_kills", proc.limits["oom_kills"], proc.stdout.strip(), proc.stderr[-500:])
"""


