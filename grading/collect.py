"""Finding the submissions in a folder or a zip file, and who each belongs to.

Layouts (`.ipynb` files anywhere below the top, other files are reported but not graded):

- `<student_id>/<notebook>.ipynb` (nbgrader's, and most LMS "download all" folders);
- flat `<student_id>_<anything>.ipynb`;
- anything else with `--regex`: a Python regular expression with a named group `student`
  (and optionally `notebook`), matched against the path relative to the top (with `/`).

For an assignment with one notebook every `.ipynb` name is accepted ("Copy of schedules.ipynb",
"schedules (1).ipynb" from Colab); with several notebooks the name must match after Colab's
decorations are removed. Nothing is extracted from a zip to disk: members are read in memory.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$")
IGNORED_PARTS = {"__MACOSX", ".ipynb_checkpoints"}


class SubmissionError(ValueError):
    pass


@dataclass
class Submission:
    student: str
    files: dict = field(default_factory=dict)        # notebook id -> bytes (None: too large)
    names: dict = field(default_factory=dict)        # notebook id -> original name
    problems: list = field(default_factory=list)     # why something was not taken
    others: list = field(default_factory=list)       # files that are not notebooks

    def digest(self) -> str:
        h = hashlib.sha256()
        for nb_id in sorted(self.files):
            h.update(nb_id.encode() + b"\0")
            h.update(hashlib.sha256(self.files[nb_id] or b"<too large>").digest())
        if not self.files:
            h.update(("missing:" + "|".join(sorted(self.others))).encode())
        return h.hexdigest()


def shown(text: str) -> str:
    """A name as it may be printed: control characters (and other unprintables) escaped."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                   for ch in str(text))


@dataclass
class Entry:
    rel: PurePosixPath
    size: int
    read: object                      # () -> bytes
    problem: str | None = None        # why this file cannot be used (symlink, corrupt member)


def _folder_entries(path: Path):
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        here = Path(dirpath)
        for name in sorted(dirnames):
            if (here / name).is_symlink():  # os.walk lists it but never enters it
                filenames.append(name)
        dirnames.sort()
        for name in sorted(filenames):
            file = here / name
            rel = PurePosixPath(file.relative_to(path).as_posix())
            if file.is_symlink():
                yield Entry(rel, 0, lambda: b"", f"{shown(rel)} is a symbolic link (not followed)")
            elif file.is_file():
                size = file.stat().st_size

                def read(file=file, size=size):
                    with open(file, "rb") as fh:
                        return fh.read(min(size, MAX_NOTEBOOK_BYTES) + 1)
                yield Entry(rel, size, read)


def _zip_entries(path: Path):
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SubmissionError(f"{path}: not a readable zip file ({exc})") from None
    with zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            name = info.filename.replace("\\", "/")
            rel = PurePosixPath(*[p for p in PurePosixPath(name).parts if p not in ("..", ".", "/")] or ["_"])
            if stat.S_ISLNK(info.external_attr >> 16):
                yield Entry(rel, 0, lambda: b"", f"{shown(rel)} is a symbolic link in the zip (not followed)")
                continue
            if not rel.name.lower().endswith(".ipynb") or info.file_size > MAX_NOTEBOOK_BYTES:
                yield Entry(rel, info.file_size, lambda: b"")
                continue
            try:  # read now, in memory: the archive is closed when collect() uses it
                with zf.open(info) as fh:
                    data = fh.read(MAX_NOTEBOOK_BYTES + 1)  # a header may lie about the size
            except (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, OSError,
                    EOFError, ValueError) as exc:
                yield Entry(rel, info.file_size, lambda: b"",
                            f"{shown(rel)}: corrupt zip member ({type(exc).__name__}: {shown(str(exc))[:120]})")
                continue
            yield Entry(rel, len(data), (lambda data=data: data))


def _entries(path: Path):
    """Every file in the folder or zip, as an Entry."""
    if path.is_dir():
        yield from _folder_entries(path)
    elif zipfile.is_zipfile(path):
        yield from _zip_entries(path)
    else:
        raise SubmissionError(f"{path} is neither a folder nor a zip file")


def clean_name(filename: str) -> str:
    """'Copy of schedules (1).ipynb' -> 'schedules'."""
    stem = filename[:-6] if filename.lower().endswith(".ipynb") else filename
    stem = re.sub(r"^(Copy of |Kopie von |Copie de )+", "", stem)
    stem = re.sub(r"\s*\(\d+\)$", "", stem)
    return stem.strip()


def collect(path: Path, notebooks: list[str], regex: str | None = None):
    """({student id: Submission}, [skipped files with why]). `notebooks`: the notebook ids."""
    path = Path(path)
    if not path.exists():
        raise SubmissionError(f"submissions not found: {path}")
    pattern = re.compile(regex) if regex else None
    if pattern is not None and "student" not in pattern.groupindex:
        raise SubmissionError("--regex needs a named group (?P<student>...)")
    subs: dict[str, Submission] = {}
    skipped: list[str] = []
    candidates: dict[str, list] = {}
    for entry in _entries(path):
        rel = entry.rel
        if any(p in IGNORED_PARTS or p.startswith(".") for p in rel.parts):
            continue
        nb_hint = None
        if pattern is not None:
            m = pattern.search(rel.as_posix())
            if not m:
                continue
            student = m.group("student")
            if "notebook" in pattern.groupindex and m.group("notebook"):
                nb_hint = m.group("notebook")
        elif len(rel.parts) >= 2:
            student = rel.parts[0]
        else:
            student = rel.name.split("_", 1)[0] if "_" in rel.name else None
            if student is None:
                skipped.append(entry.problem or
                               f"{shown(rel)}: no student id (expected <student>_<name>.ipynb or a folder)")
                continue
        if not student or not STUDENT_ID.match(student):
            skipped.append(f"{shown(rel)}: not a valid student id ({shown(repr(student))})")
            continue
        sub = subs.setdefault(student, Submission(student))
        if entry.problem:
            sub.problems.append(entry.problem)
        if entry.problem or not rel.name.lower().endswith(".ipynb"):
            sub.others.append(shown(rel.name))
            continue
        candidates.setdefault(student, []).append((entry, nb_hint))
    for student, items in candidates.items():
        for entry, nb_hint in sorted(items, key=lambda it: str(it[0].rel)):
            _take(subs[student], entry, nb_hint, notebooks)
    return subs, skipped


def _take(sub: Submission, entry: Entry, nb_hint: str | None, notebooks: list[str]) -> None:
    """One candidate file into the submission, as the notebook its name matches (or not)."""
    rel = entry.rel
    nb_id = _match_notebook(nb_hint or rel.name, notebooks)
    if nb_id is None:
        sub.others.append(shown(rel.name))
        return
    if nb_id in sub.files:
        # Two candidates for one notebook: an exact name wins, else the first one.
        if clean_name(rel.name) == nb_id and rel.name != sub.names[nb_id]:
            sub.problems.append(f"several notebooks for {nb_id}; used {shown(rel.name)}")
        else:
            sub.problems.append(f"several notebooks for {nb_id}; ignored {shown(rel.name)}")
            return
    data = entry.read() if entry.size <= MAX_NOTEBOOK_BYTES else None
    if data is None or len(data) > MAX_NOTEBOOK_BYTES:  # a lying header, or grown since it was listed
        sub.files[nb_id] = None
        sub.problems.append(f"{shown(rel.name)} is larger than {MAX_NOTEBOOK_BYTES} bytes")
    else:
        sub.files[nb_id] = data
    sub.names[nb_id] = shown(rel.name)


def _match_notebook(filename: str, notebooks: list[str]) -> str | None:
    if not filename.lower().endswith(".ipynb"):
        filename = filename + ".ipynb"
    cleaned = clean_name(filename)
    if cleaned in notebooks:
        return cleaned
    if len(notebooks) == 1:
        return notebooks[0]
    return None
