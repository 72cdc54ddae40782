"""The batch's two hook points for grader-decided verdicts (used by grading.batch).

`install_probes` runs on a sanitized notebook before it goes to the sandbox: every autograded
test cell's source becomes the probe of its check (grading/checks/<assignment>.py), with hidden
parameters drawn for this seed, student, cell and submission content.

`decide` runs on the executed notebook when it comes back, before nbgrader's SaveAutoGrades:
each test cell's outputs are replaced by the grader's verdict, judged only from the cell's probe
report, and its source by the release's version of the cell (what the student was given: no
probe, no hidden inputs). Outputs of the other cells that quote a hidden input are removed.
"""
from __future__ import annotations

import secrets as _secrets
from pathlib import Path

from .probes import MIME, PROBE_MARKER, ReportError, read_report
from .verdicts import Probe, failed, redact, rng_for, write_verdict


def grade_id(cell) -> str | None:
    return (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")


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


def missing_checks(checks, test_ids: dict[str, list[str]]) -> list[str]:
    return sorted({gid for ids in test_ids.values() for gid in ids if gid not in checks})


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
        if probe is None:
            if redact(cell, secrets):
                problems.append(f"an output quoting hidden test data or a probe was removed (cell {gid or '?'})")
            continue
        try:
            verdict = probe.judge(read_report(cell.get("outputs", [])))
        except ReportError as exc:
            verdict = failed(str(exc))
        points = float(cell.metadata["nbgrader"].get("points", 0))
        write_verdict(cell, verdict, points, probe.hidden)
        released = release_cells.get(gid)
        cell.source = released.source if released is not None else "# (test cell)"
    return problems
