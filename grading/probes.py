"""Probe cells: the kernel side of a grader-decided verdict.

For every autograded test cell (each has a check in `grading/checks/<assignment>.py`), the
grader replaces the cell's source, after nbgrader's sanitizing and before the notebook goes
to the sandbox, by a *probe cell* built here. A probe cell

- calls the student's functions on the inputs the grader chose (hidden parameters appear only as
  these inputs: no expected value, no reference code, no seed is ever in it);
- converts what came back to plain JSON data (numbers, strings, lists, dicts; tensors and arrays
  become nested lists) and catches every exception per observation, reporting only its type;
- publishes everything as ONE output with the media type `MIME` (`application/vnd.tdnn.probe+json`).

The grader reads back only that output (`read_report`: bounded in size and depth, parsed
defensively) and judges it outside the kernel (`grading.judge`). A probe cell looks up no name
in the notebook (BOOTSTRAP): its steps run in a clean namespace (RUNNER) with the interpreter's
genuine builtins, `numpy` (and `keras`, once the notebook has loaded a tensor library)
imported afresh and, per step, only the student's names
that step uses, so a notebook-global `isinstance`, `__builtins__` or `np` changes nothing; a
student who breaks the import machinery, a builtin or IPython's display only loses the report,
and a missing report is a failed cell. Nothing the kernel reports is ever taken as a verdict.
"""
from __future__ import annotations

import builtins
import json
import math
import textwrap

MIME = "application/vnd.tdnn.probe+json"
PROBE_MARKER = "Grading probe, written by python -m grading"
MAX_REPORT_BYTES = 2_000_000   # a report larger than this is refused (the cell fails)
MAX_DEPTH = 8                  # nesting of lists/dicts in one observed value
MAX_ITEMS = 20_000             # numbers in one observed array
BUILTIN_NAMES = frozenset(dir(builtins)) | {"display", "get_ipython"}

# The probe cell's own lines, run as a function body in the notebook's namespace. They look up
# NO name (a notebook-global `exec`, `isinstance` or `__builtins__` would otherwise be the one
# used): they find the interpreter's builtins module through the import machinery's globals, keep
# its genuine entries only (builtin functions bound to that module, static built-in types, the
# constants) and run RUNNER with `exec` in a fresh namespace whose builtins are that copy. A
# builtin the student replaced is left out: the observations that need it fail.
BOOTSTRAP = """\
_obj = ().__class__.__base__
for _c in _obj.__subclasses__():
    if _c.__name__ == 'BuiltinImporter' and _c.__module__ == '_frozen_importlib':
        break
_g = _c.__dict__['find_spec'].__func__.__globals__
_bd, _B = _g['__builtins__'], _g['sys'].modules['builtins']
_ty = _obj.__class__
_fn = _ty([].append)
_P = {}
for _k, _v in _bd.items():
    if _ty(_v) is _fn:  # `open` is io's, bound to the _io module
        _good = _v.__name__ == _k and (_v.__self__ is _B or _k == 'open' and _ty(_v.__self__) is _ty(_B)
                                       and _v.__self__.__name__ in ('io', '_io'))
    elif _ty(_v) is _ty:
        _good = _v.__flags__ & 512 == 0 and _v.__module__ == 'builtins'
    else:
        _good = _k in ('Ellipsis', 'NotImplemented', '__debug__') and _ty(_v).__module__ == 'builtins'
    if _good and _B.__dict__ is _bd:
        _P[_k] = _v
_P['exec'](_runner, {'__builtins__': _P, '__name__': '__grading_probe__', '_user': (lambda: 0).__globals__})
"""

# Run by the bootstrap in the clean namespace: only genuine builtins, `np` and `keras` imported
# afresh, the probe's helpers, and per step only the student's names that step's code uses
# (never a name of a builtin or of the probe's own helpers and locals).
RUNNER = r"""
import math as _m
import sys as _sys
import numpy as np
# Keras only where the notebook has loaded a tensor library (importing TensorFlow costs a
# kernel about 5 s of CPU): a notebook that never loaded one holds no tensor to convert.
keras = None
_mods = _sys.modules
if "keras" in _mods or "tensorflow" in _mods or "jax" in _mods or "torch" in _mods:
    try:
        import keras
    except Exception:  # the probe still reports what it can
        keras = None
_results = {}
_own = set(globals())

def _data(x, depth=0):
    if depth > %(depth)d:
        return None
    if x is None or isinstance(x, (bool, str)):
        return x if not isinstance(x, str) else x[:200]
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        return float(x) if _m.isfinite(x) else repr(float(x))
    if isinstance(x, dict):
        return {str(k)[:100]: _data(v, depth + 1) for k, v in list(x.items())[:200]}
    if isinstance(x, (list, tuple)):
        return [_data(v, depth + 1) for v in list(x)[:%(items)d]]
    try:
        if keras is not None and not isinstance(x, np.ndarray):
            x = keras.ops.convert_to_numpy(x)
        a = np.asarray(x)
    except Exception:
        return None
    if a.dtype.kind not in "biuf" or a.size > %(items)d:
        return None
    a = a.astype(np.float64) if a.dtype.kind == "f" else a.astype(np.int64) if a.dtype.kind in "iu" else a
    if a.ndim == 0:
        return _data(a.item(), depth)
    return _data(a.tolist(), depth)

def _kind(x):
    if x is None or type(x) in (bool, int, float, str, list, tuple, dict):
        return type(x).__name__
    if isinstance(x, np.ndarray):
        return "ndarray"
    if isinstance(x, np.generic):
        return "numpy_scalar"
    try:
        if keras is not None and keras.ops.is_tensor(x):
            return "tensor"
    except Exception:
        pass
    return "object"

def _error(exc):
    return {"error": type(exc).__name__[:60]}

def record(key, thunk):
    # Observe thunk(): its value as data, its kind, or the type of the exception it raised.
    try:
        value = thunk()
    except Exception as exc:
        _results[key] = _error(exc)
        return None
    try:
        _results[key] = {"value": _data(value), "kind": _kind(value)}
    except Exception as exc:
        _results[key] = _error(exc)
    return value

def _names(code):
    found = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, type(_names.__code__)):
            found |= _names(const)
    return found

def _step(key, source):
    code = compile(source, "<grading probe>", "exec")
    g = globals()
    for name in _names(code):
        if name not in g and name not in _BUILTIN_NAMES and name not in _own and name in _user:
            g[name] = _user[name]
    exec(code, g)

for _key, _source in _STEPS:
    try:
        _step(_key, _source)
    except Exception as _exc:
        _results[_key] = _error(_exc)
from IPython.display import display
display({%(mime)r: {"v": 1, "results": _results}}, raw=True)
"""


def probe_source(steps: list[tuple[str, str]]) -> str:
    """The source of a probe cell.

    `steps`: (key, code) pairs run in order in one clean namespace (see RUNNER); an exception in
    a step is recorded under `key` (as {"error": type}) and the next steps still run. Steps
    observe values with `record(key, lambda: expression)`; names they assign are shared by the
    later steps."""
    runner = (RUNNER % {"depth": MAX_DEPTH, "items": MAX_ITEMS, "mime": MIME}).replace(
        "_STEPS", repr([(key, textwrap.dedent(code).strip("\n") or "pass") for key, code in steps]), 1)
    # a builtin's name is never taken from the notebook, even one the student deleted or replaced
    runner = f"_BUILTIN_NAMES = {sorted(BUILTIN_NAMES)!r}\n" + runner
    body = f"_runner = {runner!r}\n" + BOOTSTRAP
    return (f"# {PROBE_MARKER}: it reports what your code returns;\n"
            "# the grader decides the result outside this notebook.\n"
            "def __grading_probe():\n" + textwrap.indent(body, "    ")
            + "__grading_probe()\ndel __grading_probe\n")


class ReportError(ValueError):
    """The probe output of a cell is missing, duplicated, too large or malformed."""


def _check_data(value, depth=0) -> None:
    if depth > MAX_DEPTH + 2:
        raise ReportError("observed value nested too deeply")
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ReportError("non-finite number in the report")
        return
    if isinstance(value, list):
        for v in value:
            _check_data(v, depth + 1)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ReportError("non-string key in the report")
            _check_data(v, depth + 1)
        return
    raise ReportError(f"unexpected {type(value).__name__} in the report")


def read_report(outputs) -> dict:
    """key -> {"value": data, "kind": str} or {"error": exception type}, from a cell's outputs.

    Exactly one output with the probe media type is accepted; anything else the cell printed is
    ignored. Raises ReportError when there is no usable report."""
    found = []
    for out in outputs or []:
        if not isinstance(out, dict) or out.get("output_type") not in ("display_data", "execute_result"):
            continue
        data = out.get("data")
        if isinstance(data, dict) and MIME in data:
            found.append(data[MIME])
    if not found:
        raise ReportError("the test did not run to the end (no observations came back)")
    if len(found) > 1:
        raise ReportError("more than one report came back from this cell (output forged?)")
    report = found[0]
    if isinstance(report, str):  # nbformat normally parses JSON media types; be lenient
        if len(report) > MAX_REPORT_BYTES:
            raise ReportError("report too large")
        try:
            report = json.loads(report)
        except ValueError:
            raise ReportError("report is not valid JSON") from None
    try:
        size = len(json.dumps(report, allow_nan=False))
    except (TypeError, ValueError):
        raise ReportError("report is not plain JSON data") from None
    if size > MAX_REPORT_BYTES:
        raise ReportError("report too large")
    if not isinstance(report, dict) or report.get("v") != 1 or not isinstance(report.get("results"), dict):
        raise ReportError("report has the wrong structure")
    results = {}
    for key, entry in report["results"].items():
        if not isinstance(entry, dict):
            raise ReportError("report has the wrong structure")
        clean = {}
        if "error" in entry:
            clean["error"] = str(entry["error"])[:60]
        else:
            _check_data(entry.get("value"))
            clean["value"] = entry.get("value")
            clean["kind"] = str(entry.get("kind", ""))[:30]
        results[str(key)] = clean
    return results
