"""Reading a submitted notebook without trusting it: every problem is the student's, never the batch's.

`read_submission(raw, max_cells, known)` returns a notebook (nbformat v4) with well-formed nbgrader
metadata, and the problems found, or raises `Rejected` with the reason the student will read:

- not UTF-8, not JSON, JSON nested deeper than `MAX_DEPTH`, not a notebook, more cells than
  `max_cells` (the caller passes a multiple of the source notebook's count): rejected;
- nbgrader metadata of the wrong type or shape on a cell (a list as `grade_id`, a string as
  `points`, a grade cell without `grade_id`, ...): that cell's nbgrader metadata is removed (the
  instructor's cells are then put back by OverwriteCells as if deleted) and the problem reported;
- a `grade_id` the assignment does not have: removed, reported;
- a `grade_id` used by several cells (a copied cell): reported, not punished. The LAST copy keeps
  it and the earlier copies become ordinary cells, which still run. So a student who pastes a
  test cell above the answer to try it early keeps the answer, and the test cell graded is the
  one that follows it; a student who pastes an answer cell and edits the copy is graded on the
  copy, the definition the kernel holds last. A copy of an answer cell left exactly as released
  (the stub) beside a copy the student wrote in is left out, wherever it is: an honest student
  who writes the answer in the upper copy keeps it (`stubs`). nbgrader's DeduplicateIds keeps the last copy
  too, but leaves the others with empty metadata that makes OverwriteCells fail.

`keep_known_metadata(nb)` drops what nbgrader does not need from the notebook's and the cells'
metadata (Colab's, and anything a student wrote there).
"""
from __future__ import annotations

import json
import numbers
import re

import nbformat

MAX_DEPTH = 64
GRADE_ID = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
BOOL_KEYS = ("grade", "solution", "locked", "task")
CELL_TYPES = ("code", "markdown", "raw")


class Rejected(ValueError):
    pass


def _depth(obj) -> int:
    """Nesting depth, without recursion (a hostile file may nest deeply)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        item, d = stack.pop()
        deepest = max(deepest, d)
        if d > MAX_DEPTH:
            return d
        if isinstance(item, dict):
            stack.extend((v, d + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, d + 1) for v in item)
    return deepest


def _valid_nbgrader(meta) -> str | None:
    """None when this cell's nbgrader metadata is usable, else what is wrong with it."""
    if not isinstance(meta, dict):
        return f"not a mapping but {type(meta).__name__}"
    for key in BOOL_KEYS:
        if key in meta and not isinstance(meta[key], bool):
            return f"{key} is {type(meta[key]).__name__}, not true/false"
    if "points" in meta and (isinstance(meta["points"], bool) or not isinstance(meta["points"], numbers.Real)
                             or not 0 <= meta["points"] < 1e6):
        return "points is not a number"
    if "schema_version" in meta and (isinstance(meta["schema_version"], bool)
                                     or not isinstance(meta["schema_version"], int)):
        return "schema_version is not an integer"
    gid = meta.get("grade_id")
    # nbgrader reads grade_id of every cell with nbgrader metadata (OverwriteCells): required.
    if not isinstance(gid, str):
        return f"grade_id is {type(gid).__name__}, not a string"
    if not GRADE_ID.match(gid):
        return "grade_id has characters nbgrader does not allow"
    return None


def _decode(raw: bytes | None):
    """The submitted bytes as JSON data; raises Rejected."""
    if raw is None:
        raise Rejected("notebook missing or too large")
    if not raw.strip():
        raise Rejected("empty file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected("corrupt notebook (not UTF-8 text)") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise Rejected(f"corrupt notebook (JSON nested deeper than {MAX_DEPTH} levels)") from None
    except ValueError as exc:
        raise Rejected(f"corrupt notebook (not valid notebook JSON: {type(exc).__name__})") from None
    if _depth(data) > MAX_DEPTH:
        raise Rejected(f"corrupt notebook (JSON nested deeper than {MAX_DEPTH} levels)")
    if not isinstance(data, dict):
        raise Rejected("corrupt notebook (not a notebook: the top level is not an object)")
    return text, data


def _notebook(raw: bytes | None, max_cells: int):
    """The submitted bytes as an nbformat v4 notebook of at most max_cells cells; raises Rejected."""
    text, data = _decode(raw)
    cells = data.get("cells")
    if cells is None and isinstance(data.get("worksheets"), list):  # nbformat 3
        cells = [c for ws in data["worksheets"] if isinstance(ws, dict) for c in ws.get("cells") or []]
    if not isinstance(cells, list):
        raise Rejected("corrupt notebook (no cells)")
    if len(cells) > max_cells:
        raise Rejected(f"notebook has {len(cells)} cells, more than {max_cells} "
                       "(the limit is a multiple of the assignment's own)")
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:
        raise Rejected(f"corrupt notebook (not valid notebook JSON: {type(exc).__name__})") from None
    if not isinstance(nb.get("cells"), list):
        raise Rejected("corrupt notebook (no cells)")
    for index, cell in enumerate(nb.cells):
        if not isinstance(cell, dict) or cell.get("cell_type") not in CELL_TYPES:
            raise Rejected(f"corrupt notebook (cell {index} is not a code, markdown or raw cell)")
        if not isinstance(cell.get("source", ""), str):
            raise Rejected(f"corrupt notebook (cell {index} has no text source)")
        if not isinstance(cell.get("metadata", {}), dict):
            cell["metadata"] = nbformat.NotebookNode()
        cell.setdefault("metadata", nbformat.NotebookNode())
    return nb


def _drop_untouched_copies(nb, stubs: dict) -> list[str]:
    """Copies of an answer cell left exactly as released, beside a copy the student wrote in,
    are left out: they would only put the release's stub back after the student's answer."""
    copies: dict[str, list[int]] = {}
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader")
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        if isinstance(gid, str) and gid in stubs:
            copies.setdefault(gid, []).append(index)
    drop = {}
    for gid, indices in copies.items():
        untouched = [i for i in indices if nb.cells[i].source.strip() == stubs[gid].strip()]
        if len(indices) > 1 and len(untouched) < len(indices):
            drop.update({i: gid for i in untouched})
    nb.cells = [cell for index, cell in enumerate(nb.cells) if index not in drop]
    return [f"cell {i} was an unchanged copy of answer cell {gid} (left out: your answer is in "
            "the other copy)" for i, gid in sorted(drop.items())]


def read_submission(raw: bytes | None, max_cells: int, known: set | None = None,
                    stubs: dict | None = None):
    """(notebook, problems); raises Rejected. `known`: the grade_ids of the source notebook;
    `stubs`: grade_id -> the released source of each answer cell."""
    nb = _notebook(raw, max_cells)
    dropped = _drop_untouched_copies(nb, stubs or {})
    problems: list[tuple[int, str]] = []   # (cell index, problem): reported in cell order
    last: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata
        if "nbgrader" not in meta:
            continue
        wrong = _valid_nbgrader(meta["nbgrader"])
        gid = None if wrong else meta["nbgrader"]["grade_id"]
        if wrong:
            problems.append((index, f"malformed nbgrader metadata in cell {index} ({wrong}; ignored, "
                                    "the assignment's cells are restored)"))
        elif known is not None and gid not in known:
            problems.append((index, f"cell {index} has nbgrader metadata with a grade_id the "
                                    f"assignment does not have ({gid}; ignored)"))
        else:
            last[gid] = index
            continue
        del meta["nbgrader"]
    for index, cell in enumerate(nb.cells):
        gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        if gid is not None and last[gid] != index:
            del cell.metadata["nbgrader"]  # an earlier copy: an ordinary cell now
            problems.append((index, f"grade_id {gid} used by cells {index} and {last[gid]} "
                                    "(a copied cell; only the last copy is graded)"))
    return nb, dropped + [why for _, why in sorted(problems, key=lambda p: p[0])]


def keep_known_metadata(nb) -> None:
    """Only what nbgrader needs stays in the notebook's and the cells' metadata (in place)."""
    for key in list(nb.metadata):
        if key not in ("kernelspec", "language_info") or not isinstance(nb.metadata[key], dict):
            del nb.metadata[key]
    for cell in nb.cells:
        for key in list(cell.get("metadata", {})):
            value = cell.metadata[key]
            if key not in ("nbgrader", "deletable", "editable", "tags") or (
                    key in ("deletable", "editable") and not isinstance(value, bool)) or (
                    key == "tags" and not (isinstance(value, list)
                                           and all(isinstance(t, str) for t in value))):
                del cell.metadata[key]
