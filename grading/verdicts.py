"""Verdicts decided by the grader: what a check asks the kernel, and how the answer is judged.

A check (see `grading/checks/__init__.py` for the contract) fills a `Probe`:

    p.run("model = tiny_model(0.01)")                        # a step run in the kernel
    p.close("power_schedule with c != 1", want,              # `want` stays in the grader
            call("power_schedule", tensor(t), lr, s, c))     # the kernel evaluates this call
    p.equal("the callback's class", True, "isinstance(cb, keras.callbacks.ReduceLROnPlateau)")
    p.check("recorded rates", "rates", lambda obs: None if ok(obs) else "wrong rates")

`Probe.source()` is the probe cell (grading.probes) and `Probe.judge(report)` the `Verdict`: the
fraction of the cell's points earned and the grader's messages. Expectations are grouped in
*parts* (`part=`): each part with no failed expectation earns an equal share of the points, so a
cell with independent parts gives partial credit. A *hidden* probe's messages name what failed in
words the check wrote, never the inputs, the expected or the observed values, and show only the
type of a builtin exception (a student could otherwise smuggle hidden data into its feedback).

`write_verdict` replaces a test cell's outputs by the grader's: a pass is a short stdout message;
partial credit is nbgrader's form (an `execute_result` whose text/plain is the points, see
nbgrader.utils.determine_grade) plus the message; a fail is an error output with the message.
"""
from __future__ import annotations

import builtins
import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable

import nbformat
import numpy as np

from .probes import probe_source

BUILTIN_ERRORS = {name for name in dir(builtins)
                  if isinstance(getattr(builtins, name), type)
                  and issubclass(getattr(builtins, name), BaseException)}
MAX_MESSAGES = 4


class Code(str):
    """Python source for the probe, inserted as is (its repr is itself)."""

    def __repr__(self) -> str:
        return str(self)


def tensor(value, dtype: str | None = None) -> Code:
    """A scalar or array argument passed to the student's code as a Keras tensor."""
    literal = repr(_plain(value))
    return Code(f"keras.ops.convert_to_tensor({literal}" + (f", dtype={dtype!r})" if dtype else ")"))


def _plain(value):
    """Python scalars/lists for repr() (NumPy types have another repr)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def call(function: str, *args, **kwargs) -> Code:
    """Source of a call of the student's `function` with literal arguments."""
    parts = [repr(_plain(a)) for a in args] + [f"{k}={_plain(v)!r}" for k, v in kwargs.items()]
    return Code(f"{function}({', '.join(parts)})")


@dataclass
class Observation:
    """What the kernel reported for one key: a value (plain data) and its kind, or an error."""
    value: Any = None
    kind: str = ""
    error: str | None = None
    missing: bool = False

    @classmethod
    def of(cls, report: dict, key: str) -> "Observation":
        entry = report.get(key)
        if entry is None:
            return cls(missing=True)
        return cls(value=entry.get("value"), kind=entry.get("kind", ""), error=entry.get("error"))

    def problem(self) -> str | None:
        """Why there is no value to compare (None when there is one)."""
        if self.missing:
            return "not reached (an earlier step failed)"
        if self.error:
            name = self.error if self.error in BUILTIN_ERRORS else "an exception"
            return f"raised {name}"
        return None


@dataclass
class Expectation:
    key: str
    what: str
    part: str
    test: Callable[[Observation], str | None]   # None when fine, else what was wrong (values)
    hidden_text: str = "wrong value"            # what a hidden message says instead


@dataclass
class Verdict:
    fraction: float
    messages: list[str]


def as_numbers(value) -> np.ndarray | None:
    """An observed value as a float array (None when it is not numeric)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr


def _fmt(value) -> str:
    arr = as_numbers(value)
    if arr is not None and arr.ndim == 0:
        return f"{float(arr):.6g}"
    if arr is not None and arr.size <= 12:
        return np.array2string(arr, precision=6, separator=", ")
    text = repr(value)
    return text if len(text) < 120 else text[:117] + "..."


@dataclass
class Probe:
    """The observations one test cell makes in the kernel and the grader's expectations."""
    hidden: bool = False
    steps: list[tuple[str, str]] = field(default_factory=list)
    expectations: list[Expectation] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)   # literals of hidden inputs (for redaction)

    # ------------------------------------------------------------------ what the kernel runs
    def run(self, code: str, key: str | None = None) -> str:
        """A step of statements run in the kernel; an exception in it is recorded under `key`."""
        key = key or f"step{len(self.steps)}"
        self.steps.append((key, code))
        self._remember(code)
        return key

    def value(self, expr: str, key: str | None = None) -> str:
        """Observe the value of an expression (evaluated in the kernel) under `key`."""
        key = key or f"v{len(self.steps)}"
        self.steps.append((key, f"record({key!r}, lambda: ({expr}))"))
        self._remember(expr)
        return key

    def _remember(self, code: str) -> None:
        if self.hidden:
            import re
            for lit in re.findall(r"(?<![\w.])\d+\.\d{4,}(?:e-?\d+)?", code):
                self.secrets.add(lit)
                if "." in lit and len(lit) > 8:
                    self.secrets.add(lit[:8])  # also as printed with fewer digits

    # ------------------------------------------------------------------ what the grader expects
    def expect(self, what: str, key_or_expr: str, test: Callable[[Observation], str | None],
               part: str = "all", hidden_text: str = "wrong value") -> None:
        """A custom expectation: `test(observation)` returns None when right, else why not."""
        key = key_or_expr if any(k == key_or_expr for k, _ in self.steps) else self.value(key_or_expr)
        self.expectations.append(Expectation(key, what, part, test, hidden_text))

    def close(self, what: str, expected, expr: str, rtol: float = 1e-4, atol: float = 1e-9,
              part: str = "all") -> None:
        """The observed number (or array) is within rtol/atol of `expected` (same shape)."""
        want = np.asarray(expected, dtype=np.float64)

        def test(obs: Observation) -> str | None:
            got = as_numbers(obs.value)
            if got is None or got.shape != want.shape:
                return f"expected {_fmt(expected)}, got {_fmt(obs.value)}"
            if not np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=False):
                return f"expected {_fmt(expected)}, got {_fmt(obs.value)}"
            return None
        self.expect(what, expr, test, part)

    def equal(self, what: str, expected, expr: str, part: str = "all") -> None:
        """The observed value equals `expected` exactly (plain data)."""
        def test(obs: Observation) -> str | None:
            return None if obs.value == expected else f"expected {_fmt(expected)}, got {_fmt(obs.value)}"
        self.expect(what, expr, test, part)

    # ------------------------------------------------------------------ the cell and the verdict
    def source(self) -> str:
        return probe_source(self.steps)

    def judge(self, report: dict) -> Verdict:
        parts: dict[str, list[str]] = {}
        for exp in self.expectations:
            failures = parts.setdefault(exp.part, [])
            obs = Observation.of(report, exp.key)
            why = obs.problem()
            if why is None:
                try:
                    detail = exp.test(obs)
                except Exception as exc:  # a check must not crash on odd data: it is a fail
                    detail = f"unusable value ({type(exc).__name__})"
                if detail is not None:
                    why = exp.hidden_text if self.hidden else detail
            if why is not None:
                failures.append(f"{exp.what}: {why}")
        if not parts:
            raise ValueError("a check without expectations")
        passed = sum(1 for f in parts.values() if not f)
        messages = []
        for name, failures in parts.items():
            if failures:
                extra = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
                messages.append(failures[0] + extra)
        return Verdict(passed / len(parts), messages[:MAX_MESSAGES])


def failed(message: str) -> Verdict:
    return Verdict(0.0, [message])


# ---------------------------------------------------------------------------- cells and seeds
def rng_for(seed: str, student: str, grade_id: str, digest: str) -> np.random.Generator:
    """The hidden parameters' generator: per grading seed, student, cell and submission content
    (a resubmission gets new parameters, so parameters seen once are worth nothing)."""
    h = hashlib.sha256(f"{seed}\0{student}\0{grade_id}\0{digest}".encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:16], "little"))


def write_verdict(cell, verdict: Verdict, points: float, hidden: bool) -> None:
    """Replace the cell's outputs by the grader's verdict (nbgrader scores what is written)."""
    earned = round(points * min(max(verdict.fraction, 0.0), 1.0), 3)
    kind = "hidden tests" if hidden else "tests"
    if verdict.fraction >= 1.0:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                               text=f"Grader: {kind} passed ({points:g}/{points:g} points).\n")]
        return
    text = "\n".join(f"- {m}" for m in verdict.messages)
    if earned > 0:
        cell.outputs = [
            nbformat.v4.new_output("stream", name="stdout",
                                   text=f"Grader: {earned:g}/{points:g} points. Failed:\n{text}\n"),
            nbformat.v4.new_output("execute_result", data={"text/plain": f"{earned:g}"},
                                   execution_count=cell.get("execution_count")),
        ]
        return
    cell.outputs = [nbformat.v4.new_output(
        "error", ename="GraderVerdict", evalue=f"{kind} failed (0/{points:g} points)",
        traceback=[f"Grader: {kind} failed (0/{points:g} points):", *[f"- {m}" for m in verdict.messages]])]


def redact(cell, secrets: set[str]) -> bool:
    """Drop outputs of a non-test cell that quote a hidden input literally; True if any was."""
    if not secrets or cell.get("cell_type") != "code":
        return False
    kept, dropped = [], False
    for out in cell.get("outputs", []):
        text = str(out.get("text", "")) + str(out.get("evalue", "")) + " ".join(out.get("traceback") or [])
        for key, value in (out.get("data") or {}).items():
            text += key + (value if isinstance(value, str) else str(value))
        if any(s in text for s in secrets):
            dropped = True
            continue
        kept.append(out)
    if dropped:
        kept.append(nbformat.v4.new_output(
            "stream", name="stdout", text="[output removed by the grader: it quoted hidden test data or a grading probe]\n"))
        cell.outputs = kept
    return dropped


