"""The feedback figures (grading/figures.py): built by the grader from visible observations only,
rounded, small, with alt text, and kept only in the grader's hands. No kernel runs here.

The figures of real batches are checked where those batches run (tests/test_schedules_grading.py,
tests/test_initializers_grading.py, tests/test_cifar10_grading.py, tests/test_tampering.py for hidden
inputs smuggled into them), the page in Chromium by tests/test_report.py."""
import json
import re

import nbformat
import numpy as np
import pytest

from grading import figures, judge
from grading.checks import Probe, load
from grading.probes import MIME

# (assignment, cell) -> the observation keys its figure reads (all of the notebook's own example)
DRAWN = {("schedules", "test_one_cycle_visible"): {"figure"},
         ("schedules", "test_plateau"): {"stalled"},
         ("initializers", "test_normal_visible"): {"visible_sample"}}


def _fake_report(probe, rng) -> dict:
    """Every observation of the probe with made-up values (numbers, lists of numbers)."""
    report = {}
    for key, _ in probe.steps:
        if key in ("figure", "stalled"):
            report[key] = {"value": rng.uniform(0, 1, size=111 if key == "figure" else 12).tolist(), "kind": "list"}
        elif key.endswith("_sample"):
            report[key] = {"value": rng.normal(0, 0.07, size=5000).tolist(), "kind": "list"}
        else:
            report[key] = {"value": float(rng.uniform(0, 1)), "kind": "float"}
    return report


@pytest.mark.parametrize("assignment,gid", sorted(DRAWN))
def test_a_figure_depends_on_no_hidden_draw(assignment, gid):
    """Two probes of the same check built from two different draws (other hidden inputs, other
    expected values) give the same chart for the same observations: nothing drawn reaches it."""
    check = load(assignment)[gid]
    first, second = check.probe(np.random.default_rng(1)), check.probe(np.random.default_rng(2))
    report = _fake_report(first, np.random.default_rng(0))
    chart = first.figure_data(report)
    assert chart is not None and chart == second.figure_data(report)
    # ... and only the example's observations: the others changed, the chart did not
    other = {k: (v if k in DRAWN[(assignment, gid)] else {"value": 0.5, "kind": "float"}) for k, v in report.items()}
    assert first.figure_data(other) == chart


def test_every_number_a_student_returns_is_rounded():
    secret = 0.48213491023
    chart = figures.chart("t", "alt", "x", "y", [figures.series("yours", "yours", [0, 1.23456789], [secret, None])])
    assert chart["series"][0]["y"] == [0.482, None] and chart["series"][0]["x"] == [0, 1.23]
    assert not figures.quotes_any(chart, {repr(secret), repr(secret)[:8]})
    assert figures.quotes_any(figures.chart("t", f"alt {secret}", "x", "y", chart["series"]), {repr(secret)})


@pytest.mark.parametrize("bad", [
    {"series": []}, {"alt": "", "series": [{"role": "yours", "x": [1], "y": [1]}]},
    {"alt": "a", "series": [{"role": "script", "x": [1], "y": [1]}]},
    {"alt": "a", "series": [{"role": "yours", "x": [1], "y": ["<svg>"]}]},
    {"alt": "a", "series": [{"role": "yours", "x": [1], "y": [float("inf")]}]},
    {"alt": "a" * 1000, "series": [{"role": "yours", "x": [1], "y": [1]}]},
    {"alt": "a", "log_y": "yes", "series": [{"role": "yours", "x": [1], "y": [1]}]}])
def test_only_well_formed_charts_pass(bad):
    with pytest.raises(ValueError):
        figures.checked(bad)


def test_the_svg_is_small_inline_and_labelled():
    from grading.checks import schedules
    steps = range(schedules.ONE_CYCLE_STEPS)
    chart = schedules.one_cycle_figure({"figure": {"value": [0.5 + t / 1e4 for t in steps]}})
    svg = figures.svg(chart, "test_one_cycle_visible")
    assert svg.startswith("<svg") and svg.endswith("</svg>") and len(svg) < 30_000, len(svg)
    assert 'role="img"' in svg and f"<title>{chart['alt'].replace('&', '&amp;')}</title>" in svg
    assert "aria-label=\"Line chart of the learning rate at steps 0 to 110" in svg
    assert "yours differs from it at 111 of 111 steps, first at step 0 (yours 0.5, right 0.1)" in svg
    assert "<script" not in svg and "<image" not in svg and "href=\"http" not in svg  # nothing to run or fetch
    geometry = " ".join(re.findall(r'\s(?:d|x|y|transform)="([^"]*)"', svg))
    assert geometry and not re.search(r"\d\.\d{3}", geometry)   # 1/100 of a point, no long literal
    assert figures.svg(chart, "a") != figures.svg(chart, "b")   # its own ids on a page of several


def _notebook_with_probe_cell(report: dict, forged: dict):
    cell = nbformat.v4.new_code_cell("probe", metadata={"nbgrader": {"grade": True, "grade_id": "test_x",
                                                                     "points": 1}, figures.KEY: forged})
    cell.outputs = [nbformat.v4.new_output("display_data", data={MIME: {"v": 1, "results": report}})]
    other = nbformat.v4.new_code_cell("x = 1", metadata={figures.KEY: forged})
    return nbformat.v4.new_notebook(cells=[other, cell])


def test_decide_keeps_the_graders_chart_only():
    """A chart in the metadata comes from the grader: one the notebook carried is dropped (from
    every cell), the check's own is kept, and one quoting a hidden input is left out."""
    forged = {"alt": "forged", "series": [{"role": "yours", "x": [1], "y": [1]}]}
    probe = Probe()
    probe.equal("v", 1, "1", part="p")
    probe.figure_from(lambda report: figures.chart("t", f"it said {report['v0']['value']}", "x", "y",
                                                   [figures.series("yours", "yours", [0], [1])]))
    nb = _notebook_with_probe_cell({"v0": {"value": 1, "kind": "int"}}, forged)
    assert judge.decide(nb, {"test_x": probe}, {}) == []
    assert figures.KEY not in nb.cells[0].metadata
    assert nb.cells[1].metadata[figures.KEY]["alt"] == "it said 1"
    nb = _notebook_with_probe_cell({"v0": {"value": 0.12345678, "kind": "float"}}, forged)
    leak = Probe(hidden=True, secrets={"0.12345678"})
    leak.expectations, leak.figure = probe.expectations, probe.figure
    assert judge.decide(nb, {"test_x": leak}, {}) == ["a figure quoting hidden test data was left out (cell test_x)"]
    assert all(figures.KEY not in c.metadata for c in nb.cells)


@pytest.mark.parametrize("report", [{}, {"epoch_accuracy": {"value": [0.2, None, 0.31]}},
                                    {"epoch_accuracy": {"error": "AttributeError"}}])
def test_every_budget_check_draws_its_curve_whatever_came_back(report):
    from grading.checks import cifar10
    for model, (_, _, _, threshold) in cifar10.BUDGET.items():
        chart = cifar10.budget_figure(model, threshold, report)
        assert "the reference solution's mean over" in chart["alt"] and figures.svg(chart, model)
        assert ("yours" in chart["alt"]) == bool(report.get("epoch_accuracy", {}).get("value"))


def test_a_failing_figure_never_changes_a_verdict():
    probe = Probe()
    probe.equal("v", 1, "1")
    probe.figure_from(lambda report: 1 / 0)
    assert probe.figure_data({}) is None and probe.judge({"v0": {"value": 1}}).fraction == 1


def test_the_reference_curves_are_those_of_todays_budget():
    """grading/checks/cifar10_reference_curves.json was measured with the budget and solution
    of today: otherwise rerun `python scripts/cifar10_reference_curves.py` (its docstring)."""
    from grading.checks import cifar10
    data = json.loads(cifar10.REFERENCE_CURVES.read_text())
    assert data["fingerprint"] == cifar10.budget_fingerprint(), (
        "the CIFAR-10 budget or solution changed: rerun python scripts/cifar10_reference_curves.py")
    assert set(data["models"]) == set(cifar10.BUDGET) and data["runs"] >= 3
    for curve in data["models"].values():
        assert all(len(curve[k]) == cifar10.BUDGET_EPOCHS for k in ("mean", "low", "high"))
        assert all(0.1 < lo <= m <= hi <= 1 for lo, m, hi in zip(curve["low"], curve["mean"], curve["high"]))
