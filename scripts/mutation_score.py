"""Mutation testing of an assignment's grading: do the checks catch small mistakes?

    python scripts/mutation_score.py schedules [--workers 2] [--max 0] [--list]

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

Each mutant is the release notebook with every answer cell holding the reference and ONE cell
mutated. All mutants are graded in ONE `python -m grading` batch (sandboxed, verdicts by the
grader). A mutant is *killed* when it scores less than full marks. Survivors are printed; a
survivor that is equivalent to the reference (it cannot be told apart by any correct check) is
listed with its reason under "## Equivalent" in results/mutation/<assignment>.md, which this
script rewrites after each run, keeping those reasons. The score is killed / (mutants -
equivalent).
"""
from __future__ import annotations

import argparse
import ast
import json
import copy
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from batch_grading import build_submission, grade_notebooks, max_points, solution_sources  # noqa: E402

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


def read_equivalents(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    text = path.read_text()
    section = text.split("## Equivalent", 1)[1] if "## Equivalent" in text else ""
    return dict(re.findall(r"^- `([^`]+)`: (.+)$", section, re.M))


def offline_env(tmp: Path) -> dict:
    datasets = Path(os.environ.get("COURSE_DATASETS", REPO.parent / "shared" / "datasets"))
    ipy, keras_home = tmp / "ipython", tmp / "keras_home"
    subprocess.run([sys.executable, str(REPO / "scripts" / "kernel_env.py"), str(ipy), str(datasets),
                    str(keras_home)], check=True, stdout=subprocess.DEVNULL)
    return dict(os.environ, COURSE_DATASETS=str(datasets), TF_CPP_MIN_LOG_LEVEL="2")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("assignment")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max", type=int, default=0, help="grade a seeded sample of this many mutants (0: all)")
    ap.add_argument("--list", action="store_true", help="only list the mutants")
    a = ap.parse_args()
    found = mutants(a.assignment)
    if a.max and len(found) > a.max:
        found = sorted(random.Random(0).sample(found, a.max), key=lambda m: m[0].id)
    print(f"{a.assignment}: {len(found)} mutants")
    if a.list:
        for site, _ in found:
            print("  ", site.id)
        return 0
    release = REPO / "exercises" / a.assignment / f"{a.assignment}.ipynb"
    reference = solution_sources(REPO, a.assignment)
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
        print(f"the reference scored {grades['reference']['total']}/{maxima['total']}: fix the checks first")
        return 1
    results_file = RESULTS / f"{a.assignment}.md"
    equivalents = read_equivalents(results_file)
    killed, survivors, equivalent = [], [], []
    for student, (site, code) in sites.items():
        g = grades[student]
        lost = [c for c in maxima if c != "total" and g.get(c, 0) < maxima[c]]
        if lost:
            status = state.get(student, {}).get("status", "?")
            killed.append((site, lost if status in ("ok", "graded_with_problems") else lost + [f"({status})"]))
        elif site.id in equivalents:
            equivalent.append(site)
        else:
            survivors.append((site, code))
    considered = len(sites) - len(equivalent)
    score = len(killed) / considered if considered else 1.0
    crashed = sum(1 for _, lost in killed if lost[-1].startswith("("))
    print(f"{len(sites)} mutants graded in {seconds:.0f} s: {len(killed)} killed ({crashed} by a timeout or "
          f"crash of the notebook), {len(survivors)} survived, "
          f"{len(equivalent)} equivalent; score {score:.1%} of non-equivalent mutants killed")
    for site, code in survivors:
        print(f"SURVIVOR {site.id}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    lines = [f"# Mutation score: {a.assignment}", "",
             f"Written by `python scripts/mutation_score.py {a.assignment}`"
             + (f" (a seeded sample of {a.max})" if a.max else "") + ".", "",
             f"- mutants: {len(sites)}", f"- killed: {len(killed)} ({crashed} by a timeout or crash: "
             "status in parentheses)", f"- equivalent: {len(equivalent)}",
             f"- survived: {len(survivors)}", f"- score: {score:.1%} of the non-equivalent mutants killed",
             "", "## Survivors", ""]
    lines += [f"- `{s.id}`" for s, _ in survivors] or ["(none)"]
    lines += ["", "## Equivalent", "",
              "Mutants that no correct check can tell from the reference, with the reason "
              "(kept by the next run).", ""]
    kept = {sid: why for sid, why in equivalents.items()}
    lines += [f"- `{sid}`: {why}" for sid, why in sorted(kept.items())] or ["(none)"]
    lines += ["", "## Killed", ""]
    lines += [f"- `{s.id}`: {', '.join(lost)}" for s, lost in killed]
    results_file.write_text("\n".join(lines) + "\n")
    print(f"results: {results_file.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
