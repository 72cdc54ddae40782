"""The sandbox's caps seen from the host: disk, the worker, seccomp (issue 25, item 6).

Each test runs `python -m grading.worker` (the process the grader starts per notebook) on a
small plain-Python notebook, in the real sandbox, and looks at the host afterwards: the
connection folder, /dev/shm and kernel.log never hold more than their caps; a kernel that
sends one huge message (or a flood of frames) costs the worker no more than its caps and the
student gets the reason; refused system calls fail inside the sandbox.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]


def run_worker(tmp_path: Path, cells: list[str], **caps) -> dict:
    """Execute a notebook of `cells` with the grader's worker; its result, notebook and folders."""
    from grading.sandbox import Caps, SandboxSpec, check_sandbox
    check_sandbox()
    os.chmod(tmp_path, 0o755)
    (tmp_path / "ipython" / "profile_default" / "startup").mkdir(parents=True)
    jdir = tmp_path / "job"
    (jdir / "scratch").mkdir(parents=True)
    conn = tmp_path / "c"
    conn.mkdir(mode=0o700)
    spec = SandboxSpec(python_prefix=sys.base_prefix, venv=sys.prefix, datasets=None, keras_seed=None,
                       ipythondir=str(tmp_path / "ipython"), scratch=str(jdir / "scratch"),
                       conn_dir=str(conn), caps=Caps(**{"cell_seconds": 60, "wall_seconds": 120, **caps}))
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in cells]), jdir / "in.ipynb")
    job = {"input": str(jdir / "in.ipynb"), "output": str(jdir / "out.ipynb"),
           "result": str(jdir / "result.json"), "sandbox": spec.to_json(), "token": "t",
           "instructor_ids": [], "test_ids": [], "guard": False}
    (jdir / "job.json").write_text(json.dumps(job))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(jdir), "LANG": "C.UTF-8",
           "JUPYTER_PLATFORM_DIRS": "1", "JUPYTER_DATA_DIR": str(jdir / "jupyter"),
           "JUPYTER_RUNTIME_DIR": str(jdir / "jupyter")}
    proc = subprocess.run([sys.executable, "-m", "grading.worker", str(jdir / "job.json")], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    result = json.loads((jdir / "result.json").read_text())
    out = jdir / "out.ipynb"
    nb = nbformat.read(out, as_version=4) if out.exists() else None
    return {"result": result, "nb": nb, "jdir": jdir, "conn": conn}


def cell_text(nb, index: int) -> str:
    return "".join(str(o.get("text", "")) + str(o.get("evalue", "")) for o in nb.cells[index].outputs)


def marks(nb, index: int) -> dict:
    """`NAME VALUE` lines the cell printed."""
    return dict(line.split(" ", 1) for line in cell_text(nb, index).splitlines() if " " in line)


FILL = """
import errno, os
def fill(folder, chunk=1 << 16, limit=64 << 20):
    written = 0
    try:
        with open(os.path.join(folder, "fill"), "wb") as fh:
            while written < limit:
                fh.write(b"x" * chunk)
                fh.flush()
                written += chunk
        return f"LEAK:{written}"
    except OSError as exc:
        return f"{errno.errorcode[exc.errno]}:{written}"
def files(folder, n=500):
    for i in range(n):
        try:
            open(os.path.join(folder, f"f{i}"), "w").close()
        except OSError as exc:
            return f"{errno.errorcode[exc.errno]}:{i}"
    return f"LEAK:{n}"
from ipykernel.connect import get_connection_file
conn = os.path.dirname(get_connection_file())
print("conn_bytes", fill(conn, chunk=4096))
print("conn_files", files(conn))
print("shm_bytes", fill("/dev/shm", chunk=1 << 20, limit=512 << 20))
import sys
log = sys.stderr._original_stdstream_copy  # the kernel's own stderr, outside IPython's capture
for _ in range(40):
    os.write(log, b"L" * (1 << 18))
print("log_written", 40 << 18)
"""

SYSCALLS = """
import ctypes, errno, socket
libc = ctypes.CDLL(None, use_errno=True)
def call(nr, *args):
    return "ok" if libc.syscall(nr, *[ctypes.c_long(a) for a in args]) >= 0 else errno.errorcode[ctypes.get_errno()]
print("keyctl", call(KEYCTL, 0, -3, 0))
print("unshare", call(UNSHARE, 0x40000000))
print("personality", call(PERSONALITY, 0x0040000))
for name, family, kind in (("AF_VSOCK", 40, socket.SOCK_STREAM), ("AF_PACKET", 17, socket.SOCK_RAW),
                           ("AF_UNIX", socket.AF_UNIX, socket.SOCK_STREAM), ("AF_INET6", socket.AF_INET6, socket.SOCK_STREAM)):
    try:
        socket.socket(family, kind).close()
        print(name, "ok")
    except OSError as exc:
        print(name, errno.errorcode[exc.errno])
import subprocess, threading
t = threading.Thread(target=print, args=("thread", "ok")); t.start(); t.join()
print("subprocess", subprocess.run(["true"]).returncode)
"""


@pytest.mark.slow
def test_disk_caps_and_seccomp_hold(tmp_path):
    """Connection folder, /dev/shm and kernel.log stop at their caps and nothing lands on the
    host; keyctl, unshare, a personality change and AF_VSOCK / AF_PACKET sockets are refused,
    threads, subprocesses and AF_UNIX / AF_INET6 sockets work."""
    from grading.seccomp import syscall_number
    syscalls = SYSCALLS
    for name in ("keyctl", "unshare", "personality"):
        syscalls = syscalls.replace(name.upper(), str(syscall_number(name)))
    run = run_worker(tmp_path, [FILL, syscalls], shm_mb=16, conn_kb=64, log_bytes=100_000)
    assert run["result"]["status"] == "ok", run["result"]
    got = marks(run["nb"], 0)
    code, written = got["conn_bytes"].split(":")
    assert code == "ENOSPC" and 16 * 1024 <= int(written) <= 64 * 1024, got
    code, count = got["conn_files"].split(":")
    assert code == "ENOSPC" and int(count) <= 64, got
    code, written = got["shm_bytes"].split(":")
    assert code == "ENOSPC" and 8 << 20 <= int(written) <= 16 << 20, got
    # Nothing of it on the host: the connection folder is empty there, kernel.log at its cap.
    assert list(run["conn"].iterdir()) == []
    log = (run["jdir"] / "scratch" / "kernel.log").read_bytes()
    assert int(got["log_written"]) > 10 * 100_000
    assert 100_000 <= len(log) <= 100_000 + 200 and b"kernel.log truncated by the grader" in log
    calls = marks(run["nb"], 1)
    assert calls == {"keyctl": "EPERM", "unshare": "EPERM", "personality": "EPERM",
                     "AF_VSOCK": "EAFNOSUPPORT", "AF_PACKET": "EAFNOSUPPORT", "AF_UNIX": "ok",
                     "AF_INET6": "ok", "thread": "ok", "subprocess": "0"}, calls


HUGE_PRINT = "print('x' * 80_000_000)"  # one stream message of 80 MB


@pytest.mark.slow
def test_huge_message_costs_the_worker_little(tmp_path):
    """One 80 MB message, past a message cap of 8 MB: ZMQ never reads it; the cells before it
    keep their outputs, the student is told why the rest did not run, and the worker's peak
    memory stays far below the message (without the cap it holds several copies of it)."""
    run = run_worker(tmp_path, ["print('before')", HUGE_PRINT, "print('after')"], message_bytes=8_000_000)
    result = run["result"]
    assert result["status"] == "capped", result  # the submission's doing, not the grader's
    assert any("message cap" in r and "8000000 bytes" in r for r in result["reasons"]), result
    assert cell_text(run["nb"], 0).strip() == "before"
    assert "GradingAborted" in json.dumps(run["nb"].cells[2].outputs) and "after" not in cell_text(run["nb"], 2)
    assert result["worker_peak_mb"] < 130, result  # with a 200 MB cap the same notebook peaks at ~280 MB


FRAMES = """
kernel = get_ipython().kernel
frame = b"y" * (4 << 20)
kernel.session.send(kernel.iopub_socket, "stream", {"name": "stdout", "text": "frames"},
                    parent=kernel.get_parent(), buffers=[frame] * 60)   # 240 MB, each frame under the cap
import time
time.sleep(600)   # past the cell's cap (60 s): only the watchdog ends this cell with its reason
"""


@pytest.mark.slow
def test_flood_of_frames_stops_at_the_worker_memory_cap(tmp_path):
    """Frames each under the message cap but 240 MB together: the worker's watchdog stops the
    notebook at its memory cap with the reason (not at the cell's time cap), and the cell
    before keeps its output."""
    run = run_worker(tmp_path, ["print('before')", FRAMES, "print('after')"], worker_memory_mb=150)
    result = run["result"]
    assert result["status"] == "capped", result  # the submission's doing, not the grader's
    assert result["reasons"][0].startswith("worker memory cap (150 MB)"), result
    assert cell_text(run["nb"], 0).strip() == "before"
    assert "this cell did not finish: worker memory cap" in cell_text(run["nb"], 1)


FLOOD = """
for _i in range(10 ** 8):   # tens of thousands of small messages a second, for minutes
    print(_i, flush=True)
"""


@pytest.mark.slow
def test_message_flood_stops_at_the_worker_cpu_cap(tmp_path):
    """Small messages without end (each dropped past the output cap, but read): the watchdog
    stops the notebook when the worker's CPU time passes its cap, with the reason."""
    run = run_worker(tmp_path, ["print('before')", FLOOD, "print('after')"], worker_cpu_seconds=3)
    result = run["result"]
    assert result["status"] == "capped", result  # the submission's doing, not the grader's
    assert result["reasons"][0].startswith("worker CPU cap (3 s)"), result
    assert 3 <= result["worker_cpu_s"] < 30, result
    assert "this cell did not finish: worker CPU cap" in cell_text(run["nb"], 1)
