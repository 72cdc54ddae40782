"""Grading quality of the initializers assignment: one autograde batch of simulated students.

Every wrong variant in tests/submissions/initializers/ must lose points on the test cell named in
its `# expect:` header; every correct variant and the reference solution get full marks; the
untouched release gets 0 without crashing the grader.

The statistical checks of the notebook (mean and standard deviation of a large sample, within 5
standard errors) are also run in-process over many seeds: with the reference initializer they
must never fail, and they must always catch the wrong variants (no flaky grades either way)."""
import os
from pathlib import Path

import pytest

from batch_grading import grade_variants_with_report, read_variant

ASSIGNMENT = "initializers"
VARIANTS = Path(__file__).parent / "submissions" / ASSIGNMENT
WRONG = sorted(p.stem for p in VARIANTS.glob("*.py") if read_variant(p)[1]["expect"] != "full")
CORRECT = sorted(p.stem for p in VARIANTS.glob("*.py") if read_variant(p)[1]["expect"] == "full")
GRADING_SEED = os.environ.get("COURSE_GRADING_SEED", "314159")


@pytest.fixture(scope="module")
def graded(repo, offline_env, tmp_path_factory, request):
    env = dict(offline_env, COURSE_GRADING_SEED=GRADING_SEED)
    return grade_variants_with_report(repo, ASSIGNMENT, tmp_path_factory.mktemp(ASSIGNMENT), env,
                                      request)


@pytest.mark.slow
def test_points_table(graded, record_property):
    results, _, _, report = graded
    record_property("points_table", report)
    assert len(results) >= 2 + 8 + 3


def test_at_least_eight_wrong_and_three_correct():
    assert len(WRONG) >= 8 and len(CORRECT) >= 3, (WRONG, CORRECT)


@pytest.mark.slow
def test_reference_gets_full_marks(graded):
    results, _, maxima, report = graded
    assert results["reference"] == maxima, report


@pytest.mark.slow
def test_release_gets_zero(graded):
    results, _, _, report = graded
    assert results["release"]["total"] == 0, report


@pytest.mark.slow
@pytest.mark.parametrize("variant", CORRECT)
def test_correct_variant_gets_full_marks(graded, variant):
    results, headers, maxima, report = graded
    lost = {k: v for k, v in results[variant].items() if v < maxima[k]}
    assert not lost, f"{variant} ({headers[variant].get('why')}) lost points on {lost}\n{report}"


@pytest.mark.slow
@pytest.mark.parametrize("variant", WRONG)
def test_wrong_variant_loses_points_on_the_intended_cell(graded, variant):
    results, headers, maxima, report = graded
    cell = headers[variant]["expect"]
    assert cell in maxima, f"{variant}: unknown grade cell {cell!r}"
    assert results[variant][cell] < maxima[cell], (
        f"{variant} ({headers[variant].get('why')}) kept its points on {cell}\n{report}")


# ---------------------------------------------------------------- statistical checks, many seeds

STAT_CELLS = ["test_normal_visible", "test_modes_hidden", "test_uniform", "test_truncated_normal"]
N_SEEDS = int(os.environ.get("COURSE_STAT_SEEDS", "25"))


@pytest.fixture(scope="module")
def notebook_namespace(repo):
    """The notebook's set-up cell and reference solution, executed in this process."""
    import nbformat
    from batch_grading import solution_sources

    nb = nbformat.read(repo / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    cells = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
             if "nbgrader" in c.metadata and c.cell_type == "code"}
    solutions = solution_sources(repo, ASSIGNMENT)
    namespace = {"__name__": "initializers_notebook"}
    for cell in nb.cells:  # in order, as a kernel would, without the test cells
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and not meta.get("grade"):
            exec(solutions.get(meta.get("grade_id"), cell.source), namespace)
    return namespace, cells


def test_statistical_cells_do_not_flake(notebook_namespace, monkeypatch):
    namespace, cells = notebook_namespace
    failures = []
    for seed in range(N_SEEDS):
        monkeypatch.setenv("COURSE_GRADING_SEED", str(1000 + seed))
        for grade_id in STAT_CELLS:
            try:
                exec(cells[grade_id], namespace)
            except AssertionError as error:
                failures.append((seed, grade_id, str(error)))
    assert not failures, f"{len(failures)} spurious failures over {N_SEEDS} seeds: {failures[:5]}"


def _samples(namespace, distribution, n_seeds, shape=(100, 300), scale=2.0, mode="fan_in"):
    init_class = namespace["MyVarianceScaling"]
    for seed in range(n_seeds):
        yield init_class(scale, mode, distribution, seed=10_000 + seed)(shape)


@pytest.mark.parametrize("distribution", ["normal", "truncated_normal", "uniform"])
def test_check_sample_accepts_correct_samples(notebook_namespace, distribution):
    """At the smallest sample size the tests use (30,000 values), 200 seeds: no false alarm."""
    namespace, _ = notebook_namespace
    import math
    expected = math.sqrt(2.0 / 100)
    for i, sample in enumerate(_samples(namespace, distribution, 200)):
        namespace["check_sample"](sample, expected, f"{distribution}, seed {i}")


@pytest.mark.parametrize("wrong_factor, label", [
    (1 / 3 ** 0.5, "uniform limit sqrt(sigma^2)"),
    (0.87962566103423978, "truncated normal not corrected"),
    (2 ** -0.5, "fan_avg as the sum of the fans"),
    (3 ** -0.5, "fan_out for fan_in (fans 1:3)"),
])
def test_check_sample_rejects_wrong_spreads(notebook_namespace, wrong_factor, label):
    """The smallest wrong factor the variants produce, at the smallest sample size: always caught."""
    namespace, _ = notebook_namespace
    import math
    expected = math.sqrt(2.0 / 100)
    missed = 0
    for sample in _samples(namespace, "normal", 100):
        try:
            namespace["check_sample"](sample, expected / wrong_factor, label)
        except AssertionError:
            continue
        missed += 1
    assert missed == 0, f"{label}: check_sample missed the error for {missed} of 100 seeds"
