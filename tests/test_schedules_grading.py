"""Grading quality of the schedules assignment, graded as `python -m grading` grades students.

All simulated students (tests/submissions/schedules/: correct variants, wrong answers, and the
tampering cases of tests/test_tampering.py) are graded in ONE sandboxed batch with verdicts
decided by the grader (fixture `graded_assignment`). Every wrong variant must lose points on the
test cell named in its `# expect:` header; every correct variant and the reference get full
marks; the untouched release gets 0. The plain `nbgrader autograde` workflow (trusted notebooks,
in-kernel tests) is checked separately on the reference and the release."""
import re
from pathlib import Path

import pytest

from helpers.course import solution_sources
from helpers.draws import hidden_message_problems
from helpers.nbgrader_batch import grade_batch
from helpers.variants import build_submission, max_points, read_variant

ASSIGNMENT = "schedules"
VARIANTS = Path(__file__).parent / "submissions" / ASSIGNMENT
WRONG = sorted(p.stem.replace("_", "-") for p in VARIANTS.glob("*.py") if read_variant(p)[1]["expect"] != "full")
CORRECT = sorted(p.stem.replace("_", "-") for p in VARIANTS.glob("*.py") if read_variant(p)[1]["expect"] == "full")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(graded_assignment):
    return graded_assignment(ASSIGNMENT)


def test_points_table(graded, record_property):
    record_property("points_table", graded.table)
    assert len(graded.grades) >= 2 + 10 + 6


def test_enough_variants():
    assert len(WRONG) >= 10 and len(CORRECT) >= 6, (WRONG, CORRECT)


def test_reference_gets_full_marks(graded):
    assert graded.grades["reference"] == graded.maxima, graded.table


def test_release_gets_zero(graded):
    assert graded.grades["release"]["total"] == 0, graded.table


@pytest.mark.parametrize("variant", CORRECT)
def test_correct_variant_gets_full_marks(graded, variant):
    lost = {k: v for k, v in graded.grades[variant].items() if v < graded.maxima[k]}
    assert not lost, f"{variant} ({graded.headers[variant].get('why')}) lost points on {lost}\n{graded.table}"


@pytest.mark.parametrize("variant", WRONG)
def test_wrong_variant_loses_points_on_the_intended_cell(graded, variant):
    cells = graded.headers[variant]["expect"].split()
    for cell in cells:
        assert cell in graded.maxima, f"{variant}: unknown grade cell {cell!r}"
        assert graded.grades[variant][cell] < graded.maxima[cell], (
            f"{variant} ({graded.headers[variant].get('why')}) kept its points on {cell}\n{graded.table}")


def test_grader_messages_in_feedback(graded):
    """A failed hidden check says what failed, in the grader's words, in the student's feedback."""
    html = graded.feedback("wrong-power-ignores-c").read_text()
    assert "Grader: hidden tests failed (0/2 points)" in html
    assert "power_schedule with other parameters" in html
    ok = graded.feedback("reference").read_text()
    assert "Grader: hidden tests passed" in ok and "GraderVerdict" not in ok


def test_hidden_messages_name_no_drawn_value(graded):
    """Every student's hidden messages, scanned for what their checks drew (the seed is known):
    no drawn parameter and no count of drawn cases (helpers/draws.py): the off-by-one piecewise
    fails many cases of a drawn number of boundaries."""
    problems, scanned = hidden_message_problems(graded)
    assert not problems, "\n".join(problems)
    assert scanned >= 20, scanned
    assert "(and other cases)" in graded.feedback("wrong-piecewise-off-by-one").read_text()


def _figures(html: str) -> dict:
    """id -> alt text of every figure of a feedback page (grading/figures.py)."""
    return dict(re.findall(r'<figure class="feedback-figure" id="([^"]+)">\s*<svg[^>]*aria-label="([^"]*)"', html))


def test_feedback_figures_show_the_curve_against_the_right_one(graded):
    """1cycle and plateau: the student's rates on the notebook's example against the right ones."""
    right = _figures(graded.feedback("reference").read_text())
    assert set(right) == {"figure-test_one_cycle_visible", "figure-test_plateau"}, right
    assert "yours matches it at all 111 steps" in right["figure-test_one_cycle_visible"]
    assert "yours matches it at all 12 epochs" in right["figure-test_plateau"]
    cycle = _figures(graded.feedback("wrong-one-cycle-peak-at-half").read_text())
    assert "yours differs from it at" in cycle["figure-test_one_cycle_visible"], cycle
    plateau = _figures(graded.feedback("wrong-plateau-monitors-loss").read_text())
    assert "yours differs from it at 9 of 12 epochs, first at epoch 4 (yours 0.1, right 0.05)" in \
        plateau["figure-test_plateau"], plateau
    release = _figures(graded.feedback("release").read_text())
    assert "no value came back from your code" in release["figure-test_one_cycle_visible"], release


def test_plain_nbgrader_autograde(repo, offline_env, tmp_path):
    """The trusted workflow: the notebook's own tests give the reference full marks, the release 0."""
    release = repo / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    ref = build_submission(release, solution_sources(repo, ASSIGNMENT), tmp_path / "reference.ipynb")
    results = grade_batch(repo, ASSIGNMENT, {"reference": ref, "release": release}, tmp_path,
                          dict(offline_env, COURSE_GRADING_SEED="271828"))
    assert results["reference"] == max_points(repo, ASSIGNMENT), results
    assert results["release"]["total"] == 0, results
