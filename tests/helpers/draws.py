"""What a graded student's hidden checks drew, recomputed from the seed, against what the grader
told that student.

Hidden messages say what was wrong, never which random choice or value was drawn (issue 25): a
student who read "mode 'fan_out' on a convolution kernel" or "(and 37 more)" learns the draw
space. `hidden_message_problems(graded)` goes over every student of a `GradedBatch`: it rebuilds
each hidden check's probe with the student's generator (`grading.judge.rng_for`: the batch's
seed, the student, the cell, the submission's digest), wrapped in `RecordingRng`, which keeps
every value drawn; then it reads the grader's messages of the student's hidden test cells (the
autograded notebook: what the feedback page shows) and scans them. A message must be one of the
check's own texts that every draw shares (`what: why`, with the hidden `why`s of the contract in
grading/checks/__init__.py), and no drawn value (a chosen string, a number of 2 digits or more,
as printed in any usual format) may appear outside those shared texts. The first message of
every failed hidden cell must also be in the feedback page, so the scan covers what the student
reads.
"""
from __future__ import annotations

import functools
import html
import re
from pathlib import Path

import nbformat
import numpy as np

from grading.checks import BUILTIN_ERRORS, load
from grading.collect import Submission
from grading.judge import rng_for

OTHER_DRAWS = range(8)  # the checks' wording is compared with 8 other draws
# What a hidden expectation may say after its `what: ` (grading.checks.Probe.judge), and the
# report errors that have no `what` (grading.probes.read_report).
FIXED_WHY = {"not reached (an earlier step failed)", "raised an exception",
             *(f"raised {name}" for name in BUILTIN_ERRORS)}
REPORT_ERRORS = re.compile(r"^(observed value nested too deeply|non-finite number in the report|"
                           r"non-string key in the report|unexpected \w+ in the report|"
                           r"the test did not run to the end \(no observations came back\)|"
                           r"more than one report came back from this cell \(output forged\?\)|"
                           r"report too large|report is not valid JSON|report is not plain JSON data|"
                           r"report has the wrong structure)$")


class RecordingRng:
    """A numpy Generator that keeps every value it draws (in `drawn`)."""

    def __init__(self, rng: np.random.Generator):
        self._rng, self.drawn = rng, []

    def __getattr__(self, name):
        attr = getattr(self._rng, name)
        if not callable(attr):
            return attr

        def draw(*args, **kwargs):
            out = attr(*args, **kwargs)
            self.drawn += list(np.ravel(out)) if isinstance(out, np.ndarray) else [out]
            return out
        return draw


def printed_forms(value) -> set[str]:
    """How a drawn value may be printed: a chosen string as is; a whole number of 2 digits or
    more; a real number in repr and the usual rounded forms (4 characters or more)."""
    if isinstance(value, (str, np.str_)):
        return {str(value)}
    if isinstance(value, (bool, np.bool_)):
        return set()
    if isinstance(value, (int, np.integer)):
        return {str(int(value))} if abs(int(value)) >= 10 else set()
    x = float(value)
    forms = {repr(x), f"{x:.6g}", f"{x:.5g}", f"{x:.4g}", f"{x:.3g}", repr(round(x, 3)), repr(round(x, 4))}
    return {f for f in forms if len(f.lstrip("-")) >= 4}


def mentions(drawn: set[str]):
    """A function: the drawn values (printed forms) a text names, as whole tokens."""
    if not drawn:
        return lambda text: []
    alternatives = "|".join(re.escape(f) for f in sorted(drawn, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w.])({alternatives})(?![\w]|\.\d)")
    return lambda text: sorted({m.group(1) for m in pattern.finditer(text)})


def hidden_messages(cell) -> list[str]:
    """The grader's messages in a graded test cell's outputs (its `- ...` lines)."""
    text = []
    for out in cell.get("outputs", []):
        text.append(str(out.get("text", "")))
        text += [str(line) for line in out.get("traceback") or []]
    return [line[2:].strip() for line in "\n".join(text).splitlines() if line.startswith("- ")]


@functools.lru_cache(maxsize=None)
def _other_draws_wording(assignment: str, gid: str) -> tuple[frozenset, frozenset]:
    """The `what`s that the OTHER_DRAWS of a hidden check all have, and its hidden `why`s."""
    probes = [load(assignment)[gid].probe(np.random.default_rng(s)) for s in OTHER_DRAWS]
    return (frozenset.intersection(*(frozenset(e.what for e in p.expectations) for p in probes)),
            frozenset(e.hidden_text for p in probes for e in p.expectations))


def _shared_wording(assignment: str, gid: str, rng) -> tuple[list[str], set[str]]:
    """The `what`s of a hidden check that every draw has, this student's included (longest
    first), and its hidden `why`s; draws with `rng`, which records them."""
    mine = load(assignment)[gid].probe(rng).expectations
    whats, whys = _other_draws_wording(assignment, gid)
    return (sorted(whats & {e.what for e in mine}, key=len, reverse=True),
            set(whys) | {e.hidden_text for e in mine})


def _judge_line(line: str, whats: list[str], whys: set[str], named_in) -> str | None:
    """Why one hidden message names the draw (None when it does not)."""
    rest = line
    what = next((w for w in whats if line.startswith(w + ": ")), None)
    if what is not None:
        rest = line[len(what) + 2:]
        why = rest[:-len(" (and other cases)")] if rest.endswith(" (and other cases)") else rest
        allowed = why in whys | FIXED_WHY
    else:
        allowed = REPORT_ERRORS.match(line) is not None
    named = named_in(rest)
    if named:
        return f"names drawn values {named}"
    return None if allowed else "is not worded the same for every draw"


def hidden_message_problems(graded) -> tuple[list[str], int]:
    """(what is wrong, how many hidden messages were scanned) over every student of a batch."""
    checks = load(graded.assignment)
    hidden = {gid for gid, check in checks.items() if check.hidden}
    problems, scanned = [], 0
    for student in graded.students:
        path = graded.autograded(student)
        if not path.exists():
            continue
        data = (graded.course / "submitted" / student / graded.assignment
                / f"{graded.assignment}.ipynb").read_bytes()
        digest = Submission(student, files={graded.assignment: data}).digest()
        feedback = graded.feedback(student)
        page = html.unescape(re.sub(r"<[^>]+>", " ", feedback.read_text())) if feedback.exists() else ""
        page = re.sub(r"\s+", " ", page)
        for cell in nbformat.read(path, as_version=4).cells:
            gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
            messages = hidden_messages(cell) if gid in hidden else []
            if not messages:
                continue
            rng = RecordingRng(rng_for(graded.seed, student, gid, digest))
            whats, whys = _shared_wording(graded.assignment, gid, rng)
            named_in = mentions(set().union(*(printed_forms(v) for v in rng.drawn)))
            for line in messages:
                scanned += 1
                why = _judge_line(line, whats, whys, named_in)
                if why:
                    problems.append(f"{student} {gid}: {line!r} {why}")
            if page and re.sub(r"\s+", " ", messages[0])[:60] not in page:
                problems.append(f"{student} {gid}: its first message is not in the feedback page")
    return problems, scanned
