"""The resume state of a batch: what was graded, under which conditions, with what result.

One JSON file per course root and assignment, `autograded/.grading-state-ASSIGNMENT.json`,
rewritten atomically after each student. An entry is reused on a rerun (the student is skipped)
only when its key is unchanged and its status is final (`DONE`); the key is a SHA-256 of all
that determines a grade:

- the submission's content (`Submission.digest`: every notebook's bytes, or the file names);
- the assignment: every file under `solutions/ASSIGNMENT/` (source notebooks, hidden tests) and
  the course's `nbgrader_config.py`;
- the grader's own code that decides grades (`GRADE_CODE` below);
- the seed, the caps and the profile (`COURSE_PROFILE`) the kernels get.

Timed-out, failed (kernel died, worker error) and not-graded entries are retried on every rerun.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

DONE = ("ok", "graded_with_problems")
GRADE_CODE = ("batch.py", "intake.py", "worker.py", "guard.py", "sandbox.py", "outputs.py",
              "judge.py", "probes.py", "verdicts.py")
CHECKS = "checks"  # grading/checks/: the grader-side half of every test cell
PACKAGE = Path(__file__).resolve().parent


def _hash_tree(h, folder: Path) -> None:
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and ".ipynb_checkpoints" not in path.parts:
            h.update(str(path.relative_to(folder)).encode() + b"\0")
            h.update(hashlib.sha256(path.read_bytes()).digest())


def context_key(course_root: Path, assignment: str, source_dir: Path, caps: dict, env: dict) -> str:
    """The part of the key shared by every student of one run."""
    h = hashlib.sha256(b"grading-state-v2\0")
    _hash_tree(h, source_dir)
    config = Path(course_root) / "nbgrader_config.py"
    if config.exists():
        h.update(hashlib.sha256(config.read_bytes()).digest())
    for name in GRADE_CODE:
        path = PACKAGE / name
        if path.exists():
            h.update(name.encode() + hashlib.sha256(path.read_bytes()).digest())
    _hash_tree(h, PACKAGE / CHECKS)
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
