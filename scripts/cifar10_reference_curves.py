"""The reference's training curves on the CIFAR-10 grading budget, for the students' feedback figures.

    python scripts/cifar10_reference_curves.py [--runs 5]      # ~1 min per run on 2 cores

Each budget check of grading/checks/cifar10.py (deep, BN, SELU) draws a figure on the student's
feedback page: the validation accuracy fit() logged after each epoch of the grading budget
against the reference solution's. This script measures the reference's: in ONE Python process
(the solution is the instructor's own code: no sandbox needed, as `mutation_score.py
--in-process`), it runs the release notebook with the solution's answer cells in an IPython shell,
then the three budget checks' probe cells `--runs` times, each with other draws (held-out images,
their noise, the training seed), exactly as a student's are run, and reads the curve the
probe observes. It writes grading/checks/cifar10_reference_curves.json: per
model the mean, lowest and highest accuracy of each epoch over the runs, with the budget's
fingerprint (`cifar10.budget_fingerprint`: the constants, the budget's kernel code and the
solution notebook). The checks draw the reference only while that fingerprint is the budget's
(tests/test_figures.py fails otherwise): rerun this script after changing the budget or the solution.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
from helpers.course import solution_sources  # noqa: E402

A = "cifar10"
MODELS = {"deep": "test_train_deep_budget", "bn": "test_train_bn_budget", "selu": "test_train_selu_budget"}


def shell_with_solution(tmp: Path):
    """An IPython shell in this process that has run the release's cells with the solution's
    answers (test cells left out), in the kernels' offline environment."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from traitlets.config import Config
    from grading import checks as _checks, runtime
    datasets = runtime.datasets_dir()
    runtime.seed_cache(datasets, tmp / "keras_home")
    runtime.write_startup(tmp / "ipython", datasets)
    os.environ.update(COURSE_DATASETS=str(datasets), TF_CPP_MIN_LOG_LEVEL="2", COURSE_PROFILE="quick",
                      KERAS_HOME=str(tmp / "keras_home"), IPYTHONDIR=str(tmp / "ipython"))
    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    for startup in sorted((tmp / "ipython" / "profile_default" / "startup").glob("*.py")):
        if "like-colab" not in startup.name:
            exec(compile(startup.read_text(), str(startup), "exec"), {"__name__": startup.stem})
    checks = _checks.load(A)
    answers = solution_sources(REPO, A)
    release = nbformat.read(REPO / "exercises" / A / f"{A}.ipynb", as_version=4)
    for cell in release.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type != "code" or gid in checks:
            continue
        with capture_output():
            result = shell.run_cell(answers.get(gid, cell.source))
        if not result.success:
            raise SystemExit(f"the solution's cell {gid} failed: {result.error_in_exec!r}")
    return shell, checks


def run_probe(shell, probe) -> dict:
    from IPython.utils.capture import capture_output
    from grading.probes import read_report
    with capture_output() as captured:
        shell.run_cell(probe.source())
    return read_report([{"output_type": "display_data", "data": o.data} for o in captured.outputs])


def measure(runs: int) -> dict:
    from grading.checks import cifar10
    from grading.judge import rng_for
    curves = {m: [] for m in MODELS}
    with tempfile.TemporaryDirectory(prefix="cifar10-curves-") as tmp:
        shell, checks = shell_with_solution(Path(tmp))
        for run in range(runs):
            for model, gid in MODELS.items():
                started = time.perf_counter()
                probe = checks[gid].probe(rng_for("reference-curves", f"run{run}", gid, "solution"))
                report = run_probe(shell, probe)
                if probe.judge(report).fraction < 1:
                    raise SystemExit(f"the reference lost points on {gid} (run {run}): fix that first")
                accs = cifar10.epoch_accuracies(report)
                if len(accs) != cifar10.BUDGET_EPOCHS or None in accs:
                    raise SystemExit(f"{gid}: no accuracy for every epoch ({accs})")
                curves[model].append(accs)
                print(f"run {run} {model:5s}: {', '.join(f'{a:.3f}' for a in accs)}"
                      f"  ({time.perf_counter() - started:.0f} s)", flush=True)
    return curves


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="budget runs of each model (other draws each)")
    args = parser.parse_args(argv)
    from grading.checks import cifar10
    curves = measure(args.runs)
    data = {"written_by": f"python scripts/cifar10_reference_curves.py --runs {args.runs}",
            "fingerprint": cifar10.budget_fingerprint(), "runs": args.runs,
            "epochs": cifar10.BUDGET_EPOCHS, "models": {}}
    for model, rows in curves.items():
        table = np.asarray(rows, dtype=np.float64)
        data["models"][model] = {name: [round(float(v), 4) for v in values] for name, values in
                                 (("mean", table.mean(axis=0)), ("low", table.min(axis=0)),
                                  ("high", table.max(axis=0)))}
    cifar10.REFERENCE_CURVES.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {cifar10.REFERENCE_CURVES.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
