"""Grader-side verdicts without a kernel: probe reports parsed defensively, judged, written in
the form nbgrader scores (grading/probes.py, grading/checks/, grading/judge.py)."""
import json

import nbformat
import numpy as np
import pytest
from nbgrader.utils import determine_grade

from grading.checks import Probe, call, load, tensor
from grading.judge import rng_for, write_verdict
from grading.probes import MIME, ReportError, read_report


def _report(results, **extra):
    return [nbformat.v4.new_output("display_data", data={MIME: {"v": 1, "results": results, **extra}})]


def _test_cell(points=2):
    cell = nbformat.v4.new_code_cell("x")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "t", "points": points,
                                 "locked": True, "schema_version": 3}
    return cell


def test_report_must_be_single_and_well_formed():
    good = {"a": {"value": [1.0, 2.0], "kind": "list"}, "b": {"error": "TypeError"}}
    assert read_report(_report(good))["a"]["value"] == [1.0, 2.0]
    with pytest.raises(ReportError, match="no observations"):
        read_report([nbformat.v4.new_output("stream", name="stdout", text="tests passed")])
    with pytest.raises(ReportError, match="more than one"):
        read_report(_report(good) + _report(good))
    with pytest.raises(ReportError):
        read_report(_report({"a": "not a dict"}))
    with pytest.raises(ReportError, match="too large"):
        read_report(_report({"a": {"value": "x" * 3_000_000}}))
    deep = 1.0
    for _ in range(30):
        deep = [deep]
    with pytest.raises(ReportError, match="deeply"):
        read_report(_report({"a": {"value": deep}}))


def test_calls_carry_exact_literals():
    assert call("f", 3, 0.1, s=2.5) == "f(3, 0.1, s=2.5)"
    assert call("f", tensor(np.int64(7))) == "f(keras.ops.convert_to_tensor(7))"


def test_parts_give_partial_credit_and_hidden_messages_hide_values():
    p = Probe(hidden=True)
    p.close("first part", 0.123456789, "f(0.98765432)", part="one")
    p.close("second part", 2.0, "g()", part="two")
    keys = [k for k, _ in p.steps]
    verdict = p.judge({keys[0]: {"value": 0.123456789}, keys[1]: {"value": 3.5}})
    assert verdict.fraction == 0.5
    assert verdict.messages == ["second part: wrong value"]
    assert "0.98765432" in p.secrets
    errors = p.judge({keys[0]: {"error": "SecretClass_0_98765"}, keys[1]: {"error": "ZeroDivisionError"}})
    assert errors.fraction == 0 and errors.messages == ["first part: raised an exception",
                                                        "second part: raised ZeroDivisionError"]


def test_visible_messages_show_values():
    p = Probe(hidden=False)
    p.close("f(1)", 0.5, "f(1)")
    verdict = p.judge({p.steps[0][0]: {"value": 0.25}})
    assert verdict.fraction == 0 and "expected 0.5, got 0.25" in verdict.messages[0]


@pytest.mark.parametrize("fraction, points, expected", [(1.0, 2, 2.0), (0.5, 2, 1.0), (0.0, 2, 0.0)])
def test_written_verdict_is_scored_by_nbgrader(fraction, points, expected):
    from grading.checks import Verdict
    cell = _test_cell(points)
    write_verdict(cell, Verdict(fraction, [] if fraction == 1 else ["g: wrong value"]), points, hidden=True)
    assert determine_grade(cell)[0] == expected
    assert "g: wrong value" in json.dumps(cell.outputs) or fraction == 1


def test_schedules_checks_are_seeded_per_student_and_content():
    checks = load("schedules")
    a = checks["test_power_hidden"].probe(rng_for("1", "alice", "test_power_hidden", "d1")).source()
    assert a == checks["test_power_hidden"].probe(rng_for("1", "alice", "test_power_hidden", "d1")).source()
    assert a != checks["test_power_hidden"].probe(rng_for("1", "alice", "test_power_hidden", "d2")).source()
    assert a != checks["test_power_hidden"].probe(rng_for("1", "bob", "test_power_hidden", "d1")).source()
    for gid, check in checks.items():
        source = check.probe(rng_for("1", "alice", gid, "d1")).source()
        compile(source, gid, "exec")
        assert "COURSE_GRADING_SEED" not in source and "expect" not in source.replace("expected", "")
