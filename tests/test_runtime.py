"""What a kernel finds when it starts (grading/runtime.py): the datasets rule, the start-up files,
and the offline Keras cache that graders and tests share."""
import subprocess
import sys

from conftest import DATASETS, REPO

from grading import runtime

SEED_ONE = ("from pathlib import Path; from grading import runtime; "
            "runtime.seed_cache(Path({datasets!r}), Path({home!r}))")


def test_one_rule_for_the_datasets_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_DATASETS", raising=False)
    assert runtime.datasets_dir() == (REPO.parent / "shared" / "datasets").resolve()
    monkeypatch.setenv("COURSE_DATASETS", str(tmp_path))
    assert runtime.datasets_dir() == tmp_path.resolve()
    assert runtime.datasets_dir(tmp_path / "given") == (tmp_path / "given").resolve()


def test_startup_files_travel_as_data(tmp_path):
    """The files a Dask worker gets are the ones the grader's kernels start with, readable by
    the sandbox's user although the grader writes under umask 077."""
    runtime.write_startup(tmp_path / "a", tmp_path / "datasets")
    files = runtime.startup_files(str(tmp_path / "a"))
    assert sorted(files) == ["profile_default/startup/00-like-colab.py",
                             "profile_default/startup/01-offline-datasets.py"]
    assert repr(str(tmp_path / "datasets")) in files["profile_default/startup/01-offline-datasets.py"]
    runtime.unpack_startup(files, tmp_path / "b")
    assert runtime.startup_files(str(tmp_path / "b")) == files
    assert all(p.stat().st_mode & 0o444 == 0o444 for p in (tmp_path / "b").rglob("*"))
    runtime.write_startup(tmp_path / "c", None)  # no offline datasets: Colab's look only
    assert list(runtime.startup_files(str(tmp_path / "c"))) == ["profile_default/startup/00-like-colab.py"]


def test_two_graders_seed_one_cache_at_once(tmp_path):
    """Two batches started together on a fresh machine share ~/.cache/tdnn-grading/keras_home:
    both must end with a complete cache, neither may fail (the CIFAR-10 batch once did)."""
    home = tmp_path / "keras_home"
    code = SEED_ONE.format(datasets=str(DATASETS), home=str(home))
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    errors = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    batch = home / "datasets" / "cifar-10-batches-py" / "data_batch_1"
    assert batch.stat().st_size == 30_740_246
    assert (home / ".seeded-from-shared").exists()
