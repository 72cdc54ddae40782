"""No point for a constant: every graded part of every check depends on inputs drawn per submission.

A part whose expected values are the same for every submission (a visible example, the fixed
"example" half of a hidden check, a determinism-only comparison) could be earned by a kernel that
forges the probe's report without any work. So for every check of every assignment, two probes
built from two different draws must differ in at least one expectation of EVERY part: in its
expected value, in what its test compares with, or in the kernel code of its observation
(`grading.checks.fingerprint`). A check whose answer is a fact of the task (a table the student
writes, not a function of inputs) is listed in FACTS with the reason. No kernel runs here.
"""
import numpy as np
import pytest

from grading.checks import load

ASSIGNMENTS = ("schedules", "initializers", "cifar10")
# Checks whose expected answer is a fact the student must know, not a function of any input.
FACTS = {("initializers", "test_activations"): "the initializer each activation calls for: the answer is "
                                                "the table itself, so writing it is the work"}


def _parts(check, seed):
    probe = check.probe(np.random.default_rng(seed))
    parts = {}
    for exp in probe.expectations:
        parts.setdefault(exp.part, []).append(exp.depends)
    return parts


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_part_depends_on_drawn_inputs(assignment):
    fixed = []
    for gid, check in load(assignment).items():
        if (assignment, gid) in FACTS:
            continue
        first, second = _parts(check, 1), _parts(check, 2)
        assert first.keys() == second.keys(), f"{gid}: the parts depend on the draw"
        fixed += [f"{gid}:{part}" for part in first if first[part] == second[part]]
    assert not fixed, f"parts with the same expectations for every submission: {fixed}"


def test_fingerprint_sees_values_a_test_closes_over():
    from grading.checks import fingerprint
    a, b = np.arange(3), np.arange(3) + 1
    assert fingerprint(lambda obs, w=a: w) != fingerprint(lambda obs, w=b: w)
    assert fingerprint((lambda x: lambda obs: x)(a)) != fingerprint((lambda x: lambda obs: x)(b))
    assert fingerprint(lambda obs: None) == fingerprint(lambda obs: None)


def _hidden_wording(check, seed):
    """What a hidden check can say, built from one draw: its (part, what, hidden text) triples,
    and its messages when nothing was observed (every expectation failed)."""
    probe = check.probe(np.random.default_rng(seed))
    texts = {(exp.part, exp.what, exp.hidden_text) for exp in probe.expectations}
    return texts, probe.judge({}).messages


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_hidden_messages_name_no_draw(assignment):
    """A hidden check's messages are the same whatever was drawn: they name no random choice
    (which mode, which case), no drawn number and no count of drawn cases, so a student cannot
    learn the draw space from the feedback (issue 25)."""
    named = []
    for gid, check in load(assignment).items():
        if check.hidden:
            first = _hidden_wording(check, 1)
            named += [f"{gid} (seed {seed})" for seed in range(2, 10) if _hidden_wording(check, seed) != first]
    assert not named, f"hidden messages that depend on the draw: {named}"
