"""Verdicts on the notebook side: the grading seed, probe cells in, the grader's verdicts out.

The seed of the hidden parameters is used here and nowhere else: `grading_seed` (--seed, else a
secret kept beside the grading state), `seed_for_key` (its hash, for the resume key), `rng_for`
(the generator of one check: per seed, student, cell and submission content). The kernels'
environment never holds it (`kernel_env`).

`install_probes` runs on a sanitized notebook before it goes to the sandbox: every autograded
test cell's source becomes the probe cell of its check (grading/checks/<assignment>.py).

`decide` runs on the executed notebook when it comes back, before nbgrader's SaveAutoGrades:
each test cell's outputs are replaced by the grader's verdict (`write_verdict`), judged only from
the cell's probe report (grading.probes), and its source by the release's version of the cell
(what the student was given: no probe, no hidden inputs), and the cell's figure, if its check
draws one, goes into its metadata (`attach_figure`, grading/figures.py). Outputs of the other
cells that quote a hidden input are removed (`redact`).
"""
from __future__ import annotations

import hashlib
import secrets as _secrets
from pathlib import Path

import nbformat
import numpy as np

from . import checks as _checks
from . import figures
from .checks import Checks, Probe, Verdict, failed
from .course import GradingError, NotebookCells, grade_id
from .probes import MIME, PROBE_MARKER, ReportError, read_report

SEED_VARIABLE = "COURSE_GRADING_SEED"


# ------------------------------------------------------------------------------- the seed
def grading_seed(explicit: str | None, state_dir: Path) -> str:
    """The seed of the hidden parameters: --seed / $COURSE_GRADING_SEED, else a secret kept
    next to the grading state (created once, readable by the grader only)."""
    if explicit:
        return str(explicit)
    path = Path(state_dir) / ".grading-seed"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(_secrets.token_hex(16))
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_text().strip()


def seed_for_key(seed: str | None) -> dict:
    """What of the seed in use (given, or the secret one) goes into the resume key: its hash (the
    state never holds the seed)."""
    return {SEED_VARIABLE: hashlib.sha256(seed.encode()).hexdigest()} if seed else {}


def kernel_env(env: dict) -> dict:
    """The kernels' environment variables: never the seed."""
    return {k: v for k, v in env.items() if k != SEED_VARIABLE}


# ----------------------------------------------------------------------------- the checks
def load_checks(assignment: str, cells: dict[str, NotebookCells], course_root: Path) -> Checks:
    """The assignment's checks, one for every autograded test cell; GradingError otherwise."""
    try:
        checks = _checks.load(assignment, course_root)
    except LookupError:
        raise GradingError(f"no grading/checks/{assignment}.py: every assignment needs a checks "
                           "module (CONTRIBUTING.md says how to write one)") from None
    missing = sorted({gid for nb in cells.values() for gid in nb.tests if gid not in checks})
    if missing:
        raise GradingError(f"grading/checks/{assignment}.py has no check for {', '.join(missing)}")
    return checks


def install_probes(nb, checks, test_ids, seed: str, student: str, digest: str) -> dict[str, Probe]:
    """Replace every autograded test cell's source by its probe; grade_id -> Probe."""
    probes = {}
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid in test_ids and cell.get("cell_type") == "code" and gid not in probes:
            probes[gid] = checks[gid].probe(rng_for(seed, student, gid, digest))
            cell.source = probes[gid].source()
    return probes


def decide(nb, probes: dict[str, Probe], release_cells: dict) -> list[str]:
    """Write the grader's verdicts into the executed notebook; returns problems to report."""
    problems = []
    secrets = set().union(*(p.secrets for p in probes.values())) if probes else set()
    secrets |= {MIME, PROBE_MARKER}  # forged reports and quoted probes outside test cells
    for cell in nb.cells:
        gid = grade_id(cell)
        probe = probes.get(gid)
        cell.get("metadata", {}).pop(figures.KEY, None)   # only the grader's own charts
        if probe is None:
            if redact(cell, secrets):
                problems.append(f"an output quoting hidden test data or a probe was removed (cell {gid or '?'})")
            continue
        try:
            report = read_report(cell.get("outputs", []))
            verdict = probe.judge(report)
        except ReportError as exc:
            report, verdict = {}, failed(str(exc))
        points = float(cell.metadata["nbgrader"].get("points", 0))
        write_verdict(cell, verdict, points, probe.hidden)
        if attach_figure(cell, probe, report, secrets):
            problems.append(f"a figure quoting hidden test data was left out (cell {gid})")
        released = release_cells.get(gid)
        cell.source = released.source if released is not None else "# (test cell)"
    return problems


def attach_figure(cell, probe: Probe, report: dict, secrets: set[str]) -> bool:
    """The cell's chart for the feedback page (grading.figures), from the probe's report; True
    when one was built but left out because its text quotes a hidden input."""
    chart = probe.figure_data(report)
    if chart is None:
        return False
    if figures.quotes_any(chart, secrets - {MIME, PROBE_MARKER}):
        return True
    cell.metadata[figures.KEY] = chart
    return False


def rng_for(seed: str, student: str, cell_id: str, digest: str) -> np.random.Generator:
    """The hidden parameters' generator: per grading seed, student, cell and submission content
    (a resubmission gets new parameters, so parameters seen once are worth nothing)."""
    h = hashlib.sha256(f"{seed}\0{student}\0{cell_id}\0{digest}".encode()).digest()
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
