"""The student notebooks (exercises/*/*.ipynb) run in a kernel without nbgrader, as in Colab.

Each release notebook is executed top to bottom with nbclient (allow_errors=True) in a kernel where
`import nbgrader` fails. Every error must be clear: the NotImplementedError that a stub raises,
or a test's AssertionError whose message says what was expected (as for a dictionary of answers
still full of None); no NameError or other obscure failure. The set-up cell must run cleanly and
at least one visible test must fail."""
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
# The CIFAR-10 assignment trains models and belongs to its own suite's time budget.
SKIP = {"cifar10"}
RELEASES = sorted(p for p in (REPO / "exercises").glob("*/*.ipynb")
                  if p.parent.name not in SKIP and ".ipynb_checkpoints" not in p.parts)
BLOCKER = 'raise ImportError("nbgrader is not installed in the students\' environment (test)")\n'


@pytest.fixture
def kernel_env(offline_env, tmp_path, monkeypatch):
    block = tmp_path / "no_nbgrader"
    block.mkdir()
    (block / "nbgrader.py").write_text(BLOCKER)
    for key, value in offline_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(block)] + [p for p in [offline_env.get("PYTHONPATH")] if p]))
    return block


@pytest.mark.parametrize("release", RELEASES, ids=lambda p: p.parent.name)
def test_release_runs_without_nbgrader(release, kernel_env, tmp_path):
    nb = nbformat.read(release, as_version=4)
    probe = nbformat.v4.new_code_cell("import importlib\ntry:\n    import nbgrader\n"
                                      "    print('NBGRADER IMPORTED')\nexcept ImportError:\n"
                                      "    print('no nbgrader')")
    nb.cells.insert(0, probe)
    NotebookClient(nb, timeout=300, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert "no nbgrader" in "".join(o.get("text", "") for o in nb.cells[0].outputs)
    errors, test_failures = [], 0
    for cell in nb.cells[1:]:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        for out in cell.outputs:
            if out.output_type == "error":
                errors.append((meta.get("grade_id"), out.ename, out.evalue, bool(meta.get("grade"))))
                test_failures += bool(meta.get("grade"))
    assert errors, "the release ran without any error: are the solutions still in it?"
    # clear: a stub's NotImplementedError, or a test's assertion that explains itself
    unclear = [e[:3] for e in errors if not (e[1] == "NotImplementedError"
                                             or (e[1] == "AssertionError" and e[3] and e[2].strip()))]
    assert not unclear, f"errors other than NotImplementedError or an explained assertion: {unclear}"
    stubs = [e[:3] for e in errors
             if e[1] == "NotImplementedError" and "Replace this line with your code" not in e[2]]
    assert not stubs, f"NotImplementedError without the stub's message: {stubs}"
    assert test_failures, "no visible test failed on the untouched release"
    setup = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup"]
    assert all(not any(o.output_type == "error" for o in c.outputs) for c in setup)
