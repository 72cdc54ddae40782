"""Grade a batch of notebooks with the plain nbgrader pipeline, for tests and benchmarks.

    from batch_grading import grade_batch, max_points, format_points_table
    results = grade_batch(repo, "schedules", {"alice": Path("alice.ipynb")}, tmp_path, env)
    results["alice"]["test_power_visible"], results["alice"]["total"]

`grade_batch` builds a throw-away nbgrader course in `workdir` (the repository's
nbgrader_config.py and feedback preprocessor, `solutions/<assignment>`), releases the assignment,
puts each submission at `submitted/<student>/<assignment>/<assignment>.ipynb`, runs one
`nbgrader autograde` subprocess for the whole batch with the given environment, and reads the
points of every grade cell from the gradebook.

Helpers to make submissions: `solution_sources` (the reference code of each solution cell),
`build_submission` (the release notebook with some solution cells filled in) and
`read_variant` (a variant file: `# %% <grade_id>` sections of code, `# expect: ...` headers).

`grade_assignment` is what the quality suites use: ALL simulated students of an assignment (the
reference, the release, every variant of `tests/submissions/<assignment>/` and every tampering
case of its `tampering/` folder) graded by ONE `python -m grading` batch (sandboxed kernels,
verdicts decided by the grader), cached for the test session by the `graded_assignment` fixture
of tests/conftest.py. `grade_batch`/`grade_variants` (plain `nbgrader autograde`) remain for the
trusted-notebook workflow and for assignments without a checks module.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

AUTOGRADE_TIMEOUT = 1800  # seconds for one batch


def _nbgrader(args: list[str], course: Path, env: dict, timeout: float) -> subprocess.CompletedProcess:
    env = dict(env)
    bindir = str(Path(sys.executable).parent)  # nbgrader calls `alembic` from PATH
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n"
                           f"{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


def make_course(repo: Path, assignment: str, workdir: Path, env: dict) -> Path:
    """A temporary course root with the repository's config and one released assignment."""
    course = Path(workdir) / "course"
    if course.exists():
        shutil.rmtree(course)
    (course / "solutions").mkdir(parents=True)
    shutil.copy2(repo / "nbgrader_config.py", course / "nbgrader_config.py")
    (course / "grading").mkdir()
    for name in ("__init__.py", "feedback.py"):
        if (repo / "grading" / name).exists():
            shutil.copy2(repo / "grading" / name, course / "grading" / name)
    shutil.copytree(repo / "solutions" / assignment, course / "solutions" / assignment,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    _nbgrader(["generate_assignment", assignment, "--force"], course, env, timeout=600)
    return course


def grade_batch(repo: Path, assignment: str, submissions: dict[str, Path], workdir: Path,
                env: dict) -> dict[str, dict[str, float]]:
    """Autograde every submission (student id -> notebook path) in one nbgrader call.

    Returns student id -> {grade cell id: points, ..., "total": points}."""
    repo, workdir = Path(repo), Path(workdir)
    course = make_course(repo, assignment, workdir, env)
    for student, notebook in submissions.items():
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", student):
            raise ValueError(f"student id {student!r}: use letters, digits, _ . - only")
        target = course / "submitted" / student / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(notebook, target)
    autograde(course, assignment, env)
    return read_grades(course, assignment, list(submissions))


def autograde(course: Path, assignment: str, env: dict) -> subprocess.CompletedProcess:
    """`nbgrader autograde ASSIGNMENT --force` in a course root, as a subprocess."""
    return _nbgrader(["autograde", assignment, "--force"], Path(course), env, timeout=AUTOGRADE_TIMEOUT)


def generate_feedback(course: Path, assignment: str, env: dict) -> subprocess.CompletedProcess:
    """`nbgrader generate_feedback ASSIGNMENT --force` in a course root, as a subprocess."""
    return _nbgrader(["generate_feedback", assignment, "--force"], Path(course), env, timeout=600)


def read_grades(course: Path, assignment: str, students: list[str]) -> dict[str, dict[str, float]]:
    """Points per grade cell (and "total") of each student, from the course's gradebook."""
    from nbgrader.api import Gradebook

    results: dict[str, dict[str, float]] = {}
    with Gradebook(f"sqlite:///{Path(course) / 'gradebook.db'}") as gradebook:
        for student in students:
            submission = gradebook.find_submission(assignment, student)
            points: dict[str, float] = {}
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    points[grade.name] = float(grade.score or 0.0)
            points["total"] = float(sum(points.values()))
            results[student] = points
    return results


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


# ---------------------------------------------------------------- building submissions

_DELIMITER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


def solution_sources(repo: Path, assignment: str) -> dict[str, str]:
    """grade_id -> the reference source of each solution cell, solution delimiters removed."""
    nb = nbformat.read(Path(repo) / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    sources = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            lines = [line for line in cell.source.split("\n") if not _DELIMITER.match(line)]
            sources[meta["grade_id"]] = "\n".join(lines)
    return sources


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


def grade_variants(repo: Path, assignment: str, workdir: Path, env: dict,
                   variants_dir: Path | None = None) -> tuple[dict, dict]:
    """Grade, in one batch, the reference solution ("reference"), the untouched release
    ("release") and every variant file of `tests/submissions/<assignment>/`.

    Returns (results as from grade_batch, student id -> the variant's headers)."""
    repo, workdir = Path(repo), Path(workdir)
    variants_dir = Path(variants_dir or repo / "tests" / "submissions" / assignment)
    release = repo / "exercises" / assignment / f"{assignment}.ipynb"
    reference = solution_sources(repo, assignment)
    notebooks = workdir / "notebooks"
    notebooks.mkdir(parents=True, exist_ok=True)
    submissions = {"reference": build_submission(release, reference, notebooks / "reference.ipynb")}
    shutil.copy2(release, notebooks / "release.ipynb")
    submissions["release"] = notebooks / "release.ipynb"
    headers = {"reference": {"expect": "full"}, "release": {"expect": "zero"}}
    for path in sorted(variants_dir.glob("*.py")):
        overrides, meta = read_variant(path)
        submissions[path.stem] = build_submission(release, {**reference, **overrides},
                                                  notebooks / f"{path.stem}.ipynb")
        headers[path.stem] = meta
    return grade_batch(repo, assignment, submissions, workdir, env), headers


def publish(report: str, request) -> None:
    """Print a points table and show it in pytest's terminal output, with or without -s."""
    print(report)
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("\n" + report)


def grade_variants_with_report(repo: Path, assignment: str, workdir: Path, env: dict,
                               request) -> tuple[dict, dict, dict, str]:
    """grade_variants, plus the maximum points and a published submission -> points table.

    Returns (results, headers, maxima, report)."""
    start = time.perf_counter()
    results, headers = grade_variants(repo, assignment, workdir, env)
    seconds = time.perf_counter() - start
    maxima = max_points(repo, assignment)
    report = (f"{assignment}: {len(results)} submissions autograded in {seconds:.0f} s "
              f"({seconds / len(results):.1f} s each), "
              f"COURSE_GRADING_SEED={env.get('COURSE_GRADING_SEED')}\n"
              f"{format_points_table(results, maxima)}")
    publish(report, request)
    return results, headers, maxima, report


# ------------------------------------------------------- one `python -m grading` batch per assignment

GRADING_SEED = "314159"   # fixed for the tests; real courses keep theirs secret
# Caps for the test batches: fixed, generous, so that a busy machine does not fail a correct
# notebook (the budget-derived defaults are exercised by scripts/bench_budgets.py).
TEST_CAPS = ("--cell-seconds", "90", "--wall-seconds", "300")
GRADING_TIMEOUT = 3600   # one whole batch (about 7 min for schedules on 2 idle cores)
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
    sys.path.insert(0, str(repo))
    try:
        module = importlib.import_module(f"grading.checks.{assignment}")
    except ModuleNotFoundError:
        return None
    finally:
        sys.path.remove(str(repo))
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


class GradedBatch:
    """The result of one `python -m grading` batch: grades and headers per case, the course.

    `grades[case]` are the grades of the notebook that holds the case (`where[case]`: its own,
    or one shared by wrong variants that cannot hide each other)."""

    def __init__(self, course, assignment, student_grades, headers, where, maxima, seconds, proc, seed):
        self.course, self.assignment, self.headers, self.where = course, assignment, headers, where
        self.grades = {case: student_grades[student] for case, student in where.items()}
        self.students = sorted(student_grades)  # one per graded notebook
        self.maxima, self.seconds, self.proc, self.seed = maxima, seconds, proc, seed
        shared = {s: [c for c, w in where.items() if w == s] for s in set(where.values())}
        legend = "".join(f"\n  {s} = {' + '.join(cases)}" for s, cases in sorted(shared.items())
                         if cases != [s])
        self.table = (f"{assignment}: {len(student_grades)} notebooks ({len(where)} cases) graded by "
                      f"python -m grading in {seconds:.0f} s ({seconds / max(1, len(student_grades)):.1f} s each)\n"
                      f"{format_points_table(student_grades, maxima)}{legend}")

    def autograded(self, case: str) -> Path:
        student = self.where.get(case, case)
        return self.course / "autograded" / student / self.assignment / f"{self.assignment}.ipynb"

    def feedback(self, case: str) -> Path:
        student = self.where.get(case, case)
        return self.course / "feedback" / student / self.assignment / f"{self.assignment}.html"

    def state(self) -> dict:
        import json
        return json.loads((self.course / "autograded" / f".grading-state-{self.assignment}.json").read_text())


def grade_notebooks(repo: Path, assignment: str, notebooks: dict[str, Path], workdir: Path, env: dict,
                    workers: int = 2, extra_args: tuple = ()) -> tuple[Path, dict, float, subprocess.CompletedProcess]:
    """Grade student id -> notebook in ONE `python -m grading` batch in a fresh course under
    `workdir`. Returns (course, grades as from read_grades, seconds, the finished process)."""
    repo, workdir = Path(repo), Path(workdir)
    course = workdir / "course"
    (course / "grading").mkdir(parents=True)
    shutil.copy2(repo / "nbgrader_config.py", course / "nbgrader_config.py")
    for name in ("__init__.py", "feedback.py"):
        shutil.copy2(repo / "grading" / name, course / "grading" / name)
    shutil.copytree(repo / "solutions" / assignment, course / "solutions" / assignment)
    shutil.copytree(repo / "exercises" / assignment, course / "exercises" / assignment)
    subs = workdir / "submissions"
    for student, notebook in notebooks.items():
        (subs / student).mkdir(parents=True)
        shutil.copy2(notebook, subs / student / f"{assignment}.ipynb")
    env = dict(env, PYTHONPATH=str(repo))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    cmd = [sys.executable, "-m", "grading", assignment, str(subs), "--course-root", str(course),
           "--workers", str(workers), "--no-progress", "--seed", GRADING_SEED, *TEST_CAPS, *extra_args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=GRADING_TIMEOUT)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"python -m grading failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
                           f"{proc.stderr[-6000:]}")
    return course, read_grades(course, assignment, list(notebooks)), seconds, proc


def grade_assignment(repo: Path, assignment: str, workdir: Path, env: dict,
                     workers: int = 2, extra_args: tuple = ()) -> GradedBatch:
    """Grade every simulated student of `assignment` in ONE `python -m grading` batch."""
    students, headers, where = assignment_cases(Path(repo), assignment, Path(workdir) / "notebooks")
    course, grades, seconds, proc = grade_notebooks(repo, assignment, students, workdir, env, workers, extra_args)
    return GradedBatch(course, assignment, grades, headers, where, max_points(repo, assignment),
                       seconds, proc, GRADING_SEED)
