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
