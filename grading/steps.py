"""What happens to one notebook before and after its execution: two declared lists of steps.

    BEFORE = [read_file, note_instructor_edits, keep_known_metadata, nbgrader_sanitize, install_probes]
    AFTER  = [read_back, decide_verdicts, sanitize_html, nbgrader_autograde]

as nbgrader declares its preprocessors. BEFORE turns a student's file into the notebook the
sandbox runs; AFTER turns the executed notebook into grades (in the gradebook and autograded/).
Every step has one signature, `step(job, ctx)`: it reads the batch's `Context` (never changed),
works on the `Job` (one notebook of one student: `job.nb` in place, `job.problems` appended), and
raises to stop that notebook. `run_steps` is the one place a step's failure is caught: the
notebook stops there with a reason for its student, and the batch goes on
(`before_execution`, `after_execution`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import intake, judge, sanitize
from .outputs import coerce_notebook
from .checks import Checks
from .course import Course, NotebookCells, grade_id


@dataclass(frozen=True)
class Context:
    """What every step of a batch reads."""
    course: Course
    cells: dict[str, NotebookCells]   # notebook id -> the instructor's cells
    checks: Checks
    seed: str                         # the hidden parameters' seed (grading.judge)
    cells_factor: int                 # a submission may have this many times the source's cells


@dataclass
class Job:
    """One notebook of one student on its way through the batch."""
    student: str
    notebook: str                     # the notebook id
    raw: bytes | None                 # the submitted file
    digest: str                       # the whole submission's (Submission.digest)
    nb: nbformat.NotebookNode | None = None
    problems: list[str] = field(default_factory=list)
    probes: dict = field(default_factory=dict)   # grade_id -> checks.Probe
    folder: Path | None = None        # where the executor reads job.json and writes out.ipynb
    result: dict = field(default_factory=dict)   # what the worker reported


class Stop(Exception):
    """A step's reason to stop this notebook, in the student's words (no prefix is added)."""


# ----------------------------------------------------------------------- before execution
def read_file(job: Job, ctx: Context) -> None:
    """The untrusted file as a notebook with well-formed nbgrader metadata (grading.intake)."""
    cells = ctx.cells[job.notebook]
    try:
        job.nb, problems = intake.read_submission(
            job.raw, max(1, cells.source_cells) * max(1, ctx.cells_factor), cells.known,
            {gid: c.source for gid, c in cells.release.items()
             if (c.metadata.get("nbgrader") or {}).get("solution")})
    except intake.Rejected as exc:
        raise Stop(str(exc)) from None
    job.problems += problems


def note_instructor_edits(job: Job, ctx: Context) -> None:
    """What the student changed in the instructor's cells (nbgrader puts back what it can)."""
    cells = ctx.cells[job.notebook]
    by_id = {}
    for cell in job.nb.cells:
        by_id.setdefault(grade_id(cell), cell)
    for gid in cells.restored:
        cell, ref = by_id.get(gid), cells.release.get(gid)
        if cell is None:
            job.problems.append(f"deleted instructor cell {gid} (test cells are restored)")
        elif ref is not None and cell.get("cell_type") != ref.cell_type:
            job.problems.append(f"changed the type of cell {gid} (restored)")
        elif ref is not None and cell.get("source", "") != ref.source:
            job.problems.append(f"edited locked cell {gid} (restored)")


def keep_known_metadata(job: Job, ctx: Context) -> None:
    """Colab's and a student's own metadata out; what nbgrader needs stays (grading.intake)."""
    intake.keep_known_metadata(job.nb)


def _resources(job: Job, ctx: Context) -> dict:
    return {"nbgrader": {"db_url": ctx.course.db_url, "assignment": ctx.course.assignment,
                         "notebook": job.notebook, "student": job.student},
            "metadata": {"path": "."}}


def nbgrader_sanitize(job: Job, ctx: Context) -> None:
    """nbgrader's own sanitizing: outputs cleared, the instructor's cells and kernelspec restored."""
    from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, DeduplicateIds,
                                        OverwriteCells, OverwriteKernelspec)
    nb, resources = job.nb, _resources(job, ctx)
    for pp in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata):
        nb, resources = pp(config=ctx.course.config)(nb, resources)
    job.nb = nb


def install_probes(job: Job, ctx: Context) -> None:
    """Every autograded test cell becomes the probe cell of its check (grading.judge)."""
    job.probes = judge.install_probes(job.nb, ctx.checks, set(ctx.cells[job.notebook].tests),
                                      ctx.seed, job.student, job.digest)


# ------------------------------------------------------------------------ after execution
def abort_notebook(nb, why: str):
    """Every code cell gets an error output: nothing of a notebook that did not come back scores."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("error", ename="GradingAborted", evalue=why,
                                                   traceback=[f"GradingAborted: {why}"])]
    return nb


def read_back(job: Job, ctx: Context) -> None:
    """The executed notebook the worker wrote, its outputs in nbformat's types (they are the
    kernel's data); when there is none, or not this notebook's cells, the sent one, aborted."""
    out = job.folder / "out.ipynb"
    try:
        executed = nbformat.read(out, as_version=4) if out.exists() else None
        if executed is not None and [grade_id(c) for c in executed.cells] != [grade_id(c) for c in job.nb.cells]:
            executed = None  # not the notebook that was sent
    except Exception:  # unreadable: as if none had come back
        executed = None
    if executed is None:
        executed = abort_notebook(job.nb, "; ".join(map(str, job.result.get("reasons", []))) or "worker failed")
    coerce_notebook(executed)
    job.nb = executed


def decide_verdicts(job: Job, ctx: Context) -> None:
    """The grader's verdict in every test cell (grading.judge)."""
    job.problems += judge.decide(job.nb, job.probes, ctx.cells[job.notebook].release)


def sanitize_html(job: Job, ctx: Context) -> None:
    """Nothing of the notebook renders as live HTML in the feedback or formgrader (grading.sanitize)."""
    sanitize.sanitize_notebook(job.nb)


def nbgrader_autograde(job: Job, ctx: Context) -> None:
    """nbgrader's autograde half: scores into the gradebook, the notebook into autograded/."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern,
                                        LimitOutput, SaveAutoGrades)
    nb, resources = job.nb, _resources(job, ctx)
    for pp in (IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
               AssignLatePenalties, CheckCellMetadata):
        nb, resources = pp(config=ctx.course.config)(nb, resources)
    ctx.course.write_autograded(job.student, job.notebook, nb)


BEFORE = [read_file, note_instructor_edits, keep_known_metadata, nbgrader_sanitize, install_probes]
AFTER = [read_back, decide_verdicts, sanitize_html, nbgrader_autograde]


def before_execution(job: Job, ctx: Context) -> bool:
    """The BEFORE steps; False when the notebook cannot be run (the reason in job.problems)."""
    return run_steps(BEFORE, job, ctx, "could not be sanitized")


def after_execution(job: Job, ctx: Context) -> bool:
    """The AFTER steps; False when the grades could not be saved (the reason in job.problems)."""
    return run_steps(AFTER, job, ctx, "grades not saved")


def run_steps(steps: list, job: Job, ctx: Context, failed: str) -> bool:
    """Run the steps in order; False when one stopped the notebook (its reason in job.problems)."""
    for step in steps:
        try:
            step(job, ctx)
        except Stop as exc:
            job.problems.append(str(exc))
            return False
        except Exception as exc:  # whatever a notebook holds, it stops only its own grading
            job.problems.append(f"{failed}: {type(exc).__name__}: {str(exc)[:200]}")
            return False
    return True
