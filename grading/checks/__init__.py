"""The check author's whole API: what a check asks the kernel, what it expects, and `load`.

A checks module `grading/checks/<assignment>.py` is the grader-side half of every autograded test
cell of its assignment (it lives outside solutions/, because nbgrader's generate_assignment copies
every other file of solutions/<a>/ into the release; a course root other than this repository may
keep its own in its `grading/checks/`). It imports from this module only:

    from grading.checks import Checks, call, tensor

    checks = Checks()                                   # the module must define `checks`

    @checks("test_power_hidden", hidden=True)           # one function per test cell's grade_id
    def power_hidden(p, rng):
        lr, s, c = rng.uniform(1e-3, 1), rng.uniform(2, 500), rng.uniform(0.5, 3)
        for t in (0, int(rng.integers(1, 2000))):
            p.close("power_schedule with c != 1 and an integer tensor step",
                    lr / (1 + t / s) ** c, call("power_schedule", tensor(t), lr, s, c))

- `p` is an empty `Probe` (hidden or not, as declared); `rng` a `numpy.random.Generator` seeded
  from the grading seed, the student, the cell and the submission's content (grading.judge).
  Draw every hidden parameter from `rng` (never from the clock or a global generator) so that a
  rerun of the same submission sees the same inputs.
- Fill `p` with steps (`p.run(code)`), observations (`p.value(expr)`) and expectations
  (`p.close`, `p.equal`, `p.expect` with a custom test). Expected values are computed here, in
  the grader, by plain Python/NumPy reference code: they never enter the kernel. Code sent to
  the kernel may use the student's names (globals of the notebook), `np`, `keras` (imported
  afresh by the probe) and locals of earlier steps; build calls with `call()`/`tensor()` so
  literals are exact. Use only the public names the task text asks for.

      p.run("model = tiny_model(0.01)")                        # a step run in the kernel
      p.close("power_schedule with c != 1", want,              # `want` stays in the grader
              call("power_schedule", tensor(t), lr, s, c))     # the kernel evaluates this call
      p.equal("the callback's class", True, "isinstance(cb, keras.callbacks.ReduceLROnPlateau)")
      p.expect("recorded rates", "rates", lambda obs: None if ok(obs) else "wrong rates")

- Expectations in different `part=`s earn equal shares of the cell's points (partial credit
  for independent parts); within a part, one failure loses the part. `Probe.judge(report)` gives
  the `Verdict`: the fraction of the points earned and the grader's messages.
- No point for a constant: every part needs at least one expectation whose inputs are drawn from
  `rng` (a fixed example goes in the same part as the same call on drawn inputs), and a test
  compares with values computed here, never two values the kernel reports about itself
  (tests/test_check_inputs.py builds every check from two draws and compares the parts). A
  custom `p.expect` may give a `schema=` (see `schema_problem`); `close` and `equal` have one.
- For a hidden check, write `what` without parameter values ("power_schedule with c != 1")
  and the same for every draw (never f"mode {mode!r}" for a drawn mode): messages of hidden
  probes name what failed in words the check wrote, never the inputs, a drawn choice, the count
  of drawn cases, the expected or the observed values, and show only the type of a builtin
  exception (a student could otherwise learn the draw space, or smuggle hidden data into its
  feedback). tests/test_check_inputs.py builds every hidden check from several draws and
  compares its wording.
- A check may give its cell one figure for the student's feedback page: `p.figure_from(build)`,
  where `build(report)` returns a chart (`chart`, `series`, `agreement`: grading/figures.py) of
  the student's values against the right ones on the notebook's OWN example (observed in steps
  after every expectation's, so verdicts stay the same); never a hidden input or a hidden
  check's expected value (tests/test_figures.py builds every figure from two draws).
- Every autograded test cell of the assignment must have a check; the batch refuses to start
  otherwise. A check must accept every answer the task text allows (tolerances like the
  notebook's own tests, float32 arithmetic, Python or tensor results) and catch every typical
  mistake: tests/submissions/<assignment>/ and scripts/mutation_score.py hold it to that.

The notebook's own test cells stay for students (Colab) and for the plain `nbgrader autograde`
workflow; `python -m grading` replaces them by probe cells (grading/probes.py) and decides with
these checks (grading/judge.py).
"""
from __future__ import annotations

import builtins
import hashlib
import importlib
import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import figures
from ..figures import agreement, chart, series  # noqa: F401 (a check's feedback figure)
from ..probes import probe_source
from ..runtime import datasets_dir, grading_cache  # noqa: F401 (for checks that read reference data)

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


# ------------------------------------------------------------------------------ schemas
# What an observation must look like before its test sees it: None (any plain data), "number",
# "int", "bool", "str", ("array", shape) (numbers of that shape; None in the shape: any length),
# ("list", item schema, length or None), ("dict", {key: schema}) (those keys at least).
Schema = Any


def schema_problem(value, schema: Schema) -> str | None:
    """Why `value` does not have the shape `schema` asks for (None when it has)."""
    if schema is None:
        return None
    if schema in ("number", "int"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (
            schema == "number" or isinstance(value, int))
        return None if ok else f"expected a {'number' if schema == 'number' else 'whole number'}"
    if schema in ("bool", "str"):
        return None if isinstance(value, {"bool": bool, "str": str}[schema]) else f"expected a {schema}"
    kind = schema[0]
    if kind == "array":
        arr = None if isinstance(value, (bool, str, dict)) else as_numbers(value)
        if arr is None or arr.ndim != len(schema[1]) or any(
                want is not None and got != want for got, want in zip(arr.shape, schema[1])):
            return f"expected numbers of shape {tuple(schema[1])}"
        return None
    if kind == "list":
        if not isinstance(value, list) or (schema[2] is not None and len(value) != schema[2]):
            return "expected a list" + (f" of {schema[2]}" if schema[2] is not None else "")
        return next((p for p in (schema_problem(v, schema[1]) for v in value) if p), None)
    if kind == "dict":
        if not isinstance(value, dict) or not all(k in value for k in schema[1]):
            return f"expected a dict with {sorted(schema[1])}"
        return next((p for p in (schema_problem(value[k], s) for k, s in schema[1].items()) if p), None)
    raise ValueError(f"unknown schema {schema!r}")


def schema_of(expected) -> Schema:
    """The schema of an exact expected value (for `Probe.equal`)."""
    if isinstance(expected, bool):
        return "bool"
    if isinstance(expected, (int, float)):
        return "number"
    if isinstance(expected, str):
        return "str"
    if isinstance(expected, (list, tuple)):
        return ("list", None, len(expected))
    return None


def fingerprint(obj, depth: int = 0) -> str:
    """What an expectation depends on, as text: values, and the values a test function closes
    over (so two probes built from different draws can be compared: tests/test_check_inputs.py)."""
    if depth > 6:
        return "..."
    if callable(obj) and hasattr(obj, "__code__"):
        cells = [c.cell_contents for c in (obj.__closure__ or ()) if _has_contents(c)]
        return "fn(" + ",".join(fingerprint(v, depth + 1) for v in [*cells, *(obj.__defaults__ or ())]) + ")"
    if isinstance(obj, np.ndarray):
        return f"{obj.dtype}{obj.shape}:" + hashlib.sha256(np.ascontiguousarray(obj).tobytes()).hexdigest()
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(fingerprint(v, depth + 1) for v in obj) + "]"
    if isinstance(obj, dict):
        return "{" + ",".join(f"{k!r}:{fingerprint(v, depth + 1)}" for k, v in obj.items()) + "}"
    return repr(obj) if isinstance(obj, (int, float, str, bool, type(None), np.generic)) else type(obj).__name__


def _has_contents(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


@dataclass
class Expectation:
    key: str
    what: str
    part: str
    test: Callable[[Observation], str | None]   # None when fine, else what was wrong (values)
    hidden_text: str = "wrong value"            # what a hidden message says instead
    schema: Schema = None                       # checked before `test` sees the value
    depends: str = ""                           # fingerprint of the expected value and the key's code
    want: Any = None                            # the exact or numeric expected value (close, equal)


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
    figure: Callable[[dict], dict] | None = None     # report -> the feedback figure (grading.figures)

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
            for lit in re.findall(r"(?<![\w.])\d+\.\d{4,}(?:e-?\d+)?", code):
                self.secrets.add(lit)
                if "." in lit and len(lit) > 8:
                    self.secrets.add(lit[:8])  # also as printed with fewer digits

    # ------------------------------------------------------------------ what the grader expects
    def expect(self, what: str, key_or_expr: str, test: Callable[[Observation], str | None],
               part: str = "all", hidden_text: str = "wrong value", schema: Schema = None,
               _expected=None) -> None:
        """A custom expectation: `test(observation)` returns None when right, else why not;
        `schema` (see `schema_problem`): the value's shape, checked first."""
        key = key_or_expr if any(k == key_or_expr for k, _ in self.steps) else self.value(key_or_expr)
        code = next(c for k, c in self.steps if k == key)
        depends = fingerprint(test if _expected is None else _expected) + "|" + code
        self.expectations.append(Expectation(key, what, part, test, hidden_text, schema, depends))

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
        self.expect(what, expr, test, part, schema=("array", want.shape), _expected=want)
        self.expectations[-1].want = want.tolist()

    def equal(self, what: str, expected, expr: str, part: str = "all") -> None:
        """The observed value equals `expected` exactly (plain data)."""
        def test(obs: Observation) -> str | None:
            return None if obs.value == expected else f"expected {_fmt(expected)}, got {_fmt(obs.value)}"
        self.expect(what, expr, test, part, schema=schema_of(expected), _expected=[expected])
        self.expectations[-1].want = expected

    def figure_from(self, build: Callable[[dict], dict]) -> None:
        """The cell's figure on the student's feedback page: `build(report)` returns a chart
        (`chart`, `series`: grading/figures.py) drawn from observations of VISIBLE inputs only,
        the notebook's own examples; never a hidden input or a hidden check's expected value.
        Observe what it needs in steps after every expectation's, so verdicts stay the same."""
        self.figure = build

    def figure_data(self, report: dict) -> dict | None:
        """The chart of this cell for `report` (None without one, or when building it failed:
        a figure explains a verdict and never changes one)."""
        if self.figure is None:
            return None
        try:
            return figures.checked(self.figure(report))
        except Exception:
            return None

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
                    detail = schema_problem(obs.value, exp.schema) or exp.test(obs)
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
                # A hidden part draws how many cases it tries: their count would tell the draw.
                more = "other cases" if self.hidden else f"{len(failures) - 1} more"
                extra = f" (and {more})" if len(failures) > 1 else ""
                messages.append(failures[0] + extra)
        return Verdict(passed / len(parts), messages[:MAX_MESSAGES])


def failed(message: str) -> Verdict:
    return Verdict(0.0, [message])


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


def module_file(assignment: str, course_root: Path | None = None) -> Path | None:
    """The checks module of an assignment: the course root's own `grading/checks/<assignment>.py`
    when it has one (a course other than this repository), else this folder's; None if neither."""
    for folder in ([Path(course_root) / "grading" / "checks"] if course_root else []) + [Path(__file__).parent]:
        if (folder / f"{assignment}.py").is_file():
            return folder / f"{assignment}.py"
    return None


def load(assignment: str, course_root: Path | None = None) -> Checks:
    """The assignment's checks (see `module_file`); LookupError when it has none."""
    path = module_file(assignment, course_root)
    if path is None:
        raise LookupError(f"no checks module for {assignment}")
    name = f"{__name__}.{assignment}"
    if path == Path(__file__).parent / path.name:
        module = importlib.import_module(name)
    else:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    checks = getattr(module, "checks", None)
    if not isinstance(checks, Checks):
        raise TypeError(f"{module.__name__} must define `checks = Checks()`")
    return checks
