"""Grading quality of the CIFAR-10 capstone: one autograde batch of simulated students.

The batch: the reference solution, the untouched release and every variant in
tests/submissions/cifar10/ (wrong networks and functions that must lose points on the test cell
named in their `# expect:` header, and differently written correct solutions that must get full
marks). Each notebook is graded with the real nbgrader pipeline under the grading budget (the
notebook sees NBGRADER_EXECUTION and skips its long experiments; the test cells train the models
on a data subset for a few epochs). The manually graded written comparison is left out of the
point checks: it is 0 until an instructor grades it.

Cost (measured 2026-11-23 on 2 shared CPU cores, load average 2-6): 11 submissions autograded in
373-485 s, i.e. 34-44 s each including nbgrader's own work; the reference's kernel time (first cell
to last) 28 s, of which the three budget trainings take about 20 s. The whole file: 6.5-8.5 min.
"""
import json
import os
import time
from datetime import datetime
from pathlib import Path

import nbformat
import pytest

from batch_grading import format_points_table, grade_variants, max_points, publish, read_variant

ASSIGNMENT = "cifar10"
VARIANTS = Path(__file__).parent / "submissions" / ASSIGNMENT
WRONG = sorted(p.stem for p in VARIANTS.glob("*.py") if read_variant(p)[1]["expect"] != "full")
CORRECT = sorted(p.stem for p in VARIANTS.glob("*.py") if read_variant(p)[1]["expect"] == "full")
GRADING_SEED = os.environ.get("COURSE_GRADING_SEED", "20261123")
MANUAL = {"comparison"}  # graded by hand: no points from the autograder
# Kernel time allowed for one submission (cells only; the target is under 90 s on 2 free cores,
# the margin absorbs a busy CI runner).
MAX_SECONDS_PER_SUBMISSION = float(os.environ.get("CIFAR10_MAX_GRADING_SECONDS", "180"))

pytestmark = pytest.mark.slow


def _kernel_seconds(notebook: Path) -> float:
    """First cell start to last cell end, from the execution timestamps nbclient records."""
    nb = nbformat.read(notebook, as_version=4)
    starts, ends = [], []
    for cell in nb.cells:
        timing = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            starts.append(datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00")))
            ends.append(datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00")))
    return (max(ends) - min(starts)).total_seconds() if starts else float("nan")


@pytest.fixture(scope="module")
def graded(repo, offline_env, tmp_path_factory, request):
    env = dict(offline_env, COURSE_GRADING_SEED=GRADING_SEED)
    workdir = tmp_path_factory.mktemp(ASSIGNMENT)
    start = time.perf_counter()
    results, headers = grade_variants(repo, ASSIGNMENT, workdir, env)
    seconds = time.perf_counter() - start
    autograded = workdir / "course" / "autograded"
    kernel = {s: _kernel_seconds(autograded / s / ASSIGNMENT / f"{ASSIGNMENT}.ipynb") for s in results}
    maxima = {k: v for k, v in max_points(repo, ASSIGNMENT).items() if k not in MANUAL}
    maxima["total"] = sum(v for k, v in maxima.items() if k != "total")
    auto = {s: {k: v for k, v in p.items() if k not in MANUAL} for s, p in results.items()}
    for points in auto.values():
        points["total"] = sum(v for k, v in points.items() if k != "total")
    table = format_points_table(auto, maxima)
    lines = table.splitlines()
    lines[0] += "  kernel s"
    for i, student in enumerate(auto, start=len(lines) - len(auto)):
        lines[i] += f"  {kernel[student]:8.1f}"
    report = (f"{ASSIGNMENT}: {len(results)} submissions autograded in {seconds:.0f} s "
              f"({seconds / len(results):.1f} s each, kernel time per notebook in the last column), "
              f"COURSE_GRADING_SEED={GRADING_SEED}, load average {os.getloadavg()[0]:.1f}\n"
              + "\n".join(lines) + "\n(autograded cells only; the written comparison is graded by hand)")
    publish(report, request)
    return auto, headers, maxima, report, kernel


def test_points_table(graded, record_property):
    results, _, _, report, kernel = graded
    record_property("points_table", report)
    record_property("kernel_seconds", json.dumps(kernel))
    assert len(results) >= 2 + 6 + 2


def test_at_least_six_wrong_and_two_correct():
    assert len(WRONG) >= 6 and len(CORRECT) >= 2, (WRONG, CORRECT)


def test_reference_gets_all_autograded_points(graded):
    results, _, maxima, report, _ = graded
    assert results["reference"] == maxima, report


def test_reference_grades_within_budget(graded):
    _, _, _, report, kernel = graded
    assert kernel["reference"] < MAX_SECONDS_PER_SUBMISSION, (
        f"the reference took {kernel['reference']:.0f} s of kernel time to grade\n{report}")


def test_release_gets_zero(graded):
    results, _, _, report, _ = graded
    assert results["release"]["total"] == 0, report


@pytest.mark.parametrize("variant", CORRECT)
def test_correct_variant_gets_full_marks(graded, variant):
    results, headers, maxima, report, _ = graded
    lost = {k: v for k, v in results[variant].items() if v < maxima[k]}
    assert not lost, f"{variant} ({headers[variant].get('why')}) lost points on {lost}\n{report}"


@pytest.mark.parametrize("variant", WRONG)
def test_wrong_variant_loses_points_on_the_intended_cell(graded, variant):
    results, headers, maxima, report, _ = graded
    cell = headers[variant]["expect"]
    assert cell in maxima, f"{variant}: unknown grade cell {cell!r}"
    assert results[variant][cell] < maxima[cell], (
        f"{variant} ({headers[variant].get('why')}) kept its points on {cell}\n{report}")
