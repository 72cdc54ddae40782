"""Mutation testing of an assignment's grading: do the checks catch small mistakes?

    python scripts/mutation_score.py schedules [--workers 2] [--max 0] [--seed 0] [--list]
    python scripts/mutation_score.py schedules --only ID [ID ...]
    python scripts/mutation_score.py cifar10 --in-process [--max N]

A small AST mutator (no existing tool fits: mutmut and friends mutate Python packages and run
pytest, not notebook cells graded by nbgrader) makes one-change variants of the reference
answer cells of solutions/<assignment>/<assignment>.ipynb:

- arithmetic operators (+ -, * /, ** *, // /), comparisons (< <=, > >=, == !=, is / is not);
- constants: integers +1 and -1 (off-by-one), floats doubled, True/False flipped (e.g.
  training=True), strings from a table of typical confusions ("val_loss" -> "loss", ...);
- ignored arguments: a keyword argument dropped from a call, a parameter's uses replaced by its
  default value;
- swapped names from a table (X_train <-> X_valid, ...: swapped data splits), axis=k -> k+-1;
- a statement deleted (a missing update, a missing super().__init__(), ...).

Not mutated (a stated rule, SKIPPED_KWARGS): dropping a `verbose=` or `steps_per_execution=`
keyword. The task text asks for both only for output and speed and says they are not checked, so
no check should ever see them; grading them would only cost time (about 40 s per cifar10 mutant).

Each mutant is the release notebook with every answer cell holding the reference and ONE cell
mutated. All mutants are graded in ONE `python -m grading` batch (sandboxed, verdicts by the
grader). A mutant is *killed* when it scores less than full marks. Survivors are printed; a
survivor that is equivalent to the reference (it cannot be told apart by any correct check) is
listed with its reason under "## Equivalent" in results/mutation/<assignment>.md, which this
script rewrites after each run, keeping those reasons. The score is killed / (mutants -
equivalent).

`--only ID ...` regrades the named mutants (the survivors of a full run, once checks were added
for them) in one batch and merges their outcomes into the results file of that run.

`--in-process` is the cheap screen (the mutants are the instructor's own code, so they need no
sandbox): ONE Python process imports Keras once and runs every mutant in an IPython shell, with
the same probe cells and checks as the batch; it runs only the probes of test cells after the
mutated cell (earlier ones ran before the mutant existed) and stops a mutant at its first lost
cell, so a killed mutant costs a few seconds instead of a whole notebook. Of those probes it runs
only the ones whose checks can run the mutated cell (`solution_cells_run_by_tests`, the rule by
which CI's wrong variants share a notebook): the others would see the reference's code, which
scored full marks. A mutant's namespace is
reset between mutants, but Keras's registries are process-wide: a mutant that only changes a
registration is graded in the batch. The results file says which mode wrote it.

`--max N` grades a seeded sample of N mutants instead (for cifar10, where every mutant trains
three networks), stratified over the answer cells (the graded functions): each cell gets a share
proportional to its number of mutants, at least one. The script then prints the sample's score
with a 95 % Wilson interval for the score of all mutants (the sampled cells' mutants are drawn
without replacement, so the interval is slightly conservative).
"""
from __future__ import annotations

import argparse
import ast
import json
import copy
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
from helpers.course import solution_sources  # noqa: E402
from helpers.graded_batch import GRADING_SEED, grade_notebooks  # noqa: E402
from helpers.variants import build_submission, max_points, solution_cells_run_by_tests  # noqa: E402

BINOPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
          ast.Pow: ast.Mult, ast.FloorDiv: ast.Div}
CMPOPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
          ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
STRINGS = {"val_loss": "loss", "loss": "val_loss", "float32": "int32", "min": "max", "max": "min",
           "he_normal": "glorot_uniform", "glorot_uniform": "he_normal", "lecun_normal": "he_normal",
           "relu": "elu", "elu": "relu", "selu": "relu", "fan_in": "fan_avg", "fan_avg": "fan_in",
           "normal": "uniform", "uniform": "normal", "accuracy": "loss",
           "val_accuracy": "accuracy"}
NAME_SWAPS = [("X_train", "X_valid"), ("y_train", "y_valid"), ("X_valid", "X_test"),
              ("y_valid", "y_test"), ("x_train", "x_valid"), ("train", "valid")]
RESULTS = REPO / "results" / "mutation"
SKIPPED_KWARGS = {"verbose", "steps_per_execution"}  # output and speed only: see the docstring


class Site:
    """One mutation: where, what, and the function that applies it to a fresh tree."""

    def __init__(self, cell, kind, node, detail, apply):
        self.cell, self.kind, self.detail, self.apply = cell, kind, detail, apply
        self.line = getattr(node, "lineno", 0)
        self.id = f"{cell}:{self.line}:{getattr(node, 'col_offset', 0)}:{kind}:{detail}"


def _nodes(tree):
    """Nodes in a deterministic order, with an index that locates the same node in a copy."""
    return list(ast.walk(tree))


def _sites(cell: str, tree: ast.AST) -> list[Site]:
    sites = []
    nodes = _nodes(tree)

    def at(i, fn):
        return lambda t: fn(_nodes(t)[i], t)

    for i, node in enumerate(nodes):
        if isinstance(node, ast.BinOp) and type(node.op) in BINOPS:
            new = BINOPS[type(node.op)]
            sites.append(Site(cell, "binop", node, f"{type(node.op).__name__}->{new.__name__}",
                              at(i, lambda n, t, new=new: setattr(n, "op", new()))))
        elif isinstance(node, ast.AugAssign) and type(node.op) in BINOPS:
            new = BINOPS[type(node.op)]
            sites.append(Site(cell, "augop", node, f"{type(node.op).__name__}->{new.__name__}",
                              at(i, lambda n, t, new=new: setattr(n, "op", new()))))
        elif isinstance(node, ast.Compare):
            for k, op in enumerate(node.ops):
                if type(op) in CMPOPS:
                    new = CMPOPS[type(op)]
                    sites.append(Site(cell, "compare", node, f"{k}:{type(op).__name__}->{new.__name__}",
                                      at(i, lambda n, t, k=k, new=new: n.ops.__setitem__(k, new()))))
        elif isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool):
                sites.append(Site(cell, "const", node, f"{v}->{not v}",
                                  at(i, lambda n, t: setattr(n, "value", not n.value))))
            elif isinstance(v, int):
                for d in (1, -1):
                    sites.append(Site(cell, "const", node, f"{v}->{v + d}",
                                      at(i, lambda n, t, d=d: setattr(n, "value", n.value + d))))
            elif isinstance(v, float):
                new_v = v * 2 if v else 1.0
                sites.append(Site(cell, "const", node, f"{v!r}->{new_v!r}",
                                  at(i, lambda n, t, new_v=new_v: setattr(n, "value", new_v))))
            elif isinstance(v, str) and v in STRINGS:
                sites.append(Site(cell, "string", node, f"{v}->{STRINGS[v]}",
                                  at(i, lambda n, t: setattr(n, "value", STRINGS[n.value]))))
        elif isinstance(node, ast.Call):
            for k, kw in enumerate(node.keywords):
                if kw.arg in SKIPPED_KWARGS:
                    continue
                sites.append(Site(cell, "drop_kwarg", node, f"{kw.arg or '**'}",
                                  at(i, lambda n, t, k=k: n.keywords.pop(k))))
                if kw.arg == "axis" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, int):
                    for d in (1, -1):
                        sites.append(Site(cell, "axis", node, f"axis {kw.value.value}->{kw.value.value + d}",
                                          at(i, lambda n, t, k=k, d=d: setattr(n.keywords[k].value, "value",
                                                                               n.keywords[k].value.value + d))))
        elif isinstance(node, ast.Name):
            for a, b in NAME_SWAPS:
                for x, y in ((a, b), (b, a)):
                    if node.id == x:
                        sites.append(Site(cell, "swap_name", node, f"{x}->{y}",
                                          at(i, lambda n, t, y=y: setattr(n, "id", y))))
        elif isinstance(node, (ast.FunctionDef,)):
            args = node.args
            defaults = dict(zip([a.arg for a in args.args][len(args.args) - len(args.defaults):], args.defaults))
            for name, default in defaults.items():
                if isinstance(default, ast.Constant):
                    sites.append(Site(cell, "ignore_arg", node, f"{node.name}({name}) -> default",
                                      at(i, lambda n, t, name=name, default=default: _ignore_arg(n, name, default))))
        if isinstance(node, (ast.FunctionDef, ast.If, ast.For, ast.While, ast.With, ast.Try)):
            body = node.body
            for k, stmt in enumerate(body):
                if len(body) > 1 and not isinstance(stmt, (ast.Return, ast.FunctionDef, ast.ClassDef)) \
                        and not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):
                    sites.append(Site(cell, "delete", stmt, f"line {stmt.lineno}",
                                      at(i, lambda n, t, k=k: n.body.pop(k))))
    return sites


def _ignore_arg(func: ast.FunctionDef, name: str, default: ast.Constant) -> None:
    """Uses of parameter `name` in the body read its default instead (an ignored argument)."""
    class Replace(ast.NodeTransformer):
        def visit_Name(self, node):
            if node.id == name and isinstance(node.ctx, ast.Load):
                return ast.copy_location(ast.Constant(default.value), node)
            return node
    func.body = [Replace().visit(s) for s in func.body]


def mutants(assignment: str) -> list[tuple[Site, str]]:
    """(site, mutated cell source) for every distinct, valid mutant of the reference cells."""
    out, seen = [], set()
    for cell, source in solution_sources(REPO, assignment).items():
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        original = ast.unparse(tree)
        for site in _sites(cell, tree):
            t = copy.deepcopy(tree)
            try:
                site.apply(t)
                ast.fix_missing_locations(t)
                code = ast.unparse(t)
                compile(code, cell, "exec")
            except Exception:
                continue
            if code == original or (cell, code) in seen:
                continue
            seen.add((cell, code))
            out.append((site, code))
    return out


def stratified_sample(found: list, n: int, seed: int) -> list:
    """A seeded sample of n mutants, shares per answer cell proportional to the cell's mutants
    (largest remainders), at least one per cell; sorted by id."""
    by_cell: dict[str, list] = {}
    for m in found:
        by_cell.setdefault(m[0].cell, []).append(m)
    cells = sorted(by_cell)
    n = max(n, len(cells))
    exact = {c: n * len(by_cell[c]) / len(found) for c in cells}
    share = {c: max(1, int(exact[c])) for c in cells}
    for c in sorted(cells, key=lambda c: exact[c] - int(exact[c]), reverse=True):
        if sum(share.values()) >= n:
            break
        share[c] += 1
    rng = random.Random(seed)
    picked = [m for c in cells for m in rng.sample(by_cell[c], min(share[c], len(by_cell[c])))]
    return sorted(picked, key=lambda m: m[0].id)


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k/n (good at proportions near 0 or 1)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5)
    return max(0.0, centre - half), min(1.0, centre + half)


def read_outcomes(path: Path, current: set[str], equivalents: dict[str, str]) -> dict[str, str | None]:
    """id -> what it lost (killed) or None (survived), from an earlier run's results file; only
    mutants the mutator still makes (an equivalent counts as graded when it is one of them)."""
    text = path.read_text() if path.exists() else ""
    sections = dict(re.findall(r"^## (\w+)\n(.*?)(?=^## |\Z)", text, re.M | re.S))
    out: dict[str, str | None] = {}
    for sid in re.findall(r"^- `([^`]+)`$", sections.get("Survivors", ""), re.M):
        out[sid] = None
    for sid in equivalents:
        out.setdefault(sid, None)
    for sid, lost in re.findall(r"^- `([^`]+)`: (.+)$", sections.get("Killed", ""), re.M):
        out[sid] = lost
    return {sid: lost for sid, lost in out.items() if sid in current}


def previous_header(path: Path) -> list[str]:
    """The 'Written by ...' lines of an earlier results file (kept when --only merges)."""
    text = path.read_text() if path.exists() else ""
    head = text.split("\n- mutants:", 1)[0].split("\n", 1)[-1].strip()
    return [line for line in head.split("\n\n") if line.strip()]


def read_equivalents(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    text = path.read_text()
    section = text.split("## Equivalent", 1)[1].split("\n## ", 1)[0] if "## Equivalent" in text else ""
    return dict(re.findall(r"^- `([^`]+)`: (.+)$", section, re.M))


def grade_in_process(assignment: str, found: list, reference: dict[str, str], tmp: Path,
                     cell_seconds: int = 600) -> tuple[dict[str, str | None], dict[str, float]]:
    """(mutant id -> the first cell it lost, or None; the reference's fraction per test cell),
    graded in this process (see the docstring: trusted code only)."""
    import signal
    env = offline_env(tmp)
    os.environ.update(env, COURSE_PROFILE="quick", KERAS_HOME=str(tmp / "keras_home"),
                      IPYTHONDIR=str(tmp / "ipython"))
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from grading.checks import load
    from grading.judge import rng_for
    from grading.probes import ReportError, read_report

    checks = load(assignment)
    release = nbformat.read(REPO / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)
    from traitlets.config import Config
    config = Config()
    config.HistoryManager.enabled = False   # its database would be in the temporary folder
    shell = InteractiveShell.instance(config=config)
    for startup in sorted((tmp / "ipython" / "profile_default" / "startup").glob("*.py")):
        if "like-colab" not in startup.name:   # the offline datasets, as in the batch's kernels;
            # in a namespace of its own: its import hook must survive the shell's resets
            exec(compile(startup.read_text(), str(startup), "exec"), {"__name__": startup.stem})

    def on_alarm(signum, frame):
        raise TimeoutError(f"cell ran longer than {cell_seconds} s")
    signal.signal(signal.SIGALRM, on_alarm)

    def run(source):
        signal.alarm(cell_seconds)
        try:
            with capture_output() as captured:
                result = shell.run_cell(source)
            if os.environ.get("MUTATION_DEBUG") and not result.success:
                print("CELL ERROR", repr(result.error_in_exec or result.error_before_exec)[:500], source[:80])
        finally:
            signal.alarm(0)
        return captured

    def grade(student: str, sources: dict[str, str], after: str | None,
              relevant: set[str] | None = None) -> dict[str, float]:
        shell.reset(new_session=False)
        fractions, seen = {}, after is None
        for cell in release.cells:
            if cell.cell_type != "code":
                continue
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in sources:
                run(sources[gid])
                seen = seen or gid == after
            elif gid in checks:
                if not seen or (relevant is not None and gid not in relevant):
                    continue
                probe = checks[gid].probe(rng_for(GRADING_SEED, student, gid, "in-process"))
                captured = run(probe.source())
                outputs = [{"output_type": "display_data", "data": o.data} for o in captured.outputs]
                try:
                    fractions[gid] = probe.judge(read_report(outputs)).fraction
                except ReportError as exc:
                    fractions[gid] = 0.0
                    print(f"  {student} {gid}: {exc}; the cell printed: {captured.stdout[-300:]!r} "
                          f"{captured.stderr[-1500:]!r}", flush=True)
                if after is not None and fractions[gid] < 1:
                    break
            else:
                run(cell.source)
        return fractions

    reference_fractions = grade("reference", reference, None)
    outcomes = {}
    if any(f < 1 for f in reference_fractions.values()):
        return outcomes, reference_fractions   # the caller stops: no mutant is worth grading
    for k, (site, code) in enumerate(found):
        # only the checks that can run the mutated cell (the rule that lets CI's wrong variants
        # share a notebook); the others saw the reference's code, which scored full marks
        deps = solution_cells_run_by_tests(REPO, assignment, [{site.cell: code}])
        relevant = {gid for gid, cells in deps.items() if site.cell in cells}
        fractions = grade(f"m{k:03d}", {**reference, site.cell: code}, site.cell, relevant)
        lost = [gid for gid, f in fractions.items() if f < 1]
        outcomes[site.id] = f"{lost[0]}, in-process" if lost else None
        print(f"  {'killed ' if lost else 'SURVIVED'} {site.id}" + (f": {lost[0]}" if lost else ""), flush=True)
    return outcomes, reference_fractions


def offline_env(tmp: Path) -> dict:
    """The kernels' start-up files and a seeded Keras cache below `tmp` (grading/runtime.py)."""
    from grading import runtime
    datasets = runtime.datasets_dir()
    runtime.seed_cache(datasets, tmp / "keras_home")
    runtime.write_startup(tmp / "ipython", datasets)
    return dict(os.environ, COURSE_DATASETS=str(datasets), TF_CPP_MIN_LOG_LEVEL="2")


def grade_batch_of_mutants(a, found: list, reference: dict[str, str]):
    """Grade the mutants and the reference in ONE `python -m grading` batch: (mutant id -> the
    cells it lost, or None; student -> (site, code); seconds; a message if the reference lost)."""
    release = REPO / "exercises" / a.assignment / f"{a.assignment}.ipynb"
    maxima = max_points(REPO, a.assignment)
    with tempfile.TemporaryDirectory(prefix=f"mutants-{a.assignment}-") as tmp:
        tmp = Path(tmp)
        notebooks, sites = {}, {}
        for k, (site, code) in enumerate(found):
            student = f"m{k:03d}"
            notebooks[student] = build_submission(release, {**reference, site.cell: code},
                                                  tmp / "nbs" / f"{student}.ipynb")
            sites[student] = (site, code)
        notebooks["reference"] = build_submission(release, reference, tmp / "nbs" / "reference.ipynb")
        course, grades, seconds, _ = grade_notebooks(REPO, a.assignment, notebooks, tmp / "batch", offline_env(tmp),
                                                     workers=a.workers, extra_args=("--no-feedback", "--no-report"))
        state = json.loads((course / "autograded" / f".grading-state-{a.assignment}.json").read_text())
    if grades["reference"]["total"] < maxima["total"]:
        return {}, sites, seconds, (f"the reference scored {grades['reference']['total']}/{maxima['total']}: "
                                    "fix the checks first")
    graded = {}
    for student, (site, code) in sites.items():
        g = grades[student]
        lost = [c for c in maxima if c != "total" and g.get(c, 0) < maxima[c]]
        status = state.get(student, {}).get("status", "?")
        if lost and status not in ("ok", "graded_with_problems"):
            lost.append(f"({status})")
        graded[site.id] = ", ".join(lost) if lost else None
    return graded, sites, seconds, None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("assignment")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max", type=int, default=0, help="grade a seeded sample of this many mutants (0: all)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the --max sample")
    ap.add_argument("--list", action="store_true", help="only list the mutants")
    ap.add_argument("--in-process", action="store_true", help="the cheap screen: all mutants in this "
                    "process, same probes and checks, no sandbox (see the docstring)")
    ap.add_argument("--only", nargs="+", metavar="ID", help="regrade only these mutants (e.g. the survivors, "
                    "after adding checks) and merge them into the results file of an earlier full run")
    a = ap.parse_args()
    found = mutants(a.assignment)
    if a.only:
        unknown = set(a.only) - {site.id for site, _ in found}
        if unknown:
            ap.error(f"no such mutants: {sorted(unknown)}")
        found = [m for m in found if m[0].id in a.only]
    total_mutants = len(found)
    sampled = bool(a.max and len(found) > a.max)
    if sampled:
        found = stratified_sample(found, a.max, a.seed)
        cells = {}
        for site, _ in found:
            cells[site.cell] = cells.get(site.cell, 0) + 1
        print(f"{a.assignment}: {total_mutants} mutants; a seeded sample (seed {a.seed}) of {len(found)}, "
              f"per cell: {', '.join(f'{c} {k}' for c, k in cells.items())}")
    else:
        print(f"{a.assignment}: {len(found)} mutants")
    if a.list:
        for site, _ in found:
            print("  ", site.id)
        return 0
    reference = solution_sources(REPO, a.assignment)
    if a.in_process:
        with tempfile.TemporaryDirectory(prefix=f"mutants-{a.assignment}-") as tmp:
            start = time.perf_counter()
            graded, ref_fractions = grade_in_process(a.assignment, found, reference, Path(tmp))
            seconds = time.perf_counter() - start
        if any(f < 1 for f in ref_fractions.values()):
            print(f"the reference lost points in {[g for g, f in ref_fractions.items() if f < 1]}: fix the checks first")
            return 1
        sites = {site.id: (site, code) for site, code in found}
    else:
        graded, sites, seconds, failed = grade_batch_of_mutants(a, found, reference)
        if failed:
            print(failed)
            return 1
    results_file = RESULTS / f"{a.assignment}.md"
    equivalents = read_equivalents(results_file)
    outcomes = read_outcomes(results_file, {site.id for site, _ in mutants(a.assignment)}, equivalents) \
        if a.only else {}
    outcomes.update(graded)
    killed = {sid: lost for sid, lost in outcomes.items() if lost}
    equivalent = sorted(sid for sid, lost in outcomes.items() if not lost and sid in equivalents)
    survivors = sorted(sid for sid, lost in outcomes.items() if not lost and sid not in equivalents)
    considered = len(outcomes) - len(equivalent)
    score = len(killed) / considered if considered else 1.0
    crashed = sum(1 for lost in killed.values() if lost.endswith(")"))
    print(f"{len(sites)} mutants graded in {seconds:.0f} s" + (f" (merged with {len(outcomes) - len(sites)} "
          f"earlier results)" if a.only else "") + f": {len(killed)} killed ({crashed} by a timeout or "
          f"crash of the notebook), {len(survivors)} survived, "
          f"{len(equivalent)} equivalent; score {score:.1%} of non-equivalent mutants killed")
    interval = ""
    if sampled:
        low, high = wilson_interval(len(killed), considered)
        interval = (f"; of all {total_mutants} mutants, 95 % interval {low:.1%}-{high:.1%} "
                    f"(Wilson, a sample of {len(sites)})")
        print(f"score of all mutants, 95 % interval: {low:.1%} to {high:.1%} (Wilson; {len(killed)} of "
              f"{considered} non-equivalent mutants killed in a sample of {len(sites)} of {total_mutants})")
    for sid in survivors:
        print(f"SURVIVOR {sid}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    command = (f"python scripts/mutation_score.py {a.assignment}" + (" --in-process" if a.in_process else "")
               + (f" --max {a.max} --seed {a.seed}" if sampled else ""))
    header = previous_header(results_file) if a.only else []
    if a.only:
        header.append(f"Then `--only` regraded {len(sites)} mutants with the checks of that time "
                      f"({seconds:.0f} s): {', '.join(f'`{site.id}`' for site, _ in sites.values())}.")
    else:
        header.append(f"Written by `{command}`" + (f" (a sample of {len(sites)} of {total_mutants} mutants, "
                      "stratified over the answer cells)" if sampled else "") + f"; graded in {seconds:.0f} s"
                      + (" in one process (same probes and checks; a killed mutant shows the first cell it "
                         "lost)" if a.in_process else " in one sandboxed batch") + ".")
    lines = [f"# Mutation score: {a.assignment}", "", *header, "",
             f"- mutants: {len(outcomes)}", f"- killed: {len(killed)} ({crashed} by a timeout or crash: "
             "status in parentheses)", f"- equivalent: {len(equivalent)}",
             f"- survived: {len(survivors)}", f"- score: {score:.1%} of the non-equivalent mutants killed"
             + interval,
             "", "## Survivors", ""]
    lines += [f"- `{sid}`" for sid in survivors] or ["(none)"]
    lines += ["", "## Equivalent", "",
              "Mutants that no correct check can tell from the reference, with the reason "
              "(kept by the next run).", ""]
    # a listed mutant that a check now kills is no longer equivalent: its reason is dropped
    lines += [f"- `{sid}`: {why}" for sid, why in sorted(equivalents.items()) if not outcomes.get(sid)] or ["(none)"]
    lines += ["", "## Killed", ""]
    lines += [f"- `{sid}`: {lost}" for sid, lost in sorted(killed.items())]
    results_file.write_text("\n".join(lines) + "\n")
    print(f"results: {results_file.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
