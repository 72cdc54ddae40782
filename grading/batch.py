"""The batch: import, sanitize, execute in parallel sandboxes, save grades, feedback, report.

The parent process (this module) is the only one that opens the gradebook. For every student it
runs nbgrader's sanitizing preprocessors (ClearOutput, DeduplicateIds, OverwriteKernelspec,
OverwriteCells, CheckCellMetadata), hands the sanitized notebook to a worker process
(`grading.worker`, which runs nbgrader's Execute in a sandboxed kernel), and when the executed
notebook comes back runs nbgrader's autograde preprocessors (IgnorePattern, ClearMetadata,
LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata) on it, commits, and records
the key of what determined the grade in the state file (atomically). A rerun skips a student
whose key is unchanged and whose grading finished; a killed run resumes: students without a
state entry are graded again, and the gradebook's update-or-create semantics mean nothing is
duplicated.

A student's file never stops the batch: it is read by `grading.intake` (every problem becomes
a reason for that student), `sanitize` catches whatever nbgrader raises on it, and feedback is
generated in a child process with limits (`grading.feedback_stage`). The resume state and its
key live in `grading.state`.
"""
from __future__ import annotations

import ctypes
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from .collect import Submission, collect
from . import checks as checks_mod
from . import judge
from .executors import executor_for
from .guard import guard_source
from . import limits
from . import state as grading_state
from . import feedback_stage
from .intake import Rejected, read_submission
from .sandbox import DATA_MOUNT, Caps, SandboxSpec, check_sandbox, grading_cache, host_user

REPO = Path(__file__).resolve().parents[1]


class GradingError(RuntimeError):
    """A problem with the command line or the course (not with a submission): exit 2."""


@dataclass
class Options:
    assignment: str
    submissions: Path
    course_root: Path = REPO
    workers: int = os.cpu_count() or 1
    regex: str | None = None
    db_url: str | None = None
    caps: Caps = field(default_factory=Caps)
    sandbox: bool = True
    datasets: Path | None = None
    feedback: bool = True
    report: bool = True
    progress: bool = True
    env: dict = field(default_factory=dict)
    seed: str | None = None   # hidden parameters' seed: stays in the grader (checks modules)
    cluster: str | None = None  # a Dask scheduler's address (executors.py); None: this machine


# ----------------------------------------------------------------------------------- config
def load_config(root: Path, db_url: str | None):
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader
    cfg_file = root / "nbgrader_config.py"
    if not cfg_file.exists():
        raise GradingError(f"no nbgrader_config.py in the course root {root}")
    cfg = PyFileConfigLoader(cfg_file.name, path=str(root)).load_config()
    override = Config()
    override.CourseDirectory.root = str(root)
    if db_url:
        override.CourseDirectory.db_url = db_url
    cfg.merge(override)
    return cfg


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


WORKER_MEMORY_MB = 4096  # the worker's own address space (soft: its kernel's limits are set apart)


def _set_pdeathsig():
    """Worker dies with the grader (then bwrap --die-with-parent takes the kernel down)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_MB << 20, resource.RLIM_INFINITY))


def share_read_only(folder: Path) -> None:
    """Folders and files below `folder` readable (not writable) by every user."""
    for dirpath, dirnames, filenames in os.walk(folder):
        os.chmod(dirpath, os.stat(dirpath).st_mode | 0o555)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o444)


def describe_isolation(sandbox: bool) -> str:
    """One line for the instructor: who the kernels run as, and which limits hold."""
    kind, why = limits.detect()
    user = host_user()
    who = ("kernels run as host user nobody (uid 65534) in bubblewrap" if user is not None
           else f"kernels run as this user (uid {os.getuid()}) in bubblewrap") if sandbox \
        else "kernels run WITHOUT a sandbox (--no-sandbox)"
    return f"isolation: {who}; limits: {why}"


def drop_duplicate_cells(nb) -> list[str]:
    """Copy-pasted nbgrader cells: only the last copy keeps its nbgrader metadata (as nbgrader's
    DeduplicateIds does, whose emptied metadata would make OverwriteCells fail with KeyError);
    the earlier copies become ordinary cells. Reported, not punished."""
    last, problems = {}, []
    for index, cell in enumerate(nb.cells):
        gid = (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")
        if gid:
            last[gid] = index
    for index, cell in enumerate(nb.cells):
        gid = (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")
        if gid and last[gid] != index:
            del cell.metadata["nbgrader"]
            problems.append(f"cell {gid} appears more than once (copied?): only its last copy is graded")
    return list(dict.fromkeys(problems))


def read_executed(path: Path):
    """The executed notebook a worker wrote, or None (none written, or unreadable)."""
    try:
        return nbformat.read(path, as_version=4) if path.exists() else None
    except Exception:
        return None


class Batch:
    def __init__(self, opts: Options):
        self.opts = opts
        self.root = Path(opts.course_root).resolve()
        self.cfg = load_config(self.root, opts.db_url)
        from nbgrader.coursedir import CourseDirectory
        self.coursedir = CourseDirectory(config=self.cfg)
        self.coursedir.assignment_id = opts.assignment
        self.db_url = self.coursedir.db_url
        self.course_id = self.coursedir.course_id
        self.assignment = opts.assignment
        self.source_dir = Path(self.coursedir.format_path(self.coursedir.source_directory, ".", self.assignment))
        if not self.source_dir.is_dir():
            known = sorted(p.name for p in self.source_dir.parent.glob("*") if p.is_dir())
            raise GradingError(f"unknown assignment {self.assignment!r}: no {self.source_dir} "
                               f"(assignments: {', '.join(known) or 'none'})")
        self.notebooks = sorted(p.stem for p in self.source_dir.glob("*.ipynb"))
        if not self.notebooks:
            raise GradingError(f"assignment {self.assignment!r} has no notebooks in {self.source_dir}")
        self.release_dir = Path(self.coursedir.format_path(self.coursedir.release_directory, ".", self.assignment))
        self.report_dir = self.root / "grading-report" / self.assignment
        self.state_path = Path(self.coursedir.autograded_directory if os.path.isabs(
            self.coursedir.autograded_directory) else self.root / self.coursedir.autograded_directory
        ) / f".grading-state-{self.assignment}.json"
        self.store = grading_state.open_store(self.db_url, self.course_id, self.assignment,
                                              self.state_path.parent)
        self.state = self.store.entries  # {student: entry}, kept up to date by the store
        self.log_lines: list[str] = []
        self.feedback = None  # the feedback pipeline while a batch runs
        self.checks = checks_mod.load(self.assignment)

    # ------------------------------------------------------------------------- the gradebook
    def gradebook(self):
        from nbgrader.api import Gradebook
        return Gradebook(self.db_url, self.course_id)

    def ensure_assignment(self) -> None:
        """The assignment's cells in the gradebook (generate_assignment into a temp release)."""
        from nbgrader.api import MissingEntry
        with self.gradebook() as gb:
            try:
                a = gb.find_assignment(self.assignment)
                if {n.name for n in a.notebooks} >= set(self.notebooks):
                    return
            except MissingEntry:
                pass
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        tmp = tempfile.mkdtemp(prefix="grading-release-")
        try:
            cd = CourseDirectory(config=self.cfg)
            cd.release_directory = tmp  # never rewrite the committed release
            api = NbGraderAPI(coursedir=cd, config=self.cfg)
            res = api.generate_assignment(self.assignment, force=True, create=True)
            if not res.get("success"):
                raise GradingError(f"could not record {self.assignment} in the gradebook:\n"
                                   f"{res.get('error') or ''}\n{res.get('log') or ''}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # ---------------------------------------------------------------------------- the cells
    def instructor_cells(self):
        """grade_ids of the locked cells and of the test cells, from the source notebooks."""
        locked, tests, release = {}, {}, {}
        for nb_id in self.notebooks:
            src = nbformat.read(self.source_dir / f"{nb_id}.ipynb", as_version=4)
            ids_l, ids_t = [], []
            for cell in src.cells:
                meta = cell.metadata.get("nbgrader", {})
                if meta.get("locked") or (meta.get("grade") and not meta.get("solution")):
                    ids_l.append(meta.get("grade_id"))
                if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
                    ids_t.append(meta.get("grade_id"))
            locked[nb_id], tests[nb_id] = ids_l, ids_t
            rel = self.release_dir / f"{nb_id}.ipynb"
            if rel.exists():
                r = nbformat.read(rel, as_version=4)
                release[nb_id] = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in r.cells
                                  if c.metadata.get("nbgrader", {}).get("grade_id")}
        return locked, tests, release

    # -------------------------------------------------------------------------- environment
    def prepare_runtime(self, work: Path) -> dict:
        """Seeded Keras cache and the IPython start-up files, shared read-only by all sandboxes."""
        sys.path.insert(0, str(REPO / "scripts"))
        import kernel_env  # scripts/kernel_env.py: the same offline set-up as the tests use
        datasets = self.opts.datasets
        if datasets is None:
            env_ds = os.environ.get("COURSE_DATASETS")
            datasets = Path(env_ds) if env_ds else REPO.parent / "shared" / "datasets"
        datasets = Path(datasets).resolve()
        have_data = (datasets / "seed_keras_cache.py").exists()
        keras_seed = None
        if have_data:
            keras_seed = grading_cache() / "keras_home"
            kernel_env.seed_cache(datasets, keras_seed)
            share_read_only(keras_seed)  # made under umask 077: the sandbox user must read it
        startup = work / "ipython"
        mount = f"{DATA_MOUNT}/datasets" if self.opts.sandbox else str(datasets)
        kernel_env.write_startup(startup, Path(mount) if have_data else None)
        self.token = secrets.token_hex(8)
        if self.checks is None:  # legacy assignments: tests run in the kernel, keep the guard
            (startup / "profile_default" / "startup" / "50-grading-guard.py").write_text(guard_source(self.token))
        for p in [startup, *startup.rglob("*")]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        os.chmod(work, 0o755)
        return {"datasets": str(datasets) if have_data else None,
                "keras_seed": str(keras_seed) if keras_seed else None, "ipythondir": str(startup)}

    # ------------------------------------------------------------------------------- import
    def import_submissions(self, subs: dict[str, Submission]) -> None:
        """Copy into submitted/<student>/<assignment>/<notebook>.ipynb (unchanged files kept)."""
        for student, sub in subs.items():
            dest = Path(self.coursedir.format_path(self.coursedir.submitted_directory, student, self.assignment))
            dest.mkdir(parents=True, exist_ok=True)
            for nb_id in self.notebooks:
                target = dest / f"{nb_id}.ipynb"
                data = sub.files.get(nb_id)
                if data is None:
                    if target.exists():
                        target.unlink()
                    continue
                if not target.exists() or target.read_bytes() != data:
                    tmp = target.with_suffix(".ipynb.tmp")
                    tmp.write_bytes(data)
                    os.replace(tmp, target)
            ts = dest / "timestamp.txt"
            if not ts.exists():
                ts.write_text(datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f %Z"))

    # ----------------------------------------------------------------------------- sanitize
    def _resources(self, student: str, nb_id: str, path: str) -> dict:
        return {"nbgrader": {"db_url": self.db_url, "assignment": self.assignment,
                             "notebook": nb_id, "student": student},
                "metadata": {"path": path}}

    def source_facts(self, nb_id: str) -> tuple[int, set]:
        """(most cells a submission may have: a multiple of the source's; the source's grade_ids)."""
        cache = self.__dict__.setdefault("_source_facts", {})
        if nb_id not in cache:
            src = nbformat.read(self.source_dir / f"{nb_id}.ipynb", as_version=4)
            ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in src.cells} - {None}
            cache[nb_id] = (max(1, len(src.cells)) * max(1, self.opts.caps.cells_factor), ids)
        return cache[nb_id]

    def sanitize(self, student: str, nb_id: str, raw: bytes | None, locked, release):
        """(sanitized notebook or None, problems); never raises for a student's notebook."""
        try:
            return self._sanitize(student, nb_id, raw, locked, release)
        except Exception as exc:  # whatever a notebook holds, it stops only its own grading
            return None, [f"could not be sanitized: {type(exc).__name__}: {str(exc)[:200]}"]

    def _sanitize(self, student: str, nb_id: str, raw: bytes | None, locked, release):
        from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, DeduplicateIds,
                                            OverwriteCells, OverwriteKernelspec)
        try:
            nb, problems = read_submission(raw, *self.source_facts(nb_id))
        except Rejected as exc:
            return None, [str(exc)]
        # What the student changed in the instructor's cells (nbgrader puts back what it can).
        by_id = {}
        for cell in nb.cells:
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if gid:
                by_id.setdefault(gid, cell)
        for gid in locked:
            cell = by_id.get(gid)
            ref = release.get(gid)
            if cell is None:
                problems.append(f"deleted instructor cell {gid} (test cells are restored)")
            elif ref is not None and cell.get("cell_type") != ref.cell_type:
                problems.append(f"changed the type of cell {gid} (restored)")
            elif ref is not None and cell.get("source", "") != ref.source:
                problems.append(f"edited locked cell {gid} (restored)")
        # Colab and friends: keep only what nbgrader needs from the notebook metadata.
        for key in list(nb.metadata):
            if key not in ("kernelspec", "language_info") or not isinstance(nb.metadata[key], dict):
                del nb.metadata[key]
        for cell in nb.cells:
            for key in list(cell.get("metadata", {})):
                value = cell.metadata[key]
                if key not in ("nbgrader", "deletable", "editable", "tags") or (
                        key in ("deletable", "editable") and not isinstance(value, bool)) or (
                        key == "tags" and not (isinstance(value, list)
                                               and all(isinstance(t, str) for t in value))):
                    del cell.metadata[key]
        problems += drop_duplicate_cells(nb)
        resources = self._resources(student, nb_id, ".")
        try:
            for pp in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata):
                nb, resources = pp(config=self.cfg)(nb, resources)
        except Exception as exc:
            return None, problems + [f"could not be sanitized: {type(exc).__name__}: {str(exc)[:200]}"]
        return nb, problems

    def save_grades(self, student: str, nb_id: str, nb) -> float:
        """nbgrader's autograde half on an executed notebook; writes autograded/."""
        from nbconvert.preprocessors import ClearMetadataPreprocessor
        from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern,
                                            LimitOutput, SaveAutoGrades)
        resources = self._resources(student, nb_id, ".")
        for pp in (IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
                   AssignLatePenalties, CheckCellMetadata):
            nb, resources = pp(config=self.cfg)(nb, resources)
        dest = Path(self.coursedir.format_path(self.coursedir.autograded_directory, student, self.assignment))
        dest.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, dest / f"{nb_id}.ipynb")
        ts = Path(self.coursedir.format_path(self.coursedir.submitted_directory, student, self.assignment)) / "timestamp.txt"
        if ts.exists():
            shutil.copy2(ts, dest / "timestamp.txt")

    def zero_grades(self, student: str) -> None:
        """A submission that could not be run at all: every autograded cell scores 0."""
        with self.gradebook() as gb:
            gb.update_or_create_student(student)
            gb.update_or_create_submission(self.assignment, student)
            for nb_id in self.notebooks:
                snb = gb.find_submission_notebook(nb_id, self.assignment, student)
                for grade in snb.grades:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
            gb.db.commit()
        dest = Path(self.coursedir.format_path(self.coursedir.autograded_directory, student, self.assignment))
        shutil.rmtree(dest, ignore_errors=True)  # no stale feedback from an earlier version

    def abort_notebook(self, nb, why: str):
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = [nbformat.v4.new_output("error", ename="GradingAborted", evalue=why,
                                                       traceback=[f"GradingAborted: {why}"])]
        return nb

    # ---------------------------------------------------------------------------------- run
    def run(self) -> dict:
        opts = self.opts
        # Files the grader writes are its own (the sandbox's are opened explicitly); the caller's
        # umask comes back at the end, for a batch run inside another program (or a test).
        umask = os.umask(0o077)
        try:
            if opts.sandbox:
                check_sandbox()
            print(describe_isolation(opts.sandbox), flush=True)
            subs, skipped = collect(Path(opts.submissions), self.notebooks, opts.regex)
            try:
                return self._run(subs, skipped)
            finally:
                self.store.close()  # a database store gives back the claims it did not finish
        finally:
            os.umask(umask)

    def _run(self, subs, skipped) -> dict:
        opts = self.opts
        with self.store.serialized():  # graders sharing a database: one records the assignment
            self.ensure_assignment()
        locked, tests, release = self.instructor_cells()
        lock_path = self.state_path.parent / f".grading-{self.assignment}.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock_fh = open(lock_path, "w")
        try:
            fcntl.flock(lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise GradingError(f"another `python -m grading {self.assignment}` is running on {self.root}")
        self.import_submissions(subs)
        todo, skipped_same, elsewhere = [], [], []
        with self.gradebook() as gb:
            graded = {s.student.id for s in gb.find_assignment(self.assignment).submissions}
        self.context_key = grading_state.context_key(
            self.root, self.assignment, self.source_dir, asdict(opts.caps), self.key_env())
        for student, sub in sorted(subs.items()):
            key = grading_state.student_key(self.context_key, sub.digest())
            current = grading_state.is_current(self.state.get(student), key)
            if current and student in graded:
                skipped_same.append(student)
            elif self.store.claim(student, key, regrade=current):  # current, but not in the gradebook
                todo.append(student)
            else:  # another grader on this database holds it or has just graded it
                elsewhere.append(student)
        summary = {"assignment": self.assignment, "students": len(subs), "graded": [],
                   "students_ids": sorted(subs), "other_grader": elsewhere,
                   "skipped_unchanged": skipped_same, "skipped_files": skipped, "problems": {}}
        work = Path(tempfile.mkdtemp(prefix=f"grading-{self.assignment}-"))
        self.feedback = feedback_stage.start(self, work / "feedback", self.missing_feedback(skipped_same)) \
            if opts.feedback else None
        try:
            self.start_verdicts(tests)
            runtime = self.prepare_runtime(work)
            self._grade(todo, subs, locked, tests, release, runtime, work, summary)
        finally:
            for student, why in (self.feedback.close() if self.feedback else {}).items():
                if why is not None:  # waits for the feedback of the last students, then notes failures
                    self.store.add_problem(student, why)
                    self.log_lines.append(f"feedback for {student}: {why}")
            shutil.rmtree(work, ignore_errors=True)
            limits.sweep(f"{os.getpid()}-")  # cgroups of workers that were killed
            limits.sweep_stale()  # and of graders that were
            lock_fh.close()
        self.store.refresh()  # what other graders on the database finished meanwhile
        if opts.report:
            from .report import write_report
            summary["report"] = str(write_report(self, subs))
        return summary

    def _grade(self, todo, subs, locked, tests, release, runtime, work, summary):
        """Sanitize each student and start its jobs at once (the executor reads `prepared`
        lazily), and save each result as it comes back (the single gradebook writer)."""
        self._jobs, self._pending, self._statuses, self._seconds = {}, {}, {}, {}
        self._started = 0  # jobs started so far: names their connection folders
        bar = None
        if self.opts.progress:
            from tqdm import tqdm
            bar = tqdm(total=len(todo), desc=f"grading {self.assignment}", unit="student",
                       file=sys.stderr, dynamic_ncols=True)

        def prepared():
            for student in todo:
                jobs = self._prepare(student, subs[student], locked, tests, release, runtime, work, summary)
                if not jobs and bar is not None:
                    bar.update(1)
                yield from jobs
        # Where the jobs run (this machine's pool, or a Dask cluster): executors.py.
        with executor_for(self.opts, self._run_worker, runtime) as execute:
            for (student, nb_id), result in execute(prepared()):
                if self._collect(student, nb_id, result, subs[student], release, summary) and bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()

    def _prepare(self, student, sub, locked, tests, release, runtime, work, summary) -> list:
        """[((student, notebook), job folder)] of one student (sanitized); [] when none can run."""
        start = time.monotonic()
        problems = list(sub.problems)
        if not sub.files:
            problems.append("no notebook found" + (f" (files: {', '.join(sub.others)})" if sub.others else ""))
        with self.gradebook() as gb:
            gb.update_or_create_student(student)
            gb.update_or_create_submission(self.assignment, student)
        per_nb = {}
        for nb_id in self.notebooks:
            if nb_id not in sub.files:
                per_nb[nb_id] = None
                if sub.files:
                    problems.append(f"notebook {nb_id} missing")
                continue
            nb, probs = self.sanitize(student, nb_id, sub.files.get(nb_id), locked[nb_id], release.get(nb_id, {}))
            problems += probs
            per_nb[nb_id] = nb
        if all(nb is None for nb in per_nb.values()):
            self.zero_grades(student)
            self._finish(student, sub, "not_graded", problems, time.monotonic() - start, summary)
            return []
        jobs = []
        for nb_id, nb in per_nb.items():
            if nb is None:
                continue
            jdir = work / f"{student}--{nb_id}"
            jdir.mkdir()
            self.before_execution(student, nb_id, nb, sub, tests[nb_id])
            nbformat.write(nb, jdir / "in.ipynb")
            # Connection files and sockets: a short path (Unix sockets allow ~107 bytes)
            # inside this run's work folder, bound into this one sandbox only. The worker
            # removes it; one a killed worker leaves goes with the work folder.
            # Numbered by a counter, not by len(self._jobs): results are collected (and
            # popped) while later students are prepared, so that length repeats.
            conn = work / "c" / str(self._started)
            self._started += 1
            conn.mkdir(parents=True, mode=0o700)
            spec = SandboxSpec(python_prefix=sys.base_prefix, venv=sys.prefix,
                               datasets=runtime["datasets"], keras_seed=runtime["keras_seed"],
                               ipythondir=runtime["ipythondir"], scratch=str(jdir / "scratch"),
                               conn_dir=str(conn), caps=self.opts.caps, env=self.kernel_env(),
                               sandbox=self.opts.sandbox)
            job = {"input": str(jdir / "in.ipynb"), "output": str(jdir / "out.ipynb"),
                   "result": str(jdir / "result.json"), "sandbox": spec.to_json(),
                   "token": self.token, "instructor_ids": locked[nb_id], "test_ids": tests[nb_id],
                   "guard": self.checks is None}
            (jdir / "job.json").write_text(json.dumps(job))
            self._jobs[(student, nb_id)] = (jdir, nb)
            jobs.append(((student, nb_id), jdir))
        self._pending[student] = {key[1] for key, _ in jobs}  # before any of them can come back
        summary["problems"][student] = problems
        self._seconds[student] = time.monotonic() - start  # sanitizing; execution added below
        return jobs

    def _collect(self, student, nb_id, result, sub, release, summary) -> bool:
        """Save one executed notebook's grades; True when that was the student's last one."""
        jdir, sanitized = self._jobs.pop((student, nb_id))
        problems = summary["problems"].setdefault(student, [])
        problems += [r for r in result.get("reasons", []) if r not in problems]
        executed = read_executed(jdir / "out.ipynb")
        if executed is None:
            executed = self.abort_notebook(sanitized, "; ".join(result.get("reasons", [])) or "worker failed")
        problems += [p for p in self.after_execution(student, nb_id, executed, release.get(nb_id, {}))
                     if p not in problems]
        try:
            self.save_grades(student, nb_id, executed)
        except Exception as exc:
            problems.append(f"grades not saved: {type(exc).__name__}: {exc}"[:300])
            result["status"] = "error"
        self._statuses.setdefault(student, []).append(result.get("status", "error"))
        self._seconds[student] += float(result.get("seconds") or 0.0)
        shutil.rmtree(jdir, ignore_errors=True)
        self._pending[student].discard(nb_id)
        if self._pending[student]:
            return False
        statuses = self._statuses[student]
        status = "ok" if all(s == "ok" for s in statuses) else next(s for s in statuses if s != "ok")
        if status == "ok" and problems:
            status = "graded_with_problems"
        self._finish(student, sub, status, problems, self._seconds[student], summary)
        return True

    # ------------------------------------------------------------ verdicts (grading.judge)
    def start_verdicts(self, tests) -> None:
        """Checks of every test cell and the hidden parameters' seed (never sent to a kernel)."""
        self._probes = {}
        if self.checks is None:
            return
        missing = judge.missing_checks(self.checks, tests)
        if missing:
            raise GradingError(f"grading/checks/{self.assignment}.py has no check for {', '.join(missing)}")
        self.seed = judge.grading_seed(self.explicit_seed(),
                                       self.state_path.parent)

    def explicit_seed(self) -> str | None:
        """--seed, else $COURSE_GRADING_SEED, else None."""
        seed = self.opts.seed or os.environ.get("COURSE_GRADING_SEED")
        return str(seed) if seed else None

    def key_env(self) -> dict:
        """What of the options decides a grade besides the caps: the kernels' environment and
        the seed of the hidden parameters (as a hash: the state file never holds the seed)."""
        env = dict(self.opts.env)
        seed = self.explicit_seed()
        if seed:
            env["COURSE_GRADING_SEED"] = hashlib.sha256(seed.encode()).hexdigest()
        return env

    def kernel_env(self) -> dict:
        env = dict(self.opts.env)
        env.pop("COURSE_GRADING_SEED", None)
        if self.checks is None and self.explicit_seed():
            env["COURSE_GRADING_SEED"] = self.explicit_seed()
        return env

    def before_execution(self, student, nb_id, nb, sub, test_ids) -> None:
        if self.checks is not None:
            self._probes[(student, nb_id)] = judge.install_probes(
                nb, self.checks, set(test_ids), self.seed, student, sub.digest())

    def after_execution(self, student, nb_id, executed, release_cells) -> list[str]:
        probes = self._probes.pop((student, nb_id), None)
        if probes is None:
            return []
        return judge.decide(executed, probes, release_cells)

    def _run_worker(self, jdir: Path) -> dict:
        caps = self.opts.caps
        cmd = [sys.executable, "-m", "grading.worker", str(jdir / "job.json")]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO),
               "HOME": str(jdir), "LANG": "C.UTF-8", "JUPYTER_PLATFORM_DIRS": "1",
               "JUPYTER_DATA_DIR": str(jdir / "jupyter"), "JUPYTER_RUNTIME_DIR": str(jdir / "jupyter"),
               "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
        log = open(jdir / "worker.log", "wb")
        proc = subprocess.Popen(cmd, cwd=str(REPO), env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, preexec_fn=_set_pdeathsig)
        start = time.monotonic()
        try:
            proc.wait(timeout=caps.wall_seconds + 120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return {"status": "timeout", "reasons": [f"worker killed after {caps.wall_seconds + 120} s"],
                    "seconds": time.monotonic() - start}
        finally:
            log.close()
        try:
            return json.loads((jdir / "result.json").read_text())
        except Exception:
            tail = (jdir / "worker.log").read_bytes()[-600:].decode("utf-8", "replace")
            return {"status": "error", "reasons": [f"worker exited with {proc.returncode}: {tail.strip()[-300:]}"]}

    def _finish(self, student, sub, status, problems, seconds, summary):
        with self.gradebook() as gb:
            s = gb.find_submission(self.assignment, student)
            score, max_score = float(s.score), float(s.max_score)
        if self.feedback is not None and Path(self.coursedir.format_path(
                self.coursedir.autograded_directory, student, self.assignment)).exists():
            self.feedback.add(student)  # rendered by a child process while the batch goes on
        self.store.record(student, {
            "key": grading_state.student_key(self.context_key, sub.digest()),
            "hash": sub.digest(), "status": status, "problems": problems,
            "score": score, "max_score": max_score, "seconds": round(seconds, 2),
            "files": sub.names, "graded_at": datetime.now(timezone.utc).isoformat()})
        summary["graded"].append(student)
        summary["problems"][student] = problems

    # ----------------------------------------------------------------------------- feedback
    def feedback_file(self, student: str, nb_id: str) -> Path:
        return Path(self.coursedir.format_path(self.coursedir.feedback_directory, student,
                                               self.assignment)) / f"{nb_id}.html"

    def missing_feedback(self, students) -> list[str]:
        """Students skipped as unchanged whose feedback is gone (deleted, or never written)."""
        out = []
        for student in students:
            auto = Path(self.coursedir.format_path(self.coursedir.autograded_directory, student, self.assignment))
            if any((auto / f"{nb}.ipynb").exists() and not self.feedback_file(student, nb).exists()
                   for nb in self.notebooks):
                out.append(student)
        return out
