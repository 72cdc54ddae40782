"""What a kernel finds when it starts: the offline datasets, a seeded Keras cache, IPython start-up files.

    python -m grading.runtime IPYTHONDIR [DATASETS_DIR KERAS_HOME]

The book build, the tests and the grader give their kernels the same start-up files:

- 00-like-colab.py: `import nbgrader` fails, as in Colab, so a page or release notebook that
  depends on nbgrader fails here too;
- 01-offline-datasets.py (when the datasets are there): keras.datasets.cifar10.load_data() uses
  the offline copy seeded into KERAS_HOME instead of downloading (Keras checks the hash of the
  original archive, which a rebuilt copy cannot match; see DATASETS_DIR/README.md). Fashion-MNIST
  needs nothing beyond the seeded cache.

The notebooks themselves stay plain: they call keras.datasets.*.load_data() as in Colab.

The datasets folder has one rule (`datasets_dir`): `$COURSE_DATASETS`, else `../shared/datasets`
beside the repository. The grader adds the read-only sharing its sandboxes need (`prepare`), and a
Dask worker rebuilds the same runtime from the start-up files sent as data (`unpack_startup`).
"""
from __future__ import annotations

import fcntl
import functools
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]  # the course repository: the package's parent
DATA_MOUNT = "/data"  # where a sandboxed kernel sees the datasets and the Keras cache
# CIFAR-10 images (of data_batch_1) whose labels the grader holds out: the cifar10 budget checks
# evaluate on them, so the kernels' copy of the dataset has other labels and file names there.
HELD_OUT_CIFAR10 = range(1000, 5000)
KERNEL_DATA_VERSION = "2"  # bump when the kernels' copy changes (2: readable by load_data())

def hide_module(name: str) -> str:
    """A start-up script after which `import <name>` fails in the kernel, as it does in Colab."""
    return f'''\
# Written by grading/runtime.py: students in Colab have no {name}; neither do these kernels.
import importlib.abc, sys


class _Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname == {name!r} or fullname.startswith({name + "."!r}):
            raise ModuleNotFoundError("No module named {name!r} (as in Colab)", name=fullname)
        return None


sys.meta_path.insert(0, _Hide())
'''


LIKE_COLAB = hide_module("nbgrader")

OFFLINE_CIFAR10 = '''\
# Written by grading/runtime.py: lets keras.datasets.cifar10.load_data() use the
# seeded offline copy in $KERAS_HOME instead of downloading. Patches nothing else.
import importlib.abc, importlib.util, sys

_DATASETS = {datasets!r}


class _OfflineCifar10(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras.src.datasets.cifar10":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        real_exec = spec.loader.exec_module

        def exec_module(module):
            real_exec(module)
            if _DATASETS not in sys.path:
                sys.path.append(_DATASETS)
            import keras_offline
            keras_offline.enable()

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _OfflineCifar10())
'''


def datasets_dir(explicit: Path | None = None) -> Path:
    """The offline datasets: `explicit`, else $COURSE_DATASETS, else ../shared/datasets."""
    if explicit is None:
        env = os.environ.get("COURSE_DATASETS")
        explicit = Path(env) if env else REPO.parent / "shared" / "datasets"
    return Path(explicit).resolve()


def has_datasets(folder: Path) -> bool:
    return (Path(folder) / "seed_keras_cache.py").exists()


def grading_cache() -> Path:
    """The grader's own cache on this machine (seeded Keras cache, matplotlib's font list)."""
    return Path(os.environ.get("GRADING_CACHE", Path.home() / ".cache" / "tdnn-grading"))


def seed_cache(datasets: Path, keras_home: Path) -> None:
    """Seed KERAS_HOME once. Several graders (two test workers, two courses on one machine)
    may share one cache: the first seeds it under an exclusive lock, the others wait for it,
    since seed_keras_cache.py writes each file through a fixed `.part` name."""
    marker = keras_home / ".seeded-from-shared"
    if marker.exists():
        return
    keras_home.mkdir(parents=True, exist_ok=True)
    with open(keras_home.parent / f".{keras_home.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():  # seeded by whoever held the lock before us
            return
        subprocess.run([sys.executable, str(datasets / "seed_keras_cache.py"), str(keras_home)],
                       check=True, stdout=subprocess.DEVNULL)
        marker.write_text(str(datasets) + "\n")


def write_startup(ipythondir: Path, datasets: Path | None) -> None:
    """The start-up files; `datasets`: where the kernel sees the datasets (None: no offline copy)."""
    startup = ipythondir / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-like-colab.py").write_text(LIKE_COLAB)
    if datasets is not None:
        (startup / "01-offline-datasets.py").write_text(OFFLINE_CIFAR10.format(datasets=str(datasets)))


# ------------------------------------------------------------------- the grader's kernels
def share_read_only(folder: Path) -> None:
    """Folders and files below `folder` readable (not writable) by every user."""
    for dirpath, dirnames, filenames in os.walk(folder):
        os.chmod(dirpath, os.stat(dirpath).st_mode | 0o555)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o444)


def _open_to_sandboxes(ipythondir: Path) -> None:
    """The grader writes under umask 077; the sandbox's user must read the start-up files."""
    for path in [ipythondir, *ipythondir.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


@functools.lru_cache(maxsize=None)
def keras_seed(datasets: str) -> str:
    """The Keras cache every sandbox sees (read-only): this machine's seeded cache without the
    labels the grader holds out (`kernel_copy`); made once per process."""
    seed = grading_cache() / "keras_home"
    seed_cache(Path(datasets), seed)
    # One folder per version: a grader of another version on this machine (another checkout)
    # never rebuilds the copy under sandboxes that are reading it.
    kernels = grading_cache() / f"keras_home_kernels-v{KERNEL_DATA_VERSION}"
    kernel_copy(seed, kernels)
    share_read_only(kernels)  # made under umask 077: the sandbox user must read it
    return str(kernels)


def kernel_copy(seed: Path, dest: Path) -> None:
    """`seed` (a Keras cache) copied to `dest` (hard links where it can) except CIFAR-10's
    data_batch_1, rewritten with other labels and file names at HELD_OUT_CIFAR10: a kernel cannot
    look up the labels of the images it is graded on. Safe for several graders at once."""
    marker = dest / ".kernel-copy"
    if marker.exists() and marker.read_text() == KERNEL_DATA_VERSION:
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / f".{dest.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and marker.read_text() == KERNEL_DATA_VERSION:
            return
        tmp = dest.with_name(dest.name + ".part")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(seed, tmp, symlinks=True, copy_function=_link_or_copy)
        for batch in tmp.glob("datasets/**/cifar-10-batches-py/data_batch_1"):
            if not batch.is_symlink():
                _withhold_labels(batch)
        (tmp / ".kernel-copy").write_text(KERNEL_DATA_VERSION)
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _withhold_labels(path: Path) -> None:
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    labels = list(batch[b"labels"])
    names = list(batch.get(b"filenames") or [])  # the original's file names say the class too
    for i in HELD_OUT_CIFAR10:  # a fixed stand-in class (the real one is the grader's only)
        labels[i] = (i * 7) % 10
        if i < len(names):
            names[i] = b"withheld_%05d.png" % i
    batch[b"labels"] = labels
    if names:
        batch[b"filenames"] = names
    path.unlink()  # a hard link to the seed: write a new file, never through the link
    with open(path, "wb") as f:  # protocol 4: NumPy's globals only, as Keras' restricted unpickler
        pickle.dump(batch, f, protocol=4)  # wants (protocol 2 pickles bytes with _codecs.encode)


def kernel_datasets(datasets: Path) -> str:
    """What sandboxes see of the offline datasets folder: its loader module only (the folder
    holds every label; the Keras cache of `keras_seed` holds the data)."""
    view = grading_cache() / "kernel_datasets"
    view.mkdir(parents=True, exist_ok=True)
    text = (Path(datasets) / "keras_offline.py").read_text()
    target = view / "keras_offline.py"
    if not target.exists() or target.read_text() != text:
        tmp = view / f".keras_offline.{os.getpid()}.tmp"
        tmp.write_text(text)
        tmp.replace(target)
    share_read_only(view)
    return str(view)


def prepare(work: Path, datasets: Path, sandboxed: bool) -> dict:
    """The runtime of a batch's kernels, below `work`: {"datasets", "keras_seed", "ipythondir"}
    (the first two None when there are no offline datasets)."""
    have_data = has_datasets(datasets)
    startup = work / "ipython"
    seen_at = Path(f"{DATA_MOUNT}/datasets") if sandboxed else datasets
    write_startup(startup, seen_at if have_data else None)
    _open_to_sandboxes(startup)
    os.chmod(work, 0o755)
    return {"datasets": kernel_datasets(datasets) if have_data else None,
            "keras_seed": keras_seed(str(datasets)) if have_data else None,
            "ipythondir": str(startup)}


def startup_files(ipythondir: str) -> dict[str, str]:
    """The start-up files as data (sent to a Dask worker)."""
    root = Path(ipythondir)
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def unpack_startup(files: dict[str, str], ipythondir: Path) -> None:
    """The start-up files of `startup_files`, written where a sandbox on this machine reads them."""
    for rel, text in files.items():
        path = ipythondir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    _open_to_sandboxes(ipythondir)


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 3):
        sys.exit(__doc__)
    ipythondir = Path(argv[0]).resolve()
    datasets = None
    if len(argv) == 3:
        datasets, keras_home = Path(argv[1]).resolve(), Path(argv[2]).resolve()
        if not has_datasets(datasets):
            sys.exit(f"error: {datasets} holds no seed_keras_cache.py; is ../shared/datasets there?")
        seed_cache(datasets, keras_home)
        print(f"Offline datasets: KERAS_HOME={keras_home}")
    write_startup(ipythondir, datasets)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
