"""The attacks of tests/test_hostile_submissions.py: hostile submissions built from a release.

Attacks on an assignment's own tests and points (`build_all`: `schedules`, the reference solution
with a *wrong* `power_schedule` plus one attack, so the most it can earn honestly is the total
minus the power tests) and attacks on the sandbox, the caps and the files (`build_sandbox`: the
`tiny` assignment, whose kernels start in seconds, a wrong `add` plus one attack: 0 points). No
attack may buy points back, or change anyone else's grade or files.

Both return {student: (filename, bytes, expectation)} where expectation
is a dict: `reason` (a regular expression that the student's reported problems/status must
match), `max_total` (points), `stdout_has` / `stdout_lacks` (markers in the executed notebook).
"""
from __future__ import annotations

import copy
import json

import nbformat

from .course import reference_submission

WRONG_POWER = "def power_schedule(t, initial_lr, s, c=1.0):\n    return 0.0\n"
POWER_TESTS = ("test_power_visible", "test_power_hidden")


def _set(nb, grade_id, source):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
            return nb
    raise KeyError(grade_id)


def _probe(paths: dict, mode: str) -> str:
    """Code that tries to read or write the given paths and prints LEAK/BLOCKED markers."""
    targets = json.dumps(paths)
    if mode == "read":
        return f'''
import os
for _what, _path in {targets}.items():
    try:
        if os.path.isdir(_path):
            _data = repr(os.listdir(_path))
        else:
            with open(_path, "rb") as _f:
                _data = _f.read(200)
        print("LEAK", _what, str(_data)[:80])
    except Exception as _e:
        print("BLOCKED", _what, type(_e).__name__)
'''
    return f'''
import os
for _what, _path in {targets}.items():
    try:
        if _path.endswith("/"):
            with open(_path + "owned.txt", "w") as _f:
                _f.write("owned")
        else:
            with open(_path, "r+b") as _f:
                _f.seek(0)
                _f.write(b"OWNED")
        print("LEAK", _what)
    except Exception as _e:
        print("BLOCKED", _what, type(_e).__name__)
'''


FORK_MEMORY = """
import subprocess, sys
_code = "import time; b = bytearray(600 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); time.sleep(4)"
_kids = [subprocess.Popen([sys.executable, "-c", _code]) for _ in range(8)]
print("exit codes", [k.wait() for k in _kids])
"""

FORK_BOMB = """
import subprocess
_kids = []
for _i in range(400):
    try:
        _kids.append(subprocess.Popen(["sleep", "60"]))
    except OSError as _e:
        print("BLOCKED fork", type(_e).__name__, len(_kids))
        break
else:
    print("LEAK fork", len(_kids))
for _k in _kids:
    _k.kill()
    _k.wait()
"""

FILL_TMP = """
import os
_mb = 0
try:
    for _i in range(40):  # files of 100 MB (RLIMIT_FSIZE caps one file at 256 MB)
        with open(f"/tmp/fill{_i}", "wb") as _f:
            for _j in range(100):
                _f.write(b"x" * (1 << 20))
                _mb += 1
    print("LEAK tmp", _mb)
except OSError as _e:
    print("BLOCKED tmp", _e.errno, _mb)
for _i in range(40):
    if os.path.exists(f"/tmp/fill{_i}"):
        os.remove(f"/tmp/fill{_i}")
"""

SECCOMP = """
import ctypes, errno, socket
_libc = ctypes.CDLL(None, use_errno=True)
if _libc.syscall(KEYCTL, 0, -3, 0) < 0:  # keyctl(KEYCTL_GET_KEYRING_ID, session keyring)
    print("BLOCKED keyctl", errno.errorcode[ctypes.get_errno()])
else:
    print("LEAK keyctl")
for _name, _family, _type, _proto in (("vsock", 40, socket.SOCK_STREAM, 0), ("packet", 17, socket.SOCK_RAW, 0),
                                      ("netlink_audit", 16, socket.SOCK_RAW, 9)):
    try:
        socket.socket(_family, _type, _proto).close()
        print("LEAK", _name)
    except OSError as _e:
        print("BLOCKED", _name, errno.errorcode[_e.errno])
"""

DISPLAY_FLOOD = """
from IPython.display import display, update_display
_handle = display("start", display_id=True)
for _i in range(1200):   # 1.2 MB of updates: past the 1 MB cap, and quick enough on a busy machine
    _handle.update("u" * 1000)
for _i in range(300):
    display("same", display_id="amplified")
update_display("v" * 50_000, display_id="amplified")
"""

WIDGET = """
from IPython.display import display
display({"application/vnd.jupyter.widget-view+json": {"model_id": "m", "version_major": 2,
                                                      "version_minor": 0}}, raw=True)
"""

PNG_1PX = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
           "rkJggg==")
IMAGE_ATTRIBUTE = f"""
from IPython.display import display
display({{"image/png": "{PNG_1PX}"}}, raw=True,
        metadata={{"image/png": {{"width": "1 onerror=alert(document.domain) x", "height": "1"}},
                  "width": "2 onerror=alert(2)"}})
"""


class _Cases(dict):
    """student -> (file name, bytes, expectation), filled by `add`."""

    def __init__(self, filename: str, max_total: float):
        super().__init__()
        self.filename, self.max_total = filename, max_total

    def add(self, student, nb_or_bytes, reason, max_total=None, filename=None, **extra):
        data = nb_or_bytes if isinstance(nb_or_bytes, bytes) else nbformat.writes(nb_or_bytes).encode()
        self[student] = (filename or self.filename, data,
                         {"reason": reason, "max_total": self.max_total if max_total is None else max_total,
                          **extra})


def build_all(course, paths: dict | None = None) -> dict:
    """The attacks on `schedules`' own tests and points (its reference with a wrong
    `power_schedule` plus one attack), and two honest references."""
    base = reference_submission(course)
    total = 23.0

    def variant(power_source=WRONG_POWER):
        nb = copy.deepcopy(base)
        return _set(nb, "power", power_source)

    out = _Cases("schedules.ipynb", total - 3.0)  # the power tests are worth 3 points
    add = out.add

    # Honest references: full marks, also when saved by Colab under another name.
    add("honest", copy.deepcopy(base), reason=None, max_total=total, min_total=total)
    colab = copy.deepcopy(base)
    colab.metadata.update({"colab": {"provenance": [], "gpuType": "T4", "name": "schedules.ipynb"},
                           "accelerator": "GPU", "kernelspec": {"name": "python3", "display_name": "Python 3"},
                           "language_info": {"name": "python"}})
    for i, cell in enumerate(colab.cells):
        cell.metadata["id"] = f"cellid{i:04d}"
        if cell.cell_type == "code":
            cell.metadata["colab"] = {"base_uri": "https://localhost:8080/"}
            cell.metadata["outputId"] = f"out{i}"
    add("colab", colab, reason=None, max_total=total, min_total=total, filename="Copy of schedules (1).ipynb")

    # Tampering with the tests.
    nb = variant()
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in POWER_TESTS]
    add("deltests", nb, reason=r"deleted instructor cell test_power")
    nb = variant()
    _set(nb, "test_power_visible", "print('power_schedule: visible tests passed')")
    _set(nb, "test_power_hidden", "pass")
    add("edittests", nb, reason=r"edited locked cell test_power")
    nb = variant()
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in POWER_TESTS:
            cell.cell_type = "markdown"
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    add("celltype", nb, reason=r"changed the type of cell test_power")
    add("redefine", variant(WRONG_POWER + "def expect_close(*args, **kwargs):\n    return None\n"), reason=None)
    add("monkeypatch", variant(WRONG_POWER + "import math, numpy, numpy.testing, builtins\n"
                                            "math.isclose = lambda *a, **k: True\n"
                                            "numpy.testing.assert_allclose = lambda *a, **k: None\n"
                                            "numpy.isclose = lambda *a, **k: True\n"
                                            "builtins.float = lambda *a, **k: 0.0\n"), reason=None)
    add("notraceback", variant(WRONG_POWER + "_ip = get_ipython()\n"
                                            "_ip.showtraceback = lambda *a, **k: None\n"
                                            "_ip._showtraceback = lambda *a, **k: None\n"), reason=None)

    # Malformed nbgrader metadata, copied cells: that student only.
    nb = variant()
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_power_visible":
            cell.metadata["nbgrader"]["grade_id"] = ["test_power_visible"]
    add("gradeidlist", nb, reason=r"malformed nbgrader metadata")
    nb = variant()
    for index, cell in enumerate(nb.cells):
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_power_hidden":
            fake = copy.deepcopy(cell)
            fake.source = "print('hidden tests passed')"
            nb.cells.insert(index, fake)
            break
    add("dupid", nb, reason=r"grade_id test_power_hidden used by cells")
    nb = variant()
    nb.cells.insert(4, nbformat.v4.new_code_cell("print('free points?')", metadata={
        "nbgrader": {"grade": True, "points": 50, "solution": False}}))
    add("missingkeys", nb, reason=r"malformed nbgrader metadata")
    return dict(out)


def build_sandbox(paths: dict) -> dict:
    """The attacks on the sandbox, the caps and the files, on the `tiny` assignment: a wrong
    `add` (0 of 3 points) plus one attack, and an honest neighbour (3 of 3)."""
    from .tiny import RIGHT, WRONG, student_nb

    def variant(code=""):
        return student_nb(WRONG + "\n" + code)

    out = _Cases("tiny.ipynb", 0.0)
    add = out.add
    add("honest", student_nb(RIGHT), reason=None, max_total=3.0, min_total=3.0)

    # Time, memory, kernel death.
    add("loop", variant("while True:\n    pass\n"), reason=r"timed out")
    add("swallow", variant("import time\nwhile True:\n    try:\n        time.sleep(0.05)\n"
                           "    except KeyboardInterrupt:\n        pass\n"),
        reason=r"timed out|timeout")
    add("membomb", variant("_hog = []\nwhile True:\n    _hog.append(bytearray(256 * 1024 * 1024))\n"),
        reason=r"memory")
    add("osexit", variant("import os\nos._exit(3)\n"), reason=r"kernel exited with status 3")
    add("sigkill", variant("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"),
        reason=r"kernel (killed|died|exited)|SIGKILL")
    add("sysexit", variant("import sys\nsys.exit(0)\n"), reason=None)

    # Escaping the sandbox.
    add("reader", variant(_probe(paths["read"], "read")), reason=None, stdout_has="BLOCKED", stdout_lacks="LEAK")
    add("writer", variant(_probe(paths["write"], "write")), reason=None, stdout_has="BLOCKED", stdout_lacks="LEAK")
    add("network", variant(f'''
import socket
for _host, _port in [("127.0.0.1", {paths["port"]}), ("1.1.1.1", 80), ("pypi.org", 443)]:
    try:
        socket.create_connection((_host, _port), timeout=3).close()
        print("LEAK", _host, _port)
    except Exception as _e:
        print("BLOCKED", _host, type(_e).__name__)
'''), reason=None, stdout_has="BLOCKED", stdout_lacks="LEAK")

    # Output.
    # 100 MB in one message: past the message cap (64 MB), so the worker never reads it.
    add("bigprint", variant("print('x' * 100_000_000)\n"), reason=r"capped: .*message cap")
    add("script", variant("from IPython.display import HTML, display\n"
                          "display(HTML(\"<script>alert('pwned-html')</script>\"))\n"
                          "print(\"<script>alert('pwned-text')</script>\")\n"), reason=None,
        feedback_lacks="<script>alert(")

    # The kernel is not host root: /proc/sys stays read-only, a root-only host file unreadable.
    add("procsys", variant(_probe(paths["proc"], "write")), reason=None, stdout_has="BLOCKED", stdout_lacks="LEAK")
    add("rootfile", variant(_probe({"root_only": paths["root_only"]}, "read")),
        reason=None, stdout_has="BLOCKED", stdout_lacks="LEAK")

    # Limits hold for the whole sandbox, not per process.
    add("forkmem", variant(FORK_MEMORY), reason=r"memory cap of the sandbox")
    add("forkbomb", variant(FORK_BOMB), reason=None, stdout_has="BLOCKED fork", stdout_lacks="LEAK")
    add("tmpfill", variant(FILL_TMP), reason=None, stdout_has="BLOCKED tmp", stdout_lacks="LEAK")
    # The seccomp filter: the kernel keyring, AF_VSOCK and other socket families are refused.
    from grading.seccomp import syscall_number
    add("seccomp", variant(SECCOMP.replace("KEYCTL", str(syscall_number("keyctl")))),
        reason=None, stdout_has="BLOCKED vsock", stdout_lacks="LEAK")

    # Output caps: display updates, widgets, metadata that reaches the HTML, cells.
    add("displayflood", variant(DISPLAY_FLOOD), reason=r"output cap")
    nb = variant(WIDGET)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json":
                              {"version_major": 2, "version_minor": 0, "state": {"m": {"x": "W" * 5000}}}}
    add("widget", nb, reason=None, output_lacks="application/vnd.jupyter.widget")
    add("imgattr", variant(IMAGE_ATTRIBUTE), reason=None, feedback_lacks="onerror")
    nb = variant()
    nb.cells += [nbformat.v4.new_code_cell("pass") for _ in range(10 * 5)]  # tiny has 5 cells
    add("manycells", nb, reason=r"cells, more than 50")

    # Hostile files: deep JSON, a huge file, a symlink out of the folder, control characters.
    add("deepjson", b'{"cells": [], "metadata": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", reason=r"nested deeper")
    add("huge", b'{"cells": [' + b" " * (21 * 1024 * 1024) + b"]}", reason=r"larger than")
    add("symlink", b"", reason=r"symbolic link", symlink_to=paths["symlink_to"])
    add("ctrlname", variant(), reason=None, filename="ti\x1b[2J\x07ny.ipynb")

    # Files that are not notebooks.
    add("corrupt", b'{"cells": [ this is not json', reason=r"corrupt notebook")
    add("empty", b"", reason=r"empty file")
    add("wrongname", nbformat.writes(variant()).encode(), reason=r"no notebook found", filename="tiny.py")
    return dict(out)
