"""Caps of `python -m grading` derived from the reference's measured time (grading/budgets.json)."""
import pytest

from grading import budgets
from grading.cli import parse_args

MEASURED = ("schedules", "initializers")  # the small assignments: a bad submission costs ~1 min


@pytest.mark.parametrize("assignment", sorted(budgets.load()))
def test_budget_measured_on_the_current_reference(repo, assignment):
    record = budgets.load()[assignment]
    current = budgets.notebook_hash(repo / "solutions" / assignment / f"{assignment}.ipynb")
    assert record["solution_sha256"] == current, (
        f"solutions/{assignment} changed since its time was measured ({record['date']}): run "
        f"`python scripts/bench_budgets.py --measure {assignment}` and commit grading/budgets.json")


@pytest.mark.parametrize("assignment", MEASURED)
def test_small_assignments_are_measured_and_capped_near_a_minute(assignment):
    cell, wall = budgets.defaults(assignment)
    record = budgets.load()[assignment]
    assert cell >= 2 * record["slowest_cell_seconds"] and wall >= 2 * record["wall_seconds"]
    assert wall <= 120, f"{assignment}: a looping submission could hold a worker {wall} s"


def test_cli_defaults_come_from_the_budget_and_flags_override(tmp_path):
    cell, wall = budgets.defaults("schedules")
    opts = parse_args(["schedules", str(tmp_path)])
    assert (opts.caps.cell_seconds, opts.caps.wall_seconds) == (cell, wall)
    opts = parse_args(["schedules", str(tmp_path), "--cell-seconds", "7", "--wall-seconds", "99"])
    assert (opts.caps.cell_seconds, opts.caps.wall_seconds) == (7, 99)


def test_seed_stays_out_of_the_kernel_environment(tmp_path):
    opts = parse_args(["schedules", str(tmp_path), "--seed", "4242"])
    assert opts.seed == "4242" and "COURSE_GRADING_SEED" not in opts.env
