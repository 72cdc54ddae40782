"""Grading quality of the initializers assignment, graded as `python -m grading` grades students.

All simulated students (tests/submissions/initializers/: correct variants and wrong answers,
plus the reference and the untouched release) are graded in ONE sandboxed batch with verdicts
decided by the grader (fixture `graded_assignment`, grading/checks/initializers.py). Every wrong
variant must lose points on the test cells named in its `# expect:` header; every correct
variant and the reference get full marks; the untouched release gets 0. The plain
`nbgrader autograde` workflow (trusted notebooks, in-kernel tests) is checked separately.

The grader's statistical checks (grading.checks.initializers.sample_problem / bound_problem)
are also exercised here over many seeds with NumPy draws: no false alarm on correct samples at
the sample size the checks use, and every typical wrong spread caught at every seed."""
import math
import re
from pathlib import Path

import numpy as np
import pytest

from helpers.course import solution_sources
from helpers.draws import hidden_message_problems
from helpers.nbgrader_batch import grade_batch
from helpers.variants import build_submission, max_points, read_variant
from grading.checks.initializers import (SAMPLE, TRUNCATION_CORRECTION, bound_problem,
                                         sample_problem)

ASSIGNMENT = "initializers"
VARIANTS = Path(__file__).parent / "submissions" / ASSIGNMENT
WRONG = sorted(p.stem.replace("_", "-") for p in VARIANTS.glob("*.py") if read_variant(p)[1]["expect"] != "full")
CORRECT = sorted(p.stem.replace("_", "-") for p in VARIANTS.glob("*.py") if read_variant(p)[1]["expect"] == "full")


@pytest.fixture(scope="module")
def graded(graded_assignment):
    return graded_assignment(ASSIGNMENT)


def test_enough_variants():
    assert len(WRONG) >= 10 and len(CORRECT) >= 6, (WRONG, CORRECT)


@pytest.mark.slow
def test_points_table(graded, record_property):
    record_property("points_table", graded.table)
    assert len(graded.grades) == 2 + len(WRONG) + len(CORRECT)


@pytest.mark.slow
def test_reference_gets_full_marks(graded):
    assert graded.grades["reference"] == graded.maxima, graded.table


@pytest.mark.slow
def test_release_gets_zero(graded):
    assert graded.grades["release"]["total"] == 0, graded.table


@pytest.mark.slow
@pytest.mark.parametrize("variant", CORRECT)
def test_correct_variant_gets_full_marks(graded, variant):
    lost = {k: v for k, v in graded.grades[variant].items() if v < graded.maxima[k]}
    assert not lost, f"{variant} ({graded.headers[variant].get('why')}) lost points on {lost}\n{graded.table}"


@pytest.mark.slow
@pytest.mark.parametrize("variant", WRONG)
def test_wrong_variant_loses_points_on_the_intended_cell(graded, variant):
    for cell in graded.headers[variant]["expect"].split():
        assert cell in graded.maxima, f"{variant}: unknown grade cell {cell!r}"
        assert graded.grades[variant][cell] < graded.maxima[cell], (
            f"{variant} ({graded.headers[variant].get('why')}) kept its points on {cell}\n{graded.table}")


@pytest.mark.slow
def test_partial_credit_per_activation(graded):
    """Two wrong rows of the ten-row table cost 2/10 of the cell, not all of it."""
    assert graded.grades["wrong-answers-selu-he"]["test_activations"] == pytest.approx(
        0.8 * graded.maxima["test_activations"]), graded.table


@pytest.mark.slow
def test_hidden_feedback_names_what_failed_without_values(graded):
    html = graded.feedback("wrong-uniform-limit").read_text()
    assert "Grader: hidden tests failed (0/2 points)" in html
    assert "uniform with mode" in html and "mean and standard deviation" in html
    # A hidden check's values stay in the grader: its verdict names what failed, not the numbers
    # (the visible checks, whose inputs are also drawn per submission, show theirs).
    hidden_verdicts = re.findall(r"Grader: hidden tests failed.*?(?=Grader:|$)", html, re.S)
    assert hidden_verdicts
    for verdict in hidden_verdicts:
        assert not re.search(r"expected a standard deviation of [0-9.]+ \(within", verdict), verdict
    assert re.search(r"expected a standard deviation of [0-9.]+ \(within",
                     graded.feedback("wrong-variance-as-std").read_text())  # visible: values shown
    ok = graded.feedback("reference").read_text()
    assert "Grader: hidden tests passed" in ok and "GraderVerdict" not in ok


@pytest.mark.slow
def test_hidden_messages_name_no_drawn_choice(graded):
    """Every student's hidden messages, scanned for what their checks drew (the seed is known):
    no drawn mode, shape or scale, no count of drawn cases (helpers/draws.py). The swapped fans
    fail the convolution kernel, whose mode is drawn at random."""
    problems, scanned = hidden_message_problems(graded)
    assert not problems, "\n".join(problems)
    assert scanned >= 20, scanned
    assert "normal weights on a convolution kernel" in graded.feedback("wrong-fan-out-for-fan-in").read_text()


@pytest.mark.slow
def test_feedback_figure_shows_the_weights_against_the_target(graded):
    """The histogram of the weights drawn for the notebook's example against the normal target."""
    def alt(student):
        found = re.findall(r'<figure class="feedback-figure" id="figure-test_normal_visible">\s*<svg[^>]*'
                           r'aria-label="([^"]*)"', graded.feedback(student).read_text())
        assert len(found) == 1, student
        return found[0]
    assert re.search(r"your 5000 weights have mean -?0\.0\d* and standard deviation 0\.07\d", alt("reference"))
    assert re.search(r"standard deviation 0\.00[45]\d*", alt("wrong-variance-as-std"))
    assert "no weights came back from your code" in alt("release")


@pytest.mark.slow
def test_plain_nbgrader_autograde(repo, offline_env, tmp_path):
    """The trusted workflow: the notebook's own tests give the reference full marks, the release 0."""
    release = repo / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    ref = build_submission(release, solution_sources(repo, ASSIGNMENT), tmp_path / "reference.ipynb")
    results = grade_batch(repo, ASSIGNMENT, {"reference": ref, "release": release}, tmp_path,
                          dict(offline_env, COURSE_GRADING_SEED="271828"))
    assert results["reference"] == max_points(repo, ASSIGNMENT), results
    assert results["release"]["total"] == 0, results


# ------------------------------------------------------------ the grader's statistics, many seeds

SIGMA = 0.05


def _draws(distribution, rng, n=SAMPLE, sigma=SIGMA):
    if distribution == "normal":
        return rng.normal(0, sigma, n)
    if distribution == "uniform":
        return rng.uniform(-math.sqrt(3) * sigma, math.sqrt(3) * sigma, n)
    stddev = sigma / TRUNCATION_CORRECTION
    x = rng.normal(0, stddev, 3 * n)
    return x[np.abs(x) <= 2 * stddev][:n]


@pytest.mark.parametrize("distribution", ["normal", "truncated_normal", "uniform"])
def test_statistics_accept_correct_samples(distribution):
    """500 seeds of correct draws at the checks' sample size: no false alarm (expected ~3e-4)."""
    for seed in range(500):
        x = _draws(distribution, np.random.default_rng(seed))
        assert sample_problem(x, SIGMA, distribution) is None, (seed, sample_problem(x, SIGMA, distribution))
        assert bound_problem(np.abs(x).max(), SIGMA, distribution) is None, seed


@pytest.mark.parametrize("distribution", ["normal", "truncated_normal", "uniform"])
@pytest.mark.parametrize("factor, label", [
    (1 / math.sqrt(3), "uniform limit sqrt(sigma^2)"),
    (TRUNCATION_CORRECTION, "truncated normal not corrected"),
    (1 / math.sqrt(2), "fan_avg as the sum of the fans"),
    (1 / TRUNCATION_CORRECTION, "correction applied twice / to the normal"),
    (math.sqrt(1.5), "fan off by a factor 2/3"),
])
def test_statistics_reject_wrong_spreads(distribution, factor, label):
    """The smallest spread errors of the variants and mutants: caught at every one of 200 seeds."""
    for seed in range(200):
        x = _draws(distribution, np.random.default_rng(seed), sigma=SIGMA * factor)
        assert (sample_problem(x, SIGMA, distribution) or bound_problem(np.abs(x).max(), SIGMA, distribution)), (
            f"{label}: missed at seed {seed}")


def test_statistics_tell_the_distributions_apart():
    """Same standard deviation, wrong distribution: the spread of the values gives it away."""
    rng = np.random.default_rng(0)
    for drawn, asked in [("truncated_normal", "normal"), ("uniform", "normal"), ("normal", "truncated_normal"),
                         ("normal", "uniform"), ("truncated_normal", "uniform"), ("uniform", "truncated_normal")]:
        x = _draws(drawn, rng)
        assert sample_problem(x, SIGMA, asked) or bound_problem(np.abs(x).max(), SIGMA, asked), (drawn, asked)
