"""Prepare the environment that the book's and the tests' notebook kernels start in.

    python scripts/kernel_env.py IPYTHONDIR [DATASETS_DIR KERAS_HOME]

Writes IPython startup files into IPYTHONDIR:
- 00-like-colab.py: `import nbgrader` fails, as in Colab, so a page or release notebook
  that depends on nbgrader fails here too;
- 01-offline-datasets.py (with DATASETS_DIR): keras.datasets.cifar10.load_data() uses
  the offline copy seeded into KERAS_HOME instead of downloading (Keras checks the hash
  of the original archive, which a rebuilt copy cannot match; see DATASETS_DIR/README.md).
  Fashion-MNIST needs nothing beyond the seeded cache.
The notebooks themselves stay plain: they call keras.datasets.*.load_data() as in Colab.
"""
import fcntl
import subprocess
import sys
from pathlib import Path

LIKE_COLAB = '''\
# Written by scripts/kernel_env.py: students in Colab have no nbgrader; neither do these kernels.
import importlib.abc, sys


class _NoNbgrader(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname == "nbgrader" or fullname.startswith("nbgrader."):
            raise ModuleNotFoundError("No module named 'nbgrader' (as in Colab)", name=fullname)
        return None


sys.meta_path.insert(0, _NoNbgrader())
'''

OFFLINE_CIFAR10 = '''\
# Written by scripts/kernel_env.py: lets keras.datasets.cifar10.load_data() use the
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
    startup = ipythondir / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-like-colab.py").write_text(LIKE_COLAB)
    if datasets is not None:
        (startup / "01-offline-datasets.py").write_text(OFFLINE_CIFAR10.format(datasets=str(datasets)))


def main(argv):
    if len(argv) not in (1, 3):
        sys.exit(__doc__)
    ipythondir = Path(argv[0]).resolve()
    datasets = None
    if len(argv) == 3:
        datasets, keras_home = Path(argv[1]).resolve(), Path(argv[2]).resolve()
        if not (datasets / "seed_keras_cache.py").exists():
            sys.exit(f"error: {datasets} holds no seed_keras_cache.py; is ../shared/datasets there?")
        seed_cache(datasets, keras_home)
        print(f"Offline datasets: KERAS_HOME={keras_home}")
    write_startup(ipythondir, datasets)


if __name__ == "__main__":
    main(sys.argv[1:])
