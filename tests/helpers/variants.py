"""Simulated students: the reference's sources, variant files, and the notebooks built from them.

`solution_sources` (the reference code of each solution cell), `build_submission` (the release
notebook with some solution cells replaced), `read_variant` (a variant file of
tests/submissions/<assignment>/: `# key: value` headers, then `# %% <grade_id>` sections),
`NOTEBOOK_EDITS` (the `# edit: NAME` changes a variant may ask for), and `assignment_cases`:
every simulated student of an assignment, where wrong variants that cannot hide each other's
mistakes share one notebook (`merge_wrong_variants`, by `solution_cells_run_by_tests`).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat

from .course import solution_sources


def build_submission(release: Path, sources: dict[str, str], out: Path) -> Path:
    """Write the release notebook with the solution cells named in `sources` replaced."""
    nb = nbformat.read(release, as_version=4)
    unknown = set(sources) - {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
    if unknown:
        raise KeyError(f"no cells {sorted(unknown)} in {release}")
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in sources:
            cell.source = sources[grade_id]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return Path(out)


def read_variant(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Parse a variant file: header lines `# key: value` (e.g. `# expect: test_power_hidden`),
    then sections `# %% <grade_id>` holding the code of that solution cell."""
    headers: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current = None
    for line in Path(path).read_text().splitlines():
        match = re.match(r"^# %% (\S+)\s*$", line)
        if match:
            current = match.group(1)
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
        else:
            header = re.match(r"^# (\w+): (.*)$", line)
            if header:
                headers[header.group(1)] = header.group(2).strip()
    return {k: "\n".join(v).strip("\n") + "\n" for k, v in sections.items()}, headers


def max_points(repo: Path, assignment: str) -> dict[str, float]:
    """Grade cell id -> points of `solutions/<assignment>/<assignment>.ipynb`, plus "total"."""
    nb = nbformat.read(Path(repo) / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    points = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            points[meta["grade_id"]] = float(meta.get("points", 0))
    points["total"] = float(sum(points.values()))
    return points


def format_points_table(results: dict[str, dict[str, float]],
                        maxima: dict[str, float] | None = None) -> str:
    """A plain-text table: one row per submission, one column per grade cell, then the total."""
    cells: list[str] = list(maxima or {})
    for points in results.values():
        cells += [c for c in points if c not in cells]
    cells = [c for c in cells if c != "total"] + ["total"]
    name_width = max([len("submission")] + [len(s) for s in results])
    widths = [max(len(c), 5) for c in cells]
    lines = ["  ".join([f"{'submission':<{name_width}}"] + [f"{c:>{w}}" for c, w in zip(cells, widths)])]
    if maxima:
        lines.append("  ".join([f"{'(max)':<{name_width}}"]
                               + [f"{maxima.get(c, float('nan')):>{w}.4g}" for c, w in zip(cells, widths)]))
    for student, points in results.items():
        lines.append("  ".join([f"{student:<{name_width}}"]
                               + [f"{points.get(c, float('nan')):>{w}.4g}" for c, w in zip(cells, widths)]))
    return "\n".join(lines)


NOTEBOOK_EDITS = {}       # name -> function(notebook) for `# edit: NAME` headers


def notebook_edit(name):
    def register(fn):
        NOTEBOOK_EDITS[name] = fn
        return fn
    return register


@notebook_edit("forge_outputs")
def _forge_outputs(nb):
    """Saved outputs that claim every test passed (partial-credit form with full points)."""
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": str(meta["points"])},
                                                   execution_count=1)]
            cell.execution_count = 1


@notebook_edit("duplicate_cells")
def _duplicate_cells(nb):
    """A student copy-pasted an answer cell and a test cell (same nbgrader metadata, same id)."""
    import copy
    out = []
    for cell in nb.cells:
        out.append(cell)
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in ("power", "test_power_visible"):
            out.append(copy.deepcopy(cell))
    nb.cells = out


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _names(text: str) -> set[str]:
    """Every identifier in a text, strings included (probe code is sent as strings): an
    over-approximation of what the text uses, which only makes merging more cautious."""
    return set(_IDENTIFIER.findall(text))


def _defined_names(source: str) -> set[str]:
    import ast
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) \
                and isinstance(node.value.func, ast.Attribute) and isinstance(node.value.func.value, ast.Name):
            names.add(node.value.func.value.id)   # NAME.update(...): the cell fills a given table
    return names


def solution_cells_run_by_tests(repo: Path, assignment: str, variant_sources: list[dict]) -> dict[str, set[str]] | None:
    """test grade_id -> the solution cells whose code its check may run (None: no checks module).

    A check's names (its source and the checks module's helpers it mentions) select the solution
    cells that define them; a solution cell then pulls in the cells whose names its code (the
    reference's or any variant's) mentions, transitively."""
    import importlib
    import inspect
    try:
        module = importlib.import_module(f"grading.checks.{assignment}")
    except ModuleNotFoundError:
        return None
    # The text a name in a check can reach: a function's source (any grading module's: checks
    # share helpers), or a constant's repr (tables such as cifar10's BUDGET name the builders).
    helpers = {}
    for name, obj in vars(module).items():
        if inspect.isfunction(obj) and obj.__module__.startswith("grading"):
            helpers[name] = inspect.getsource(obj)
        elif isinstance(obj, (str, tuple, list, dict, set)) and obj is not module.checks \
                and not name.startswith("__"):
            helpers[name] = repr(obj)
    reference = solution_sources(repo, assignment)
    defines = {cell: _defined_names(src) for cell, src in reference.items()}
    uses = {cell: _names(src) for cell, src in reference.items()}
    for sources in variant_sources:
        for cell, src in sources.items():
            uses.setdefault(cell, set()).update(_names(src))
    deps = {}
    for grade_id, check in module.checks.items():
        names, todo = set(), [inspect.getsource(check.build)]
        while todo:
            new = _names(todo.pop()) - names
            names |= new
            todo += [helpers[n] for n in new if n in helpers]
        cells = {c for c, d in defines.items() if d & names}
        frontier = set(cells)
        while frontier:
            used = set().union(*(uses.get(c, set()) for c in frontier))
            frontier = {c for c, d in defines.items() if d & used} - cells
            cells |= frontier
        deps[grade_id] = cells
    return deps


def merge_wrong_variants(wrong: dict[str, tuple[dict, dict]], deps: dict[str, set[str]]) -> list[list[str]]:
    """Groups of wrong variants (case -> (overrides, headers)) that can share one notebook.

    Two variants share a notebook only when they change different solution cells and neither
    changes a cell that a test expected to fail for the other may run: each expected failure
    can then only come from its own variant. Fewer kernels per CI run, the same assertions."""
    def changed(case):
        return set(wrong[case][0])

    def reach(case):  # solution cells that the case's expected-to-fail tests may run
        tests = wrong[case][1]["expect"].split()
        return None if any(t not in deps for t in tests) else set().union(*(deps[t] for t in tests))

    groups: list[list[str]] = []
    for case in wrong:
        fits = [g for g in groups if reach(case) is not None and all(
            reach(m) is not None and not changed(case) & (changed(m) | reach(m))
            and not changed(m) & reach(case) for m in g)]
        if fits:
            fits[0].append(case)
        else:
            groups.append([case])
    return groups


def _mergeable(headers: dict) -> bool:
    expect = headers.get("expect", "")
    return expect not in ("full", "zero", "tamper", "") and not headers.get("edit") \
        and headers.get("base", "reference") == "reference"


def assignment_cases(repo: Path, assignment: str, notebooks: Path) -> tuple[dict[str, Path], dict[str, dict], dict[str, str]]:
    """Every simulated student of an assignment: (student id -> notebook, case -> headers,
    case -> the student id whose notebook holds it). Wrong variants that cannot hide each
    other's mistakes share a notebook (`merge_wrong_variants`); every other case is its own
    student (ids: the file name with - for _, `tamper-` before tampering cases)."""
    repo = Path(repo)
    folder = repo / "tests" / "submissions" / assignment
    release = repo / "exercises" / assignment / f"{assignment}.ipynb"
    reference = solution_sources(repo, assignment)
    notebooks.mkdir(parents=True, exist_ok=True)
    students = {"reference": build_submission(release, reference, notebooks / "reference.ipynb")}
    shutil.copy2(release, notebooks / "release.ipynb")
    students["release"] = notebooks / "release.ipynb"
    headers = {"reference": {"expect": "full", "why": "the instructor's solution"},
               "release": {"expect": "zero", "why": "the untouched release"}}
    wrong = {}
    for path in sorted(folder.glob("*.py")) + sorted(folder.glob("tampering/*.py")):
        overrides, meta = read_variant(path)
        case = ("tamper-" if path.parent.name == "tampering" else "") + path.stem.replace("_", "-")
        headers[case] = meta
        if _mergeable(meta):
            wrong[case] = (overrides, meta)
            continue
        base = {} if meta.get("base", "reference") == "release" else reference
        out = build_submission(release, {**base, **overrides}, notebooks / f"{case}.ipynb")
        if meta.get("edit"):
            nb = nbformat.read(out, as_version=4)
            NOTEBOOK_EDITS[meta["edit"]](nb)
            nbformat.write(nb, out)
        students[case] = out
    where = {case: case for case in students}
    deps = solution_cells_run_by_tests(repo, assignment, [o for o, _ in wrong.values()])
    groups = merge_wrong_variants(wrong, deps) if deps is not None else [[w] for w in wrong]
    for i, group in enumerate(groups):
        student = group[0] if len(group) == 1 else f"wrongs-{i:02d}"
        overrides = {cell: src for member in group for cell, src in wrong[member][0].items()}
        students[student] = build_submission(release, {**reference, **overrides}, notebooks / f"{student}.ipynb")
        where.update({member: student for member in group})
    return students, headers, where
