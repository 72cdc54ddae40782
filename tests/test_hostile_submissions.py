"""Hostile submissions, graded as TWO batches with 2 workers each.

The sandbox, the caps and the files are attacked on the `tiny` assignment (its kernels start in
seconds; tests/helpers/hostile_payloads.py `build_sandbox`): infinite loops (one swallowing
KeyboardInterrupt), a memory bomb, os._exit, SIGKILL, sys.exit, reads of solutions/ and other
students' files, writes into the gradebook and other folders, network connections, 100 MB
printed on one line, <script> in the output, forks, a full /tmp, refused system calls, display
floods, widgets, too many cells, corrupt JSON, an empty file, a wrong file name, a symlink.
`schedules`' own tests and points are attacked on `schedules` (`build_all`): deleted, edited and
retyped test cells, redefined test helpers, monkeypatched math/numpy/builtins, a silenced
traceback, malformed and copied nbgrader metadata; beside two honest references (one saved by
Colab). For every one: the batch completes, the submission gets no more than it earned, its
reason is reported, and nothing of anyone else changes.
"""
import hashlib
import json
import os
import re
import socket
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from helpers.course import make_course, read_grades, run_grading, tree_hashes
from helpers.hostile_payloads import POWER_TESTS, build_all, build_sandbox
from helpers.tiny import tiny_course

pytestmark = pytest.mark.slow

ASSIGNMENT = "schedules"
TINY = "tiny"
LIMITS = ["--workers", "2", "--cpu-seconds", "120", "--memory-mb", "3500", "--output-bytes", "1000000"]
CAPS = LIMITS + ["--cell-seconds", "20", "--wall-seconds", "90"]
# schedules' own tests attacked: no case there needs a cap to stop it, and its set-up cell
# imports Keras (seconds of CPU, more on a busy CI machine): the caps of the graded batches.
SCHEDULES_CAPS = LIMITS + ["--cell-seconds", "90", "--wall-seconds", "300"]


def _outputs_text(nb_path: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    parts = []
    for cell in nb.cells:
        # The kernel may flush one print in several stream messages: join them as written.
        parts.append("".join(str(out.get("text", "")) for out in cell.get("outputs", [])))
    return "\n".join(parts)


def _root_only_file(tag: str):
    """A host file only root may read, somewhere the sandbox sees (the venv is bound read-only)."""
    path = f"{sys.prefix}/tdnn-root-only-{os.getpid()}-{tag}.txt"
    if os.geteuid() == 0:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, b"root-only secret")
        os.close(fd)
    return path


@pytest.fixture(scope="module")
def hostile_batch(repo, offline_env, tmp_path_factory):
    """`schedules`' own tests and points attacked."""
    if not (repo / "solutions" / ASSIGNMENT).exists():
        pytest.skip("the schedules assignment is not there yet")
    root = tmp_path_factory.mktemp("hostile")
    course = make_course(root, ASSIGNMENT)
    return _grade(repo, offline_env, root, course, ASSIGNMENT, lambda paths: build_all(course, paths),
                  caps=SCHEDULES_CAPS)


@pytest.fixture(scope="module")
def sandbox_batch(repo, offline_env, tmp_path_factory):
    """The sandbox, the caps and the files attacked, on `tiny`."""
    root = tmp_path_factory.mktemp("sandbox")
    course = tiny_course(root)
    root_only = _root_only_file("batch")
    try:
        yield _grade(repo, offline_env, root, course, TINY, build_sandbox, root_only)
    finally:
        if os.path.exists(root_only):
            os.unlink(root_only)


def _paths(repo, course, subs, assignment, port, root_only) -> dict:
    return {
        "read": {"repo_solutions": str(repo / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
                 "course_solutions": str(course / "solutions" / assignment / f"{assignment}.ipynb"),
                 "gradebook": str(course / "gradebook.db"),
                 "other_student": str(course / "submitted" / "honest" / assignment / f"{assignment}.ipynb"),
                 "submissions_folder": str(subs),
                 "repo_root": str(repo / "README.md"),
                 "shadow": "/etc/shadow"},
        "write": {"gradebook": str(course / "gradebook.db"),
                  "other_student": str(course / "submitted" / "honest" / assignment / f"{assignment}.ipynb"),
                  "course_root": str(course) + "/",
                  "repo_root": str(repo) + "/",
                  "venv": sys.prefix + "/"},
        "port": port,
        "proc": {"core_pattern": "/proc/sys/kernel/core_pattern", "drop_caches": "/proc/sys/vm/drop_caches",
                 "panic": "/proc/sys/kernel/panic", "sysrq": "/proc/sysrq-trigger"},
        "root_only": root_only,
        "symlink_to": str(course / "solutions" / assignment / f"{assignment}.ipynb"),
    }


def _grade(repo, offline_env, root, course, assignment, build, root_only=None, caps=CAPS):
    subs = root / "submissions"
    # A TCP server on the host's loopback: the sandbox must not reach it.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    port = server.getsockname()[1]
    reached = []

    def accept():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            reached.append(1)
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    cases = build(_paths(repo, course, subs, assignment, port, root_only))
    for student, (filename, data, expect) in cases.items():
        (subs / student).mkdir(parents=True)
        if "symlink_to" in expect:  # a notebook that is a link to the solutions
            (subs / student / filename).symlink_to(expect["symlink_to"])
        else:
            (subs / student / filename).write_bytes(data)
    protected = {"submissions": tree_hashes(subs),
                 "solutions": tree_hashes(course / "solutions"),
                 "exercises": tree_hashes(course / "exercises") if (course / "exercises").exists() else {},
                 "config": tree_hashes(course / "grading"),
                 "repo_solutions": tree_hashes(repo / "solutions" / ASSIGNMENT)}
    start = time.monotonic()
    proc = run_grading(course, assignment, subs, *caps, env=offline_env, timeout=1500)
    seconds = time.monotonic() - start
    server.close()
    print(f"\n{assignment} hostile batch: {len(cases)} submissions in {seconds:.0f} s\n{proc.stdout}")
    state = json.loads((course / "autograded" / f".grading-state-{assignment}.json").read_text())
    return {"course": course, "subs": subs, "cases": cases, "proc": proc, "seconds": seconds,
            "protected": protected, "state": state, "grades": read_grades(course, assignment),
            "reached": reached, "repo": repo, "assignment": assignment}


def _graded(batch, student) -> Path:
    a = batch["assignment"]
    return batch["course"] / "autograded" / student / a / f"{a}.ipynb"


def _feedback(batch, student) -> Path:
    a = batch["assignment"]
    return batch["course"] / "feedback" / student / a / f"{a}.html"


BATCHES = ("hostile_batch", "sandbox_batch")


@pytest.fixture(params=BATCHES)
def any_batch(request):
    return request.getfixturevalue(request.param)


def test_batch_completes(any_batch):
    proc = any_batch["proc"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert set(any_batch["state"]) == set(any_batch["cases"])
    # Names are printed with control characters escaped.
    assert "\x1b" not in proc.stdout + proc.stderr and "\x07" not in proc.stdout + proc.stderr


def test_every_mechanism_is_there(hostile_batch, sandbox_batch):
    assert len(hostile_batch["cases"]) >= 11 and len(sandbox_batch["cases"]) >= 29
    assert list(sandbox_batch["state"]["ctrlname"]["files"].values()) == ["ti\\x1b[2J\\x07ny.ipynb"]


def test_no_one_gets_more_than_earned(any_batch):
    grades, cases = any_batch["grades"], any_batch["cases"]
    for student, (_, _, expect) in cases.items():
        got = grades.get(student, {"total": 0.0})
        assert got["total"] <= expect["max_total"] + 1e-9, (student, got)
        if "min_total" in expect:
            assert got["total"] >= expect["min_total"] - 1e-9, (student, got, any_batch["state"][student])
        elif student in grades and any_batch["assignment"] == ASSIGNMENT:
            for cell in POWER_TESTS:  # the wrong power_schedule must never pass its tests
                assert got.get(cell, 0.0) == 0.0, (student, cell, got)
        assert got.get("_submissions", 1) == 1, (student, "graded more than once")


@pytest.mark.parametrize("batch,student", [
    *[("sandbox_batch", s) for s in (
        "loop", "swallow", "membomb", "osexit", "sigkill", "bigprint", "corrupt", "empty", "wrongname",
        "forkmem", "displayflood", "manycells", "deepjson", "huge", "symlink")],
    *[("hostile_batch", s) for s in ("deltests", "edittests", "celltype", "gradeidlist", "dupid", "missingkeys")]])
def test_reason_is_reported(request, batch, student):
    batch = request.getfixturevalue(batch)
    entry = batch["state"][student]
    expect = batch["cases"][student][2]
    text = entry["status"] + ": " + "; ".join(entry["problems"])
    assert re.search(expect["reason"], text), (student, text)
    assert student in batch["proc"].stdout  # in the final summary


def test_sandbox_blocks_files_and_network(sandbox_batch):
    batch = sandbox_batch
    course = batch["course"]
    probes = [s for s, (_, _, e) in batch["cases"].items() if "stdout_has" in e]
    assert {"reader", "writer", "network", "procsys", "rootfile", "forkbomb", "tmpfill", "seccomp"} <= set(probes)
    for student in probes:
        expect = batch["cases"][student][2]
        text = _outputs_text(_graded(batch, student))
        assert expect["stdout_has"] in text, (student, text[:2000])
        leaks = [line for line in text.splitlines() if expect["stdout_lacks"] in line]
        if student == "writer":
            # When the repository lives under /tmp (CI's clean clone), bwrap creates the parents
            # of the read-only venv mount inside the sandbox's private /tmp, so a write "into the
            # repo root" lands in that throw-away tmpfs. What counts is the host, checked below.
            leaks = [line for line in leaks if line.split()[1:2] not in (["repo_root"], ["course_root"])]
        assert not leaks, (student, text[:2000])
    # /tmp filled up at its own size (512 MB by default), not the host's.
    tmp_line = next(line for line in _outputs_text(_graded(batch, "tmpfill")).splitlines()
                    if line.startswith("BLOCKED tmp"))
    fields = tmp_line.split()
    assert len(fields) == 4 and fields[2] == "28" and int(fields[3]) <= 512, tmp_line  # ENOSPC
    assert not batch["reached"], "a kernel reached the host's loopback"
    assert not (course / "owned.txt").exists()
    assert not (batch["repo"] / "owned.txt").exists()


def test_outputs_are_clean(sandbox_batch):
    for student, (_, _, expect) in sandbox_batch["cases"].items():
        if "output_lacks" in expect:
            nb = nbformat.read(_graded(sandbox_batch, student), as_version=4)
            assert "widgets" not in nb.metadata, student
            outputs = json.dumps([c.get("outputs", []) for c in nb.cells])
            assert expect["output_lacks"] not in outputs, student
    # Display updates count: the flood was stopped at the cell's cap.
    assert _graded(sandbox_batch, "displayflood").stat().st_size < 3_000_000


def test_nothing_else_changed(any_batch):
    batch = any_batch
    course, subs, repo, a = batch["course"], batch["subs"], batch["repo"], batch["assignment"]
    before = batch["protected"]
    assert tree_hashes(subs) == before["submissions"]
    assert tree_hashes(course / "solutions") == before["solutions"]
    if before["exercises"]:
        assert tree_hashes(course / "exercises") == before["exercises"]
    assert tree_hashes(course / "grading") == before["config"]
    assert tree_hashes(repo / "solutions" / ASSIGNMENT) == before["repo_solutions"]
    # Every imported copy is byte-identical to what that student handed in.
    for student, (filename, data, expect) in batch["cases"].items():
        if not filename.endswith(".ipynb") or "symlink_to" in expect or student == "huge":
            continue
        copy = course / "submitted" / student / a / f"{a}.ipynb"
        assert hashlib.sha256(copy.read_bytes()).digest() == hashlib.sha256(data).digest(), student


def test_feedback_is_sanitized(sandbox_batch, hostile_batch):
    for student, (_, _, expect) in sandbox_batch["cases"].items():
        if "feedback_lacks" in expect:  # as a live tag or attribute (the cell's code shows it as text)
            tags = re.findall(r"<[a-zA-Z][^>]*>", _feedback(sandbox_batch, student).read_text())
            assert not [t for t in tags if expect["feedback_lacks"] in t], student
    images = re.findall(r"<img[^>]*>", _feedback(sandbox_batch, "imgattr").read_text())
    assert images and not [t for t in images if "onerror" in t or "width" in t], images
    assert "<script>alert(" not in _feedback(sandbox_batch, "script").read_text()
    honest = _feedback(hostile_batch, "honest").read_text()
    assert "BEGIN HIDDEN TESTS" not in honest and "_rng = np.random.default_rng" not in honest


def test_report(hostile_batch):
    report = hostile_batch["course"] / "grading-report" / ASSIGNMENT
    for name in ("index.html", "grades.csv", "scores.png", "tests.png", "time.png"):
        assert (report / name).exists(), name
    page = (report / "index.html").read_text()
    assert "<script>" not in page
    print(f"hostile batch duration: {hostile_batch['seconds']:.0f} s")


# ------------------------------------------------------------- limits, seen from inside a sandbox
def _sandbox_spec(tmp_path, **caps):
    from grading import cgroups
    from grading.sandbox import Caps, SandboxSpec, host_user
    os.chmod(tmp_path, 0o755)
    return SandboxSpec(python_prefix=sys.base_prefix, venv=sys.prefix, datasets=None, keras_seed=None,
                       ipythondir=str(tmp_path / "ipython"), scratch=str(tmp_path / "job" / "scratch"),
                       conn_dir=str(tmp_path / "conn"), caps=Caps(**caps), run_as=host_user(),
                       cgroup=cgroups.detect()[0], tag=f"test{os.getpid()}")


INSIDE = r'''
import json, os
out = {"uid": os.getuid(), "proc_writable": [], "root_only": None}
for path in ("/proc/sys/kernel/core_pattern", "/proc/sys/vm/drop_caches", "/proc/sys/kernel/panic",
             "/proc/sysrq-trigger"):
    try:
        with open(path, "w") as fh:
            fh.write("1")
        out["proc_writable"].append(path)
    except OSError:
        pass
try:
    out["root_only"] = open(ROOT_ONLY).read()
except OSError as exc:
    out["root_only"] = type(exc).__name__
mb = 0
try:
    with open("/tmp/fill", "wb") as fh:
        while True:
            fh.write(b"x" * (1 << 20))
            fh.flush()
            mb += 1
except OSError as exc:
    out["tmp"] = [exc.errno, mb]
print(json.dumps(out))
'''


def test_sandbox_is_not_root_and_tmp_is_sized(tmp_path):
    """From inside: /proc/sys is not writable, a root-only host file is unreadable, /tmp is full at 64 MB."""
    from grading.sandbox import check_sandbox, run_sandboxed
    check_sandbox()
    spec = _sandbox_spec(tmp_path, tmp_mb=64, memory_mb=1024)
    root_only = f"{sys.prefix}/tdnn-root-only-{os.getpid()}-inside.txt"
    if os.geteuid() == 0:
        fd = os.open(root_only, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, b"root-only secret")
        os.close(fd)
    try:
        proc = run_sandboxed(spec, [f"{sys.prefix}/bin/python", "-c",
                                    INSIDE.replace("ROOT_ONLY", repr(root_only))], timeout=120)
    finally:
        if os.path.exists(root_only):
            os.unlink(root_only)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["uid"] == 65534
    assert out["proc_writable"] == []
    assert out["root_only"] in ("PermissionError", "FileNotFoundError")
    if os.geteuid() == 0:
        assert out["root_only"] == "PermissionError"  # it is there, and the sandbox is not root
    assert out["tmp"][0] == 28 and 56 <= out["tmp"][1] <= 64, out["tmp"]  # ENOSPC at /tmp's size


def test_memory_of_all_processes_is_capped(tmp_path):
    """Six children of 100 MB each in a sandbox of 400 MB: the cgroup's OOM killer stops some."""
    from grading.sandbox import run_sandboxed
    spec = _sandbox_spec(tmp_path, memory_mb=400, processes=64)
    if not spec.cgroup:
        pytest.skip("no writable cgroup here: only per-process rlimits hold (see docs/grading.md)")
    code = ("import subprocess, sys\n"
            "kid = 'import time; b = bytearray(100 << 20); b[::4096] = b\"x\" * len(b[::4096]); time.sleep(3)'\n"
            "kids = [subprocess.Popen([sys.executable, '-c', kid]) for _ in range(6)]\n"
            "print([k.wait() for k in kids])\n")
    proc = run_sandboxed(spec, [f"{sys.prefix}/bin/python", "-c", code], timeout=120)
    assert proc.limits["oom_kills"] >= 1, (proc.stdout, proc.stderr[-2000:])
    codes = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else None
    assert codes is None or -9 in codes, codes
