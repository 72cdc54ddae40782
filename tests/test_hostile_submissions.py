"""Hostile submissions on the `schedules` assignment, graded as ONE batch with 2 workers.

Each hostile notebook (tests/helpers/hostile_payloads.py) is the reference solution with a wrong
`power_schedule` plus one attack: infinite loops (one swallowing KeyboardInterrupt), a memory
bomb, os._exit, SIGKILL, sys.exit, deleted/edited/retyped test cells, redefined test helpers,
monkeypatched math/numpy/builtins, a silenced traceback, reads of solutions/ and other students'
files, writes into the gradebook and other folders, network connections, 100 MB printed on one
line, <script> in the output, corrupt JSON, an empty file, a wrong file name; and two honest
references (one saved by Colab). For every one: the batch completes, the submission gets no
more than it earned, its reason is reported, and nothing of anyone else changes.
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
from helpers.hostile_payloads import POWER_TESTS, build_all

pytestmark = pytest.mark.slow

ASSIGNMENT = "schedules"
CAPS = ["--workers", "2", "--cell-seconds", "20", "--wall-seconds", "90", "--cpu-seconds", "120",
        "--memory-mb", "3500", "--output-bytes", "1000000"]


def _outputs_text(nb_path: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    parts = []
    for cell in nb.cells:
        # The kernel may flush one print in several stream messages: join them as written.
        parts.append("".join(str(out.get("text", "")) for out in cell.get("outputs", [])))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def hostile_batch(repo, offline_env, tmp_path_factory):
    if not (repo / "solutions" / ASSIGNMENT).exists():
        pytest.skip("the schedules assignment is not there yet")
    root = tmp_path_factory.mktemp("hostile")
    course = make_course(root, ASSIGNMENT)
    # A host file only root may read, somewhere the sandbox sees (the venv is bound read-only).
    root_only = f"{sys.prefix}/tdnn-root-only-{os.getpid()}.txt"
    if os.geteuid() == 0:
        fd = os.open(root_only, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, b"root-only secret")
        os.close(fd)
    try:
        yield _grade_hostile(repo, offline_env, root, course, root_only)
    finally:
        if os.path.exists(root_only):
            os.unlink(root_only)


def _grade_hostile(repo, offline_env, root, course, root_only):
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
    paths = {
        "read": {"repo_solutions": str(repo / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
                 "course_solutions": str(course / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
                 "gradebook": str(course / "gradebook.db"),
                 "other_student": str(course / "submitted" / "honest" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
                 "submissions_folder": str(subs),
                 "repo_root": str(repo / "README.md"),
                 "shadow": "/etc/shadow"},
        "write": {"gradebook": str(course / "gradebook.db"),
                  "other_student": str(course / "submitted" / "honest" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
                  "course_root": str(course) + "/",
                  "repo_root": str(repo) + "/",
                  "venv": sys.prefix + "/"},
        "port": port,
        "proc": {"core_pattern": "/proc/sys/kernel/core_pattern", "drop_caches": "/proc/sys/vm/drop_caches",
                 "panic": "/proc/sys/kernel/panic", "sysrq": "/proc/sysrq-trigger"},
        "root_only": root_only,
        "symlink_to": str(course / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
    }
    cases = build_all(course, paths)
    for student, (filename, data, expect) in cases.items():
        (subs / student).mkdir(parents=True)
        if "symlink_to" in expect:  # a notebook that is a link to the solutions
            (subs / student / filename).symlink_to(expect["symlink_to"])
        else:
            (subs / student / filename).write_bytes(data)
    protected = {"submissions": tree_hashes(subs),
                 "solutions": tree_hashes(course / "solutions"),
                 "exercises": tree_hashes(course / "exercises"),
                 "config": tree_hashes(course / "grading"),
                 "repo_solutions": tree_hashes(repo / "solutions" / ASSIGNMENT)}
    start = time.monotonic()
    proc = run_grading(course, ASSIGNMENT, subs, *CAPS, env=offline_env, timeout=1500)
    seconds = time.monotonic() - start
    server.close()
    print(f"\nhostile batch: {len(cases)} submissions in {seconds:.0f} s\n{proc.stdout}")
    state = json.loads((course / "autograded" / f".grading-state-{ASSIGNMENT}.json").read_text())
    return {"course": course, "subs": subs, "cases": cases, "proc": proc, "seconds": seconds,
            "protected": protected, "state": state, "grades": read_grades(course, ASSIGNMENT),
            "reached": reached, "repo": repo}


def test_batch_completes(hostile_batch):
    proc = hostile_batch["proc"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert set(hostile_batch["state"]) == set(hostile_batch["cases"])
    assert len(hostile_batch["cases"]) >= 30
    # Names are printed with control characters escaped.
    assert "\x1b" not in proc.stdout + proc.stderr and "\x07" not in proc.stdout + proc.stderr
    assert list(hostile_batch["state"]["ctrlname"]["files"].values()) == ["sched\\x1b[2J\\x07ules.ipynb"]


def test_no_one_gets_more_than_earned(hostile_batch):
    grades, cases = hostile_batch["grades"], hostile_batch["cases"]
    for student, (_, _, expect) in cases.items():
        got = grades.get(student, {"total": 0.0})
        assert got["total"] <= expect["max_total"] + 1e-9, (student, got)
        if "min_total" in expect:
            assert got["total"] >= expect["min_total"] - 1e-9, (student, got, hostile_batch["state"][student])
        elif student in grades:
            for cell in POWER_TESTS:  # the wrong power_schedule must never pass its tests
                assert got.get(cell, 0.0) == 0.0, (student, cell, got)
        assert got.get("_submissions", 1) == 1, (student, "graded more than once")


@pytest.mark.parametrize("student", [
    "loop", "swallow", "membomb", "osexit", "sigkill", "deltests", "edittests", "celltype",
    "bigprint", "corrupt", "empty", "wrongname", "forkmem", "displayflood", "manycells",
    "gradeidlist", "dupid", "missingkeys", "deepjson", "huge", "symlink"])
def test_reason_is_reported(hostile_batch, student):
    entry = hostile_batch["state"][student]
    expect = hostile_batch["cases"][student][2]
    text = entry["status"] + ": " + "; ".join(entry["problems"])
    assert re.search(expect["reason"], text), (student, text)
    assert student in hostile_batch["proc"].stdout  # in the final summary


def test_sandbox_blocks_files_and_network(hostile_batch):
    course = hostile_batch["course"]
    probes = [s for s, (_, _, e) in hostile_batch["cases"].items() if "stdout_has" in e]
    assert {"reader", "writer", "network", "procsys", "rootfile", "forkbomb", "tmpfill", "seccomp"} <= set(probes)
    for student in probes:
        expect = hostile_batch["cases"][student][2]
        text = _outputs_text(course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
        assert expect["stdout_has"] in text, (student, text[:2000])
        leaks = [line for line in text.splitlines() if expect["stdout_lacks"] in line]
        if student == "writer":
            # When the repository lives under /tmp (CI's clean clone), bwrap creates the parents
            # of the read-only venv mount inside the sandbox's private /tmp, so a write "into the
            # repo root" lands in that throw-away tmpfs. What counts is the host, checked below.
            leaks = [line for line in leaks if line.split()[1:2] not in (["repo_root"], ["course_root"])]
        assert not leaks, (student, text[:2000])
    # /tmp filled up at its own size (512 MB by default), not the host's.
    tmp_line = next(line for line in _outputs_text(
        course / "autograded" / "tmpfill" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").splitlines()
        if line.startswith("BLOCKED tmp"))
    fields = tmp_line.split()
    assert len(fields) == 4 and fields[2] == "28" and int(fields[3]) <= 512, tmp_line  # ENOSPC
    assert not hostile_batch["reached"], "a kernel reached the host's loopback"
    assert not (course / "owned.txt").exists()
    assert not (hostile_batch["repo"] / "owned.txt").exists()


def test_outputs_are_clean(hostile_batch):
    course = hostile_batch["course"]
    for student, (_, _, expect) in hostile_batch["cases"].items():
        if "output_lacks" in expect:
            nb = nbformat.read(course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
            assert "widgets" not in nb.metadata, student
            outputs = json.dumps([c.get("outputs", []) for c in nb.cells])
            assert expect["output_lacks"] not in outputs, student
    # Display updates count: the flood was stopped at the cell's cap.
    flood = course / "autograded" / "displayflood" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert flood.stat().st_size < 3_000_000


def test_nothing_else_changed(hostile_batch):
    course, subs, repo = hostile_batch["course"], hostile_batch["subs"], hostile_batch["repo"]
    before = hostile_batch["protected"]
    assert tree_hashes(subs) == before["submissions"]
    assert tree_hashes(course / "solutions") == before["solutions"]
    assert tree_hashes(course / "exercises") == before["exercises"]
    assert tree_hashes(course / "grading") == before["config"]
    assert tree_hashes(repo / "solutions" / ASSIGNMENT) == before["repo_solutions"]
    # Every imported copy is byte-identical to what that student handed in.
    for student, (filename, data, expect) in hostile_batch["cases"].items():
        if not filename.endswith(".ipynb") or "symlink_to" in expect or student == "huge":
            continue
        copy = course / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        assert hashlib.sha256(copy.read_bytes()).digest() == hashlib.sha256(data).digest(), student


def test_feedback_is_sanitized(hostile_batch):
    course = hostile_batch["course"]
    for student, (_, _, expect) in hostile_batch["cases"].items():
        if "feedback_lacks" in expect:  # as a live tag or attribute (the cell's code shows it as text)
            page = (course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
            tags = re.findall(r"<[a-zA-Z][^>]*>", page)
            assert not [t for t in tags if expect["feedback_lacks"] in t], student
    images = re.findall(r"<img[^>]*>", (course / "feedback" / "imgattr" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text())
    assert images and not [t for t in images if "onerror" in t or "width" in t], images
    html = (course / "feedback" / "script" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "<script>alert(" not in html
    assert "BEGIN HIDDEN TESTS" not in html
    honest = (course / "feedback" / "honest" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
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
