"""Per-assignment checks: the grader-side half of every autograded test cell.

Contract of a checks module `grading/checks/<assignment>.py` (it lives outside solutions/,
because nbgrader's generate_assignment copies every other file of solutions/<a>/ into the
release):

    from grading.checks import Checks
    from grading.verdicts import call, tensor

    checks = Checks()                                   # the module must define `checks`

    @checks("test_power_hidden", hidden=True)           # one function per test cell's grade_id
    def power_hidden(p, rng):
        lr, s, c = rng.uniform(1e-3, 1), rng.uniform(2, 500), rng.uniform(0.5, 3)
        for t in (0, int(rng.integers(1, 2000))):
            p.close("power_schedule with c != 1 and an integer tensor step",
                    lr / (1 + t / s) ** c, call("power_schedule", tensor(t), lr, s, c))

- `p` is an empty `grading.verdicts.Probe` (hidden or not, as declared); `rng` a
  `numpy.random.Generator` seeded from the grading seed, the student, the cell and the
  submission's content. Draw every hidden parameter from `rng` (never from the clock or a
  global generator) so that a rerun of the same submission sees the same inputs.
- Fill `p` with steps (`p.run(code)`), observations (`p.value(expr)`) and expectations
  (`p.close`, `p.equal`, `p.expect` with a custom test). Expected values are computed here, in
  the grader, by plain Python/NumPy reference code: they never enter the kernel. Code sent to
  the kernel may use the student's names (globals of the notebook), `np`, `keras` (imported
  afresh by the probe) and locals of earlier steps; build calls with `call()`/`tensor()` so
  literals are exact. Use only the public names the task text asks for.
- Expectations in different `part=`s earn equal shares of the cell's points (partial credit
  for independent parts); within a part, one failure loses the part.
- For a hidden check, write `what` without parameter values ("power_schedule with c != 1"):
  messages of hidden probes never show inputs, expected or observed values.
- Every autograded test cell of the assignment must have a check; the batch refuses to start
  otherwise. A check must accept every answer the task text allows (tolerances like the
  notebook's own tests, float32 arithmetic, Python or tensor results) and catch every typical
  mistake: tests/submissions/<assignment>/ and scripts/mutation_score.py hold it to that.

The notebook's own test cells stay for students (Colab) and for the plain `nbgrader autograde`
workflow; `python -m grading` replaces them by probes and decides with these checks.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..verdicts import Probe


@dataclass
class Check:
    grade_id: str
    hidden: bool
    build: Callable[[Probe, np.random.Generator], None]

    def probe(self, rng: np.random.Generator) -> Probe:
        p = Probe(hidden=self.hidden)
        self.build(p, rng)
        if not p.expectations:
            raise ValueError(f"check {self.grade_id} has no expectations")
        return p


class Checks(dict):
    """grade_id -> Check; used as a decorator: `@checks("test_x", hidden=True)`."""

    def __call__(self, grade_id: str, hidden: bool = False):
        def register(build):
            if grade_id in self:
                raise ValueError(f"two checks for {grade_id}")
            self[grade_id] = Check(grade_id, hidden, build)
            return build
        return register


def load(assignment: str) -> Checks | None:
    """The assignment's checks, or None when it has no checks module (legacy in-kernel tests)."""
    try:
        module = importlib.import_module(f"{__name__}.{assignment}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{assignment}":
            return None
        raise
    checks = getattr(module, "checks", None)
    if not isinstance(checks, Checks):
        raise TypeError(f"{module.__name__} must define `checks = Checks()`")
    return checks
