"""The offline Keras cache (scripts/kernel_env.py) that graders and tests share."""
import subprocess
import sys

from conftest import DATASETS, REPO

SEED_ONE = ("import sys; sys.path.insert(0, {scripts!r}); from pathlib import Path; import kernel_env; "
            "kernel_env.seed_cache(Path({datasets!r}), Path({home!r}))")


def test_two_graders_seed_one_cache_at_once(tmp_path):
    """Two batches started together on a fresh machine share ~/.cache/tdnn-grading/keras_home:
    both must end with a complete cache, neither may fail (the CIFAR-10 batch once did)."""
    home = tmp_path / "keras_home"
    code = SEED_ONE.format(scripts=str(REPO / "scripts"), datasets=str(DATASETS), home=str(home))
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    errors = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    batch = home / "datasets" / "cifar-10-batches-py" / "data_batch_1"
    assert batch.stat().st_size == 30_740_246
    assert (home / ".seeded-from-shared").exists()
