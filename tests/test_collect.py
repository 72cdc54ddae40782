"""Finding submissions and their students in a folder or a zip (grading/collect.py): no kernels."""
import zipfile

import nbformat
import pytest

from grading.collect import SubmissionError, Submission, clean_name, collect
from helpers.tiny import A, RIGHT, student_nb


def test_collect_layouts(tmp_path):
    nb = nbformat.writes(student_nb(RIGHT)).encode()
    folder = tmp_path / "folder"
    for rel in ("alice/tiny.ipynb", "bob/Copy of tiny.ipynb", "carol/tiny (1).ipynb",
                "dave/notes.txt", "__MACOSX/alice/._tiny.ipynb", "erin/.ipynb_checkpoints/tiny-checkpoint.ipynb"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(nb)
    subs, skipped = collect(folder, [A])
    assert sorted(subs) == ["alice", "bob", "carol", "dave"]
    assert all(subs[s].files[A] == nb for s in ("alice", "bob", "carol"))
    assert subs["dave"].files == {} and subs["dave"].others == ["notes.txt"]

    flat = tmp_path / "flat.zip"
    with zipfile.ZipFile(flat, "w") as zf:
        zf.writestr("alice_tiny.ipynb", nb)
        zf.writestr("bob_Copy of tiny (2).ipynb", nb)
        zf.writestr("../../evil_tiny.ipynb", nb)  # path traversal: read in memory, never extracted
        zf.writestr("noid.ipynb", nb)
    subs, skipped = collect(flat, [A])
    assert sorted(subs) == ["alice", "bob", "evil"]
    assert any("noid.ipynb" in s for s in skipped)

    lms = tmp_path / "lms"
    (lms / "Alice Smith_12345_assignsubmission_file_").mkdir(parents=True)
    (lms / "Alice Smith_12345_assignsubmission_file_" / "tiny.ipynb").write_bytes(nb)
    (lms / "Bob Jones_678_assignsubmission_file_schedules (3).ipynb").write_bytes(nb)
    subs, _ = collect(lms, [A], regex=r"_(?P<student>\d+)_assignsubmission")
    assert sorted(subs) == ["12345", "678"]
    with pytest.raises(SubmissionError):
        collect(lms, [A], regex=r"(?P<who>\d+)")
    assert clean_name("Copy of schedules (1).ipynb") == "schedules"
    # Several notebooks: the name decides.
    (folder / "alice" / "other.ipynb").write_bytes(nb)
    subs, _ = collect(folder, ["tiny", "other"])
    assert set(subs["alice"].files) == {"tiny", "other"}


def test_collect_reports_odd_members(tmp_path):
    """A corrupt zip member, a symlink (zip or folder) and control characters stay per student."""
    nb = nbformat.writes(student_nb(RIGHT)).encode()
    z = tmp_path / "subs.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("alice/tiny.ipynb", nb)
        zf.writestr("carol/tiny.ipynb", nb * 3)
        link = zipfile.ZipInfo("dave/tiny.ipynb")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/shadow")
        zf.writestr("erin/ti\x1bny.ipynb", nb)
    raw = bytearray(z.read_bytes())
    start = raw.index(b"carol/tiny.ipynb") + len(b"carol/tiny.ipynb") + 40
    raw[start:start + 200] = b"\x00" * 200
    z.write_bytes(bytes(raw))
    subs, _ = collect(z, [A])
    assert subs["alice"].files[A] == nb
    assert not subs["carol"].files and "corrupt zip member" in subs["carol"].problems[0]
    assert not subs["dave"].files and "symbolic link" in subs["dave"].problems[0]
    assert subs["erin"].names[A] == "ti\\x1bny.ipynb"
    folder = tmp_path / "folder"
    (folder / "frank").mkdir(parents=True)
    (folder / "frank" / "tiny.ipynb").symlink_to(tmp_path / "subs.zip")
    (folder / "gina").symlink_to(tmp_path)  # a linked folder is not entered
    subs, skipped = collect(folder, [A])
    assert not subs["frank"].files and "symbolic link" in subs["frank"].problems[0]
    assert any("gina" in line and "symbolic link" in line for line in skipped), skipped


def test_digest_changes_with_any_notebook_and_names_a_missing_one():
    a = Submission("s", files={"x": b"1", "y": b"2"})
    assert a.digest() == Submission("s", files={"y": b"2", "x": b"1"}).digest()
    assert a.digest() != Submission("s", files={"x": b"1", "y": b"3"}).digest()
    assert Submission("s", others=["a.txt"]).digest() != Submission("s", others=["b.txt"]).digest()
