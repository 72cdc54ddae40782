"""The CI batches put wrong variants that cannot hide each other's mistakes in one notebook
(tests/helpers/variants.py). These tests hold the rule: a shared notebook never holds a variant
that changes a cell another member's expected failure may run."""
from pathlib import Path

from helpers.variants import merge_wrong_variants, read_variant, solution_cells_run_by_tests

REPO = Path(__file__).resolve().parents[1]


def case(cells, expect):
    return ({c: "..." for c in cells}, {"expect": expect})


def test_independent_variants_share_a_notebook():
    deps = {"test_a": {"a"}, "test_b": {"b"}}
    wrong = {"x": case(["a"], "test_a"), "y": case(["b"], "test_b")}
    assert merge_wrong_variants(wrong, deps) == [["x", "y"]]


def test_same_cell_or_dependent_cell_or_unknown_test_stay_apart():
    deps = {"test_a": {"a"}, "test_b": {"a", "b"}}   # test_b also runs cell a
    assert merge_wrong_variants({"x": case(["a"], "test_a"), "y": case(["a"], "test_a")}, deps) == [["x"], ["y"]]
    assert merge_wrong_variants({"x": case(["a"], "test_a"), "y": case(["b"], "test_b")}, deps) == [["x"], ["y"]]
    assert merge_wrong_variants({"x": case(["a"], "test_a"), "y": case(["c"], "test_c")}, deps) == [["x"], ["y"]]


def test_real_groups_keep_dependencies_apart():
    """On the real assignments: within a group, no member changes a cell that another member's
    expected-to-fail test reaches (e.g. a wrong one_cycle_rate never shares a notebook with a
    wrong OneCycleScheduler, whose test runs one_cycle_rate)."""
    for assignment in ("schedules", "initializers", "cifar10"):
        folder = REPO / "tests" / "submissions" / assignment
        wrong = {}
        for path in sorted(folder.glob("wrong_*.py")):
            overrides, headers = read_variant(path)
            wrong[path.stem] = (overrides, headers)
        deps = solution_cells_run_by_tests(REPO, assignment, [o for o, _ in wrong.values()])
        assert deps, assignment
        groups = merge_wrong_variants(wrong, deps)
        assert sorted(m for g in groups for m in g) == sorted(wrong)
        for group in groups:
            for a in group:
                reach = set().union(*(deps[t] for t in wrong[a][1]["expect"].split()))
                for b in group:
                    if a != b:
                        assert not set(wrong[b][0]) & reach, (assignment, a, b)
    sched = solution_cells_run_by_tests(REPO, "schedules", [])
    assert "one_cycle_rate" in sched["test_one_cycle_callback"]
    # the budget checks name their builders through a module-level table, not in their code
    cifar = solution_cells_run_by_tests(REPO, "cifar10", [])
    assert "deep_model" in cifar["test_train_deep_budget"]
    assert "bn_model" in cifar["test_train_bn_budget"]
    # a cell that fills a table the release defines (INITIALIZER_FOR.update(...)) defines it too
    assert "activations" in solution_cells_run_by_tests(REPO, "initializers", [])["test_activations"]
