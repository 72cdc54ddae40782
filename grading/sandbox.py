"""The sandbox a student's kernel runs in: bubblewrap namespaces, resource limits, IPC sockets.

`SandboxSpec` describes one sandbox (the folders it may see and the caps); `kernel_command`
turns an ipykernel command line into

    prlimit --as=... --cpu=... --fsize=... --core=0 --nofile=... -- \
        bwrap --unshare-all --die-with-parent --new-session --uid 65534 --gid 65534 \
              --ro-bind /usr /usr ... --clearenv --setenv ... --chdir /scratch/work -- \
        python -m ipykernel_launcher -f CONNECTION_FILE ...

and `make_kernel_manager_class` returns a jupyter_client kernel manager that launches its kernel
that way and talks to it over Unix sockets (`transport="ipc"`) in a folder that only this
sandbox shares with the worker.

What the kernel can see: /usr, /etc (read-only; no /etc/shadow); the Python installation and
the venv (read-only); the offline datasets and a seeded Keras cache (read-only, under /data);
an IPython profile with start-up files (read-only); its own scratch folder (read-write, also
$HOME and the working directory); the connection folder (read-write); a private /tmp (tmpfs),
/proc of its own pid namespace, a minimal /dev. Nothing else: no repository, no solutions/, no
gradebook, no other student's folder, no network (only a loopback in a fresh net namespace).
"""
from __future__ import annotations

import os
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

SANDBOX_UID = 65534  # nobody
DATA_MOUNT = "/data"
SCRATCH_MOUNT = "/scratch"


class SandboxUnavailable(RuntimeError):
    pass


@dataclass
class Caps:
    """Limits for one submission."""
    cell_seconds: int = 300          # per cell (nbgrader Execute.timeout)
    wall_seconds: int = 900          # per submission, all cells and the kernel start together
    cpu_seconds: int = 900           # RLIMIT_CPU of the kernel (all its threads)
    memory_mb: int = 4096            # RLIMIT_AS of the kernel (TensorFlow alone maps ~2.5 GB)
    output_bytes: int = 1_000_000    # outputs of one cell, in bytes, before truncation
    file_mb: int = 256               # RLIMIT_FSIZE: largest file the kernel may write
    threads: int = 1                 # OMP / TF intra- and inter-op threads per kernel


@dataclass
class SandboxSpec:
    python_prefix: str                 # sys.base_prefix: the Python installation
    venv: str                          # sys.prefix: the virtual environment
    datasets: str | None               # ../shared/datasets (bound read-only at /data/datasets)
    keras_seed: str | None             # seeded Keras cache (bound read-only at /data/keras)
    ipythondir: str                    # IPython dir whose start-up files are bound read-only
    scratch: str                       # this submission's writable folder (bound at /scratch)
    conn_dir: str                      # connection files and IPC sockets (bound at the same path)
    caps: Caps = field(default_factory=Caps)
    env: dict = field(default_factory=dict)  # extra variables (COURSE_GRADING_SEED, ...)
    sandbox: bool = True               # False only with --no-sandbox (trusted submissions)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "SandboxSpec":
        data = dict(data)
        data["caps"] = Caps(**data.get("caps", {}))
        return cls(**data)


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def check_sandbox() -> str:
    """The bwrap binary, after checking that it can create the namespaces; raises otherwise."""
    import subprocess
    path = bwrap_path()
    if path is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed, so student code cannot be sandboxed; "
            "install it (apt-get install bubblewrap) or, for trusted notebooks only, pass --no-sandbox")
    probe = [path, "--unshare-all", "--die-with-parent", "--unshare-user",
             "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
             "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
             "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
             "--proc", "/proc", "--dev", "/dev", "--", "/bin/true"]
    proc = subprocess.run(probe, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise SandboxUnavailable(
            f"bwrap cannot create a sandbox here ({proc.stderr.strip() or proc.returncode}); "
            "unprivileged user namespaces may be disabled. For trusted notebooks only: --no-sandbox")
    return path


def sandbox_env(spec: SandboxSpec) -> dict:
    """The kernel's whole environment (nothing is inherited from the grader)."""
    threads = str(spec.caps.threads)
    scratch = SCRATCH_MOUNT if spec.sandbox else spec.scratch
    env = {
        "PATH": f"{spec.venv}/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": f"{scratch}/home",
        "TMPDIR": "/tmp" if spec.sandbox else f"{scratch}/tmp",
        "LANG": "C.UTF-8",
        "VIRTUAL_ENV": spec.venv,
        "IPYTHONDIR": f"{scratch}/ipython",
        "MPLBACKEND": "agg",
        "MPLCONFIGDIR": f"{scratch}/home/.matplotlib",
        "KERAS_HOME": f"{scratch}/keras",
        "KERAS_BACKEND": "tensorflow",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "OMP_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "TF_NUM_INTRAOP_THREADS": threads,
        "TF_NUM_INTEROP_THREADS": threads,
        "PYTHONDONTWRITEBYTECODE": "1",
        "NBGRADER_EXECUTION": "autograde",
    }
    env.update({k: str(v) for k, v in spec.env.items()})
    return env


def prepare_scratch(spec: SandboxSpec) -> None:
    """Writable scratch: home, work dir, and a Keras cache of links onto the read-only seed."""
    scratch = Path(spec.scratch)
    for sub in ("home", "work", "tmp", "keras/datasets"):
        (scratch / sub).mkdir(parents=True, exist_ok=True)
    if spec.keras_seed:
        seed_root = Path(spec.keras_seed)
        target_root = f"{DATA_MOUNT}/keras" if spec.sandbox else str(seed_root)
        seed_datasets = seed_root / "datasets"
        if seed_datasets.is_dir():
            for entry in seed_datasets.iterdir():
                link = scratch / "keras" / "datasets" / entry.name
                if not link.exists():
                    link.symlink_to(f"{target_root}/datasets/{entry.name}")
    profile = scratch / "ipython" / "profile_default"
    profile.mkdir(parents=True, exist_ok=True)
    link = profile / "startup"
    if not link.exists():  # the start-up files stay read-only; the rest of the profile is scratch
        startup = Path(spec.ipythondir) / "profile_default" / "startup"
        link.symlink_to(f"{DATA_MOUNT}/ipython-startup" if spec.sandbox else str(startup))
    os.chmod(scratch, 0o777)
    for path in scratch.rglob("*"):
        if not path.is_symlink():
            os.chmod(path, 0o777)


def kernel_command(spec: SandboxSpec, argv: list[str]) -> list[str]:
    """Wrap a kernel command line (python -m ipykernel_launcher ...) in prlimit + bwrap."""
    caps = spec.caps
    limits = ["prlimit",
              f"--as={caps.memory_mb * 1024 * 1024}",
              f"--cpu={caps.cpu_seconds}:{caps.cpu_seconds + 5}",
              f"--fsize={caps.file_mb * 1024 * 1024}",
              "--core=0", "--nofile=1024", "--"]
    if not spec.sandbox:
        return limits + argv
    bwrap = bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable("bwrap disappeared")
    cmd = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session",
           "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox",
           "--ro-bind", "/usr", "/usr",
           "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
           "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
           "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    # /etc without secrets: only what Python, ssl and locale look at.
    for name in ("passwd", "group", "nsswitch.conf", "hosts", "localtime", "ld.so.cache",
                 "ld.so.conf", "ld.so.conf.d", "ssl", "alternatives", "mime.types", "fonts"):
        if os.path.exists(f"/etc/{name}"):
            cmd += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    seen = set()
    for path in (spec.python_prefix, spec.venv):
        real = os.path.realpath(path)
        for p in {path, real}:
            if p not in seen and not p.startswith("/usr/"):
                seen.add(p)
                cmd += ["--ro-bind", p, p]
    if spec.datasets:
        cmd += ["--ro-bind", spec.datasets, f"{DATA_MOUNT}/datasets"]
    if spec.keras_seed:
        cmd += ["--ro-bind", spec.keras_seed, f"{DATA_MOUNT}/keras"]
    cmd += ["--ro-bind", f"{spec.ipythondir}/profile_default/startup", f"{DATA_MOUNT}/ipython-startup",
            "--bind", spec.scratch, SCRATCH_MOUNT,
            "--bind", spec.conn_dir, spec.conn_dir,
            "--remount-ro", "/",
            "--chdir", f"{SCRATCH_MOUNT}/work", "--clearenv"]
    for key, value in sandbox_env(spec).items():
        cmd += ["--setenv", key, value]
    return limits + cmd + ["--"] + argv


def make_kernel_manager_class(spec: SandboxSpec):
    """An AsyncKernelManager subclass bound to this sandbox (nbclient instantiates it itself)."""

    class SandboxKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            kwargs.setdefault("transport", "ipc")
            super().__init__(**kwargs)
            self.transport = "ipc"
            self.ip = os.path.join(spec.conn_dir, "k")
            self.connection_file = os.path.join(spec.conn_dir, "kernel.json")

        def format_kernel_cmd(self, extra_arguments=None):
            # bwrap would swallow a SIGINT meant for the kernel: interrupt through the control channel.
            self.kernel_spec.interrupt_mode = "message"
            python = os.path.join(spec.venv, "bin", "python")
            argv = [python, "-m", "ipykernel_launcher", "-f", self.connection_file,
                    *(extra_arguments or [])]
            return kernel_command(spec, argv)

        async def _async_pre_start_kernel(self, **kw):
            # No environment or working directory leaks from the grader into the kernel.
            kw["env"] = dict(sandbox_env(spec)) if not spec.sandbox else {"PATH": "/usr/bin:/bin"}
            if not spec.sandbox:
                kw["env"]["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
            kw["cwd"] = spec.scratch + "/work" if not spec.sandbox else spec.conn_dir
            log = open(os.path.join(spec.scratch, "kernel.log"), "ab")
            kw["stdout"], kw["stderr"] = log, log
            return await super()._async_pre_start_kernel(**kw)

    return SandboxKernelManager


if __name__ == "__main__":  # python -m grading.sandbox: is a sandbox possible here?
    try:
        print("sandbox OK:", check_sandbox())
    except SandboxUnavailable as exc:
        sys.exit(f"error: {exc}")
