"""Seed a Keras cache from the offline dataset copies and teach IPython kernels to use it.

    python scripts/offline_data.py DATASETS_DIR KERAS_HOME IPYTHONDIR

Fashion-MNIST works from the seeded cache as it is. CIFAR-10 needs Keras' archive
hash check bypassed (see DATASETS_DIR/README.md); an IPython startup file does that
in every kernel, lazily, when keras.datasets.cifar10 is first imported, so the
notebooks themselves call plain keras.datasets.*.load_data() as in Colab.
"""
import subprocess
import sys
from pathlib import Path

STARTUP = '''\
# Written by scripts/offline_data.py: lets keras.datasets.cifar10.load_data() use the
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
    marker = keras_home / ".seeded-from-shared"
    if marker.exists():
        return
    keras_home.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(datasets / "seed_keras_cache.py"), str(keras_home)],
                   check=True, stdout=subprocess.DEVNULL)
    marker.write_text(str(datasets) + "\n")


def write_startup(datasets: Path, ipythondir: Path) -> Path:
    startup = ipythondir / "profile_default" / "startup" / "00-offline-datasets.py"
    startup.parent.mkdir(parents=True, exist_ok=True)
    startup.write_text(STARTUP.format(datasets=str(datasets)))
    return startup


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    datasets, keras_home, ipythondir = (Path(a).resolve() for a in argv)
    if not (datasets / "seed_keras_cache.py").exists():
        sys.exit(f"error: {datasets} holds no seed_keras_cache.py; is ../shared/datasets there?")
    seed_cache(datasets, keras_home)
    write_startup(datasets, ipythondir)
    print(f"Offline datasets: KERAS_HOME={keras_home}")


if __name__ == "__main__":
    main(sys.argv[1:])
