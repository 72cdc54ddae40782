"""The resume state's file store and its key (grading/state.py): no kernels, a few milliseconds."""
import json

from grading import state


def test_file_store_records_atomically_and_reloads(tmp_path):
    path = state.state_path(tmp_path, "a")
    store = state.open_store(None, "course", "a", tmp_path)
    assert isinstance(store, state.FileStore) and store.entries == {}
    assert store.claim("alice", "k1")  # one grader per course root: every claim succeeds
    store.record("alice", {"key": "k1", "status": "ok", "problems": []})
    store.add_problem("alice", "feedback failed")
    store.add_problem("alice", "feedback failed")  # noted once
    assert json.loads(path.read_text())["alice"]["problems"] == ["feedback failed"]
    assert state.FileStore(path).entries == store.entries
    assert not list(tmp_path.glob(f"{path.name}.*"))  # no temporary file left behind


def test_unreadable_state_file_is_set_aside_not_fatal(tmp_path):
    path = state.state_path(tmp_path, "a")
    path.write_text("{ not json")
    assert state.load(path) == {}
    assert path.with_suffix(".json.unreadable").read_text() == "{ not json"


def test_only_a_final_entry_with_the_same_key_is_current():
    assert state.is_current({"key": "k", "status": "ok"}, "k")
    assert state.is_current({"key": "k", "status": "graded_with_problems"}, "k")
    assert not state.is_current({"key": "k", "status": "timeout"}, "k")
    assert not state.is_current({"key": "other", "status": "ok"}, "k")
    assert not state.is_current(None, "k")


def test_student_key_depends_on_context_and_content():
    keys = {state.student_key(c, d) for c in ("c1", "c2") for d in ("d1", "d2")}
    assert len(keys) == 4


# ----------------------------------------------------------------- what the resume key covers
def _copy_package(tmp_path):
    import shutil
    copy = tmp_path / "grading"
    shutil.copytree(state.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "solutions").mkdir()
    return copy


def _key(tmp_path, package):
    return state.context_key(tmp_path, "a", tmp_path / "solutions", {"cell_seconds": 1}, {}, package=package)


def _touch_docstring(path):
    """One byte changed: the first letter of the module's docstring, in the other case."""
    text = path.read_text()
    i = next(k for k in range(text.index('"""') + 3, len(text)) if text[k].isalpha())
    path.write_text(text[:i] + text[i].swapcase() + text[i + 1:])


def test_every_module_on_a_grades_path_is_in_the_key(tmp_path):
    package = _copy_package(tmp_path)
    covered = {str(p.relative_to(package)) for p in state.grade_code(package)}
    # The loop, every step of a notebook's trip, the processes it starts, and all the checks.
    assert {"batch.py", "steps.py", "intake.py", "course.py", "judge.py", "probes.py", "executors.py", "cluster.py",
            "worker.py", "sandbox.py", "jail.py", "outputs.py", "cgroups.py", "runtime.py",
            "seccomp.py", "connfs.py", "worker_limits.py", "sanitize.py", "figures.py",
            "checks/__init__.py", "checks/schedules.py", "checks/cifar10.py"} <= covered
    # What only presents results decides no grade: changing it regrades nobody.
    assert not covered & {"cli.py", "report.py", "export.py", "__main__.py", "summary.py"}
    before = _key(tmp_path, package)
    for rel in sorted(covered):
        original = (package / rel).read_bytes()
        _touch_docstring(package / rel)
        assert _key(tmp_path, package) != before, f"{rel} changed and the key did not"
        (package / rel).write_bytes(original)
    assert _key(tmp_path, package) == before
    for rel in ("cli.py", "report.py"):
        _touch_docstring(package / rel)
    assert _key(tmp_path, package) == before


def test_a_module_split_off_the_path_joins_the_key(tmp_path):
    """A new module is covered as soon as one on the path imports it: nobody keeps a list."""
    package = _copy_package(tmp_path)
    before = _key(tmp_path, package)
    (package / "newstep.py").write_text('"""A step split off intake."""\nVALUE = 1\n')
    assert _key(tmp_path, package) == before   # not imported by anything yet
    intake = package / "intake.py"
    intake.write_text(intake.read_text().replace("import nbformat\n", "import nbformat\n\nfrom . import newstep\n", 1))
    with_import = _key(tmp_path, package)
    (package / "newstep.py").write_text('"""A step split off intake."""\nVALUE = 2\n')
    assert with_import != before and _key(tmp_path, package) != with_import


def test_a_courses_own_checks_are_in_the_key(tmp_path):
    before = _key(tmp_path, state.PACKAGE)
    own = tmp_path / "grading" / "checks"
    own.mkdir(parents=True)
    (own / "a.py").write_text("checks = None\n")
    assert _key(tmp_path, state.PACKAGE) != before


def test_the_workers_identity_is_the_hash_of_the_worker_side_code(tmp_path):
    """What a Dask task carries (grading.cluster): the same hash function as the key, over the
    modules a worker runs; grader-only code (the checks, the verdicts) is not in it."""
    package = _copy_package(tmp_path)
    worker_side = {str(p.relative_to(package)) for p in state.grade_code(package, state.WORKER_ROOT)}
    assert {"executors.py", "cluster.py", "worker.py", "sandbox.py", "runtime.py", "jail.py"} <= worker_side
    assert not worker_side & {"batch.py", "judge.py", "checks/__init__.py", "checks/schedules.py"}
    before = state.worker_identity(package)
    assert set(before) == {"code", "python", "keras"} and before["keras"]
    _touch_docstring(package / "judge.py")
    assert state.worker_identity(package) == before
    _touch_docstring(package / "worker.py")
    assert state.worker_identity(package)["code"] != before["code"]
