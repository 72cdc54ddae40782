"""Run the CIFAR-10 capstone's reference solution outside the test suite.

    .venv/bin/python scripts/run_cifar10_full.py                  # the full profile (~25-40 min on 2 cores)
    .venv/bin/python scripts/run_cifar10_full.py --smoke          # same code path, tiny sizes (~5 min)
    .venv/bin/python scripts/run_cifar10_full.py --budget-seeds 5 # the grading budget's accuracies

Full profile: executes solutions/cifar10/cifar10.ipynb with COURSE_PROFILE=full in a kernel whose
environment is the tests' offline one (a temporary KERAS_HOME seeded from ../shared/datasets and
the IPython start-up files of grading/runtime.py), then writes
  results/full/cifar10.csv   the notebook's result rows (validation accuracy, best epoch,
                             seconds per epoch, learning rates, for parts b-f),
  results/full/cifar10.log   every cell's text output and run time,
  results/full/cifar10.md    the results table next to the reference figures of
                             ../shared/source/ANCHOR_RESULTS.md (exercise 8).
The executed notebook goes to _build/cifar10/cifar10_full.ipynb. --smoke runs the same cells with
every size patched down (a cell inserted after `full_settings`) and writes to _build/cifar10/smoke/
instead, so results/full/ keeps the last real run.

--budget-seeds N: for each answer, runs the solution's set-up, data and solution cells once in a
kernel with NBGRADER_EXECUTION set (the grading budget), then the three budget-training test cells
once per grading seed, and writes results/full/cifar10_budget_seeds.csv: the accuracy under the
grading budget, from which the thresholds in the notebook's set-up cell and in
grading/checks/cifar10.py were chosen. The answers: the reference, every correct variant of
tests/submissions/cifar10/ (they must pass) and the typical wrong answers of TYPICAL_WRONG, the
mistakes that leave a network that does not learn (they should fail). `--answers reference`
measures the reference only.
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from grading import runtime  # noqa: E402

NOTEBOOK = REPO / "solutions" / "cifar10" / "cifar10.ipynb"
DATASETS = runtime.datasets_dir()

# Exercise 8 reference figures (validation accuracy, best epoch, seconds per epoch) from
# ANCHOR_RESULTS.md: the 2nd edition's published run and the 3rd edition's code re-run on
# 2 CPU cores with TF 2.21 / Keras 3.15.
ANCHORS = {
    "b": {"2nd ed.": (0.4762, 27, 8.0), "re-run": (0.4346, 39, 18.5)},
    "c": {"2nd ed.": (0.5398, 16, 12.0), "re-run": (0.4212, 11, 25.1)},
    "d": {"2nd ed.": (0.4792, None, 7.0), "re-run": (0.5064, 19, 14.3)},
    "e": {"2nd ed.": (0.4890, None, None), "re-run": (0.5064, 18, 14.7)},
    "e (MC)": {"2nd ed.": (0.4892, None, None)},
    "f": {"2nd ed.": (0.5198, None, 2.0), "re-run": (0.5160, 15, 4.1)},
}
TARGETS = {"b": 0.46, "c": 0.50, "d": 0.46, "e": 0.46, "f": 0.50}

SMOKE_CELL = """# --smoke (scripts/run_cifar10_full.py): the full code path with tiny sizes.
FULL.update(train_size=1500, search_size=600, search_epochs=1, patience=1,
            max_epochs={"b": 2, "c": 2, "d": 2, "e": 2},
            lr_grid={"b": [1e-4, 3e-4], "c": [1e-3, 3e-3], "d": [3e-4, 1e-3]},
            one_cycle=dict(epochs=2, batch_size=128, max_lr=0.05), mc_samples=3)
"""
BUDGET_CELLS = ("test_train_deep_budget", "test_train_bn_budget", "test_train_selu_budget")
VARIANTS = REPO / "tests" / "submissions" / "cifar10"


def _stack(builder: str, lr: float, hidden: str, output: str) -> str:
    """A builder's source: Flatten, n_hidden `hidden` layers, `output`, compiled like the task's."""
    return (f"def {builder}(n_hidden=20, n_neurons=100, learning_rate={lr}):\n"
            "    model = keras.Sequential([keras.Input(shape=(32, 32, 3)), keras.layers.Flatten()])\n"
            "    for _ in range(n_hidden):\n"
            f"        model.add(keras.layers.Dense(n_neurons, {hidden}))\n"
            f"    model.add(keras.layers.Dense(10{output}))\n"
            "    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=learning_rate),\n"
            "                  loss='sparse_categorical_crossentropy', metrics=['accuracy'])\n"
            "    return model\n")


STANDARDIZE = ("def standardize(X_train, *others):\n"
               "    m, s = X_train.mean(axis=0), X_train.std(axis=0) + 1e-7\n"
               "    return tuple(((X - m) / s).astype('float32') for X in (X_train, *others))\n\n\n")
SIGMOID, SOFTMAX = "activation='sigmoid'", ", activation='softmax'"
# Typical wrong answers for the budget checks: solution cells that leave a network that does not
# learn, or learns little (the structural checks catch them as well).
TYPICAL_WRONG = {
    # train_model that never calls fit(): the model keeps its random weights
    "wrong_no_fit": {"callbacks": (
        "def make_callbacks(patience=10):\n"
        "    return [keras.callbacks.EarlyStopping(monitor='val_accuracy', patience=patience,\n"
        "                                          restore_best_weights=True)]\n\n\n"
        "def train_model(model, data, epochs, batch_size=32, callbacks=None):\n"
        "    return keras.callbacks.History()\n")},
    # the saturating activation the chapter starts from, with Keras' default (Glorot) init
    "wrong_sigmoid": {"deep_model": _stack("build_deep_model", 1e-4, SIGMOID, SOFTMAX),
                      "bn_model": _stack("build_bn_model", 1e-3, SIGMOID, SOFTMAX),
                      "selu_model": STANDARDIZE + _stack("build_selu_model", 3e-4, SIGMOID, SOFTMAX)},
    # no softmax on the output, compiled for probabilities (from_logits=False)
    "wrong_no_softmax": {
        "deep_model": _stack("build_deep_model", 1e-4, "activation='elu', kernel_initializer='he_normal'", ""),
        "selu_model": STANDARDIZE + _stack("build_selu_model", 3e-4,
                                           "activation='selu', kernel_initializer='lecun_normal'", "")},
}


def budget_answers(which: str) -> dict[str, dict[str, str]]:
    """Answer name -> the solution cells it replaces (none for the reference)."""
    answers = {"reference": {}}
    if which == "all":
        sys.path.insert(0, str(REPO / "tests"))
        from helpers.variants import read_variant
        for path in sorted(VARIANTS.glob("correct_*.py")):
            answers[path.stem] = read_variant(path)[0]
        answers.update(TYPICAL_WRONG)
    return answers


def offline_env(root: Path, profile: str) -> dict:
    """The tests' kernel environment (tests/conftest.py: offline_env)."""
    keras_home, ipythondir = root / "keras_home", root / "ipython"
    runtime.seed_cache(DATASETS, keras_home)
    runtime.write_startup(ipythondir, DATASETS)
    env = dict(os.environ)
    env.update(KERAS_HOME=str(keras_home), IPYTHONDIR=str(ipythondir), COURSE_PROFILE=profile,
               TF_CPP_MIN_LOG_LEVEL="2",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return env


def cell_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.get("data", {}).get("text/plain", ""))
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
    return "".join(parts)


def execute(nb, env: dict, workdir: Path, log, timeout: int = 7200, allow_errors: bool = False) -> float:
    """Run every cell in order, logging outputs and times; stop at the first error (unless
    allow_errors: then every cell runs, its error in its outputs)."""
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this process's environment
    start = time.perf_counter()
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                                resources={"metadata": {"path": str(workdir)}})
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell{index}")
                t0 = time.perf_counter()
                client.execute_cell(cell, index)
                log(f"--- {grade_id}: {time.perf_counter() - t0:.1f} s\n{cell_text(cell).rstrip()}")
    finally:
        os.environ.clear()
        os.environ.update(old)
    return time.perf_counter() - start


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def comparison_markdown(rows: list[dict], seconds: float, smoke: bool) -> str:
    values = {(r["name"], r["metric"]): float(r["value"]) for r in rows}
    runs = {r["name"]: (int(float(r["epochs"])), float(r["seconds"])) for r in rows
            if r["metric"] == "val_accuracy"}  # epochs run and wall time of each part's training
    versions = rows[0]["versions"] if rows else "?"
    device = rows[0]["device"] if rows else "?"
    lines = [f"# CIFAR-10 capstone: full-profile results{' (SMOKE RUN, sizes patched down)' if smoke else ''}",
             "", f"{versions}; {device}; whole notebook {seconds / 60:.1f} min.", "",
             "Validation accuracy (5,000 images) of the weights kept; reference figures from "
             "ANCHOR_RESULTS.md, exercise 8 (2nd edition published / 3rd edition's code re-run "
             "here on 2 CPU cores). lr: the learning rate a run starts with; last lr: the rate at "
             "its end (the plateau schedule of parts b-e, the 1cycle schedule of part f).", "",
             "| part | ours: val. acc. | best epoch | epochs run | s/epoch | run time (s) | lr | last lr | target | 2nd ed. | re-run | re-run s/epoch |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def fmt(x, spec):
        return "—" if x is None else format(x, spec)

    for part, ref in ANCHORS.items():
        key = "e_mc_dropout" if part == "e (MC)" else part
        acc = values.get((key, "val_accuracy"))
        best = values.get((key, "best_epoch"))
        spe = values.get((key, "seconds_per_epoch"))
        lr = values.get((key, "learning_rate"))
        last_lr = values.get((key, "last_learning_rate"))
        epochs_run, run_seconds = runs.get(key, (None, None)) if part != "e (MC)" else (None, None)
        second, rerun = ref.get("2nd ed."), ref.get("re-run")
        target = TARGETS.get(part)
        mark = "" if acc is None or target is None else (" ✓" if acc >= target else " ✗")
        lines.append(f"| {part} | {fmt(acc, '.4f')}{mark} | {fmt(best and int(best), 'd')} | "
                     f"{fmt(epochs_run, 'd')} | {fmt(spe, '.1f')} | {fmt(run_seconds, '.0f')} | {fmt(lr, 'g')} | {fmt(last_lr, '.2g')} | {fmt(target, '.2f')} | "
                     f"{fmt(second and second[0], '.4f')} | {fmt(rerun and rerun[0], '.4f')} | "
                     f"{fmt(rerun and rerun[2], '.1f')} |")
    searches = sorted((n, v) for (n, m), v in values.items() if "_search_lr_" in n)
    if searches:
        lines += ["", "Learning-rate searches (validation accuracy after the short runs):", ""]
        lines += [f"- {n.replace('_search_lr_', ': lr ')} → {v:.4f}" for n, v in searches]
    tests = [(n, v) for (n, m), v in values.items() if m == "test_accuracy"]
    if tests:
        lines += ["", f"Test accuracy of the model best on validation ({tests[0][0]}): {tests[0][1]:.4f}"]
    return "\n".join(lines) + "\n"


def run_notebook(smoke: bool) -> int:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    if smoke:
        at = next(i for i, c in enumerate(nb.cells)
                  if c.metadata.get("nbgrader", {}).get("grade_id") == "full_settings")
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell(SMOKE_CELL))
    out_dir = REPO / "_build" / "cifar10" / ("smoke" if smoke else "full")
    out_dir.mkdir(parents=True, exist_ok=True)
    final_dir = out_dir if smoke else REPO / "results" / "full"
    final_dir.mkdir(parents=True, exist_ok=True)
    log_path = final_dir / "cifar10.log"
    with tempfile.TemporaryDirectory(prefix="cifar10-") as tmp, open(log_path, "w") as log_file:
        tmp = Path(tmp)
        env = offline_env(tmp, "full")
        env["RESULTS_DIR"] = str(tmp / "results")
        env.pop("NBGRADER_EXECUTION", None)

        def log(text):
            print(text, flush=True)
            log_file.write(text + "\n")
            log_file.flush()

        log(f"# scripts/run_cifar10_full.py{' --smoke' if smoke else ''}: started "
            f"{time.strftime('%Y-%m-%d %H:%M:%S')}")
        status = 0
        try:
            seconds = execute(nb, env, tmp, log)
        except Exception as exc:  # CellExecutionError and timeouts: keep what ran
            log(f"FAILED: {type(exc).__name__}: {exc}")
            seconds, status = float("nan"), 1
        nbformat.write(nb, out_dir / "cifar10_full.ipynb")
        results = tmp / "results" / "cifar10.csv"
        if results.exists():
            shutil.copy2(results, final_dir / "cifar10.csv")
            (final_dir / "cifar10.md").write_text(comparison_markdown(read_rows(results), seconds, smoke))
            log((final_dir / "cifar10.md").read_text())
        else:
            log("no results were recorded")
            status = 1
        log(f"# finished in {seconds:.0f} s; outputs in {final_dir.relative_to(REPO)}")
    return status


def _budget_rows(answer: str, cells: dict[str, str], n: int, first: int, env: dict, tmp: Path) -> list[dict]:
    """One kernel: the set-up with `cells` in place of the solution's, then the budget cells per seed."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    setup = [cells.get(c.metadata.get("nbgrader", {}).get("grade_id"), c.source) for c in nb.cells
             if c.cell_type == "code"
             and not c.metadata.get("nbgrader", {}).get("grade")
             and not c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("run_")
             and c.metadata.get("nbgrader", {}).get("grade_id") != "summary"]
    run = [nbformat.v4.new_code_cell(source) for source in setup]
    for seed in range(first, first + n):
        run.append(nbformat.v4.new_code_cell(f"os.environ['COURSE_GRADING_SEED'] = '{seed}'"))
        run += [nbformat.v4.new_code_cell(by_id[g].source) for g in BUDGET_CELLS]
    run = nbformat.v4.new_notebook(cells=run)
    execute(run, env, tmp, lambda text: None, timeout=1200, allow_errors=True)  # wrong answers fail
    rows, seed = [], None
    for cell in run.cells:
        text = cell_text(cell)
        match = re.search(r"COURSE_GRADING_SEED'\] = '(\d+)'", cell.source)
        if match:
            seed = int(match.group(1))
        found = re.search(r"^(deep|BN|SELU) model.*validation accuracy ([0-9.na]+) in ([0-9.]+) s", text, re.M)
        if found:
            rows.append(dict(answer=answer, seed=seed, model=found.group(1).lower(),
                             val_accuracy=float(found.group(2)), seconds=float(found.group(3))))
            print(rows[-1], flush=True)
    return rows


def budget_seeds(n: int, first: int, which: str = "all") -> int:
    """The accuracy under the grading budget of the reference, the correct variants and the
    typical wrong answers, for n grading seeds each."""
    answers, rows = budget_answers(which), []
    with tempfile.TemporaryDirectory(prefix="cifar10-") as tmp:
        tmp = Path(tmp)
        env = offline_env(tmp, "quick")
        env["NBGRADER_EXECUTION"] = "autograde"
        for answer, cells in answers.items():
            rows += _budget_rows(answer, cells, n, first, env, tmp)
    path = REPO / "results" / "full" / "cifar10_budget_seeds.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["answer", "seed", "model", "val_accuracy", "seconds"])
        writer.writeheader()
        writer.writerows(rows)
    for answer in answers:
        for model in ("deep", "bn", "selu"):
            accs = [r["val_accuracy"] for r in rows if r["model"] == model and r["answer"] == answer]
            if accs:
                print(f"{answer:38s} {model:5s}: min {min(accs):.3f}  mean {sum(accs) / len(accs):.3f}"
                      f"  max {max(accs):.3f}  over {len(accs)} seeds")
    print(f"wrote {path.relative_to(REPO)}")
    return 0 if len(rows) == 3 * n * len(answers) else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="same code path, tiny sizes; writes to _build/")
    parser.add_argument("--budget-seeds", type=int, metavar="N",
                        help="measure the reference's accuracy under the grading budget for N seeds")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--answers", choices=("all", "reference"), default="all",
                        help="--budget-seeds: the reference, correct variants and typical wrong answers, "
                        "or the reference only")
    args = parser.parse_args(argv)
    if not (DATASETS / "seed_keras_cache.py").exists():
        sys.exit(f"offline datasets not found at {DATASETS} (set COURSE_DATASETS)")
    if args.budget_seeds:
        return budget_seeds(args.budget_seeds, args.first_seed, args.answers)
    return run_notebook(args.smoke)


if __name__ == "__main__":
    sys.exit(main())
