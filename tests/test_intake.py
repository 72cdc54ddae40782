"""Reading a submitted notebook without trusting it (grading/intake.py): no kernels."""
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grading.intake import MAX_DEPTH, Rejected, keep_known_metadata, read_submission
from helpers.tiny import RIGHT, student_nb, tiny_source


def test_intake_rejects_or_repairs_per_student():
    """Hostile notebook files give a reason; malformed nbgrader metadata of any type is removed."""
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
    # A test cell pasted above its answer (cell 2) is an ordinary cell: the copy after the
    # answer (cell 4) is the one graded. An unknown grade_id is dropped.
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
    assert ids == ["intro", "setup", None, "answer", "test_visible", "test_hidden", None, None]
    assert "only the last copy is graded" in problems[0]


def test_copied_answer_cell_the_last_copy_is_the_answer():
    nb = student_nb("def add(a, b):\n    raise NotImplementedError")
    edited = nbformat.from_dict(json.loads(json.dumps(nb.cells[2])))
    edited.source = RIGHT
    nb.cells.insert(3, edited)
    out, problems = read_submission(nbformat.writes(nb).encode(), max_cells=50)
    graded = [c.source for c in out.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "answer"]
    assert graded == [RIGHT] and problems == [
        "grade_id answer used by cells 2 and 3 (a copied cell; only the last copy is graded)"]


STUB = "def add(a, b):\n    # YOUR CODE HERE\n    raise NotImplementedError()"


@pytest.mark.parametrize("answer_first", [True, False])
def test_an_unchanged_copy_of_an_answer_cell_is_left_out(answer_first):
    """The duplicate-cell policy keeps an honest answer wherever the student wrote it: a copy of
    the answer cell left exactly as released (the stub) is left out, the written copy graded."""
    nb = student_nb(STUB)
    written = nbformat.from_dict(json.loads(json.dumps(nb.cells[2])))
    written.source = RIGHT
    nb.cells.insert(2 if answer_first else 3, written)
    out, problems = read_submission(nbformat.writes(nb).encode(), max_cells=50,
                                    stubs={"answer": STUB + "\n"})
    sources = [c.source for c in out.cells if c.cell_type == "code"]
    assert STUB not in sources and sources.count(RIGHT) == 1, sources
    assert [c.metadata.get("nbgrader", {}).get("grade_id") for c in out.cells].count("answer") == 1
    assert problems == [f"cell {3 if answer_first else 2} was an unchanged copy of answer cell answer "
                        "(left out: your answer is in the other copy)"], problems
    # A single answer cell left as released stays (the student did not answer: it runs, and fails).
    out, problems = read_submission(nbformat.writes(student_nb(STUB)).encode(), max_cells=50,
                                    stubs={"answer": STUB})
    assert [c.source for c in out.cells].count(STUB) == 1 and problems == []


def test_only_known_metadata_is_kept():
    nb = student_nb(RIGHT)
    nb.metadata["colab"] = {"provenance": []}
    nb.metadata["kernelspec"] = "not a dict"
    nb.cells[2].metadata.update(collapsed=True, editable="yes", tags=["a", 1], id="x")
    nb.cells[3].metadata.update(deletable=False, tags=["t"])
    keep_known_metadata(nb)
    assert dict(nb.metadata) == {}  # a kernelspec that is not a mapping goes too
    assert set(nb.cells[2].metadata) == {"nbgrader"}
    assert nb.cells[3].metadata["deletable"] is False and nb.cells[3].metadata["tags"] == ["t"]
