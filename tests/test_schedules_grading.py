"""Grading quality of the schedules assignment: one autograde batch of simulated students.

Every wrong variant in tests/submissions/schedules/ must lose points on the test cell named in
its `# expect:` header; every correct variant and the reference solution get full marks; the
untouched release gets 0 without crashing the grader."""
import os
from pathlib import Path

import pytest

from batch_grading import grade_variants_with_report, read_variant

ASSIGNMENT = "schedules"
VARIANTS = Path(__file__).parent / "submissions" / ASSIGNMENT
WRONG = sorted(p.stem for p in VARIANTS.glob("*.py") if read_variant(p)[1]["expect"] != "full")
CORRECT = sorted(p.stem for p in VARIANTS.glob("*.py") if read_variant(p)[1]["expect"] == "full")
GRADING_SEED = os.environ.get("COURSE_GRADING_SEED", "314159")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(repo, offline_env, tmp_path_factory, request):
    env = dict(offline_env, COURSE_GRADING_SEED=GRADING_SEED)
    return grade_variants_with_report(repo, ASSIGNMENT, tmp_path_factory.mktemp(ASSIGNMENT), env,
                                      request)


def test_points_table(graded, record_property):
    results, _, _, report = graded
    record_property("points_table", report)
    assert len(results) >= 2 + 8 + 3


def test_at_least_eight_wrong_and_three_correct():
    assert len(WRONG) >= 8 and len(CORRECT) >= 3, (WRONG, CORRECT)


def test_reference_gets_full_marks(graded):
    results, _, maxima, report = graded
    assert results["reference"] == maxima, report


def test_release_gets_zero(graded):
    results, _, _, report = graded
    assert results["release"]["total"] == 0, report


@pytest.mark.parametrize("variant", CORRECT)
def test_correct_variant_gets_full_marks(graded, variant):
    results, headers, maxima, report = graded
    lost = {k: v for k, v in results[variant].items() if v < maxima[k]}
    assert not lost, f"{variant} ({headers[variant].get('why')}) lost points on {lost}\n{report}"


@pytest.mark.parametrize("variant", WRONG)
def test_wrong_variant_loses_points_on_the_intended_cell(graded, variant):
    results, headers, maxima, report = graded
    cell = headers[variant]["expect"]
    assert cell in maxima, f"{variant}: unknown grade cell {cell!r}"
    assert results[variant][cell] < maxima[cell], (
        f"{variant} ({headers[variant].get('why')}) kept its points on {cell}\n{report}")
