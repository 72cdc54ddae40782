"""The sandbox a student's kernel runs in: bubblewrap namespaces, a cgroup, rlimits, IPC sockets.

`SandboxSpec` describes one sandbox (the folders it may see and the caps); `kernel_command`
turns an ipykernel command line into

    python -m grading.jail LAUNCH.json

where LAUNCH.json (mode 0600) holds the bwrap command line, the kernel's environment and the
limits, so no secret is on any command line. `grading.jail` joins the sandbox's cgroup, sets the
rlimits, drops root (when the grader is root) and execs

    bwrap --seccomp FD --unshare-all --disable-userns --die-with-parent --new-session --uid 65534
          --gid 65534 --ro-bind /usr /usr ... --size N --tmpfs /tmp --size M --tmpfs /scratch ...
          -- prlimit --nproc=256:256 -- python -m ipykernel_launcher -f CONNECTION_FILE

(`grading.seccomp` builds the filter on FD; prlimit sets RLIMIT_NPROC inside the sandbox's own
user namespace, which Linux 5.14+ counts per namespace, so it caps this sandbox alone.)

`make_kernel_manager_class` returns a jupyter_client kernel manager that launches its kernel
that way and talks to it over Unix sockets (`transport="ipc"`) in a folder that only this
sandbox shares with the worker: a tmpfs of 64 KiB in the worker's own mount namespace
(`grading.connfs`), never the host's disk. The kernel's stdout and stderr go through a pipe to
kernel.log, cut at `Caps.log_bytes`; no frame larger than `Caps.message_bytes` is read from
the kernel (`limit_messages`; the worker's own limits: `grading.worker_limits`).

What the kernel can see: /usr, a few files of /etc (no /etc/shadow); the Python installation
and the venv (read-only); the offline datasets and a seeded Keras cache (read-only, under
/data); matplotlib's font list and the IPython start-up files (read-only); a size-limited
tmpfs at /scratch ($HOME and the working directory), another at /tmp and one at /dev/shm; the
connection folder (a tmpfs too); /proc of its own pid namespace
(bwrap covers /proc/sys, /proc/sysrq-trigger, /proc/irq, /proc/bus read-only where they would be
writable); a minimal /dev. Nothing else: no repository, no solutions/, no gradebook, no other
student's folder, no network (only a loopback in a fresh net namespace).

When the grader is root, the sandbox runs as the host user `nobody` (65534), so a file of the
host that only root may read stays unreadable and /proc/sys stays read-only inside.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from . import cgroups as _cgroups
from . import seccomp as _seccomp
from .runtime import DATA_MOUNT, REPO, grading_cache

SANDBOX_UID = 65534  # nobody: the uid inside the sandbox, and the host uid when the grader is root
SCRATCH_MOUNT = "/scratch"


class SandboxUnavailable(RuntimeError):
    pass


@dataclass
class Caps:
    """Limits for one submission."""
    cell_seconds: int = 300          # per cell (nbgrader Execute.timeout)
    wall_seconds: int = 900          # per submission, all cells and the kernel start together
    cpu_seconds: int = 900           # RLIMIT_CPU of each process of the kernel
    memory_mb: int = 4096            # cgroup memory of the whole sandbox, and RLIMIT_AS per process
    output_bytes: int = 1_000_000    # outputs of one cell, in bytes, before truncation
    file_mb: int = 256               # RLIMIT_FSIZE: largest file the kernel may write
    threads: int = 1                 # OMP / TF threads per kernel; also the sandbox's CPU quota
    processes: int = 256             # cgroup pids.max of the sandbox (threads count too)
    tmp_mb: int = 512                # size of the sandbox's /tmp (tmpfs, counted as its memory)
    scratch_mb: int = 512            # size of /scratch ($HOME, working directory; tmpfs)
    notebook_output_bytes: int = 5_000_000  # outputs of the whole notebook (display updates too)
    cells_factor: int = 10           # a notebook with more cells than this times the source's is refused
    shm_mb: int = 64                 # size of /dev/shm (tmpfs)
    conn_kb: int = 64                # size of the connection folder (tmpfs of the worker, 64 inodes)
    log_bytes: int = 1_000_000       # kernel.log (the kernel's stdout/stderr): the rest is dropped
    message_bytes: int = 64_000_000  # largest frame of a message from the kernel (ZMQ_MAXMSGSIZE)
    worker_memory_mb: int = 1024     # resident memory of the worker (outside the sandbox)
    worker_cpu_seconds: int = 300    # CPU time of the worker
    # Without a cgroup and without per-user-namespace process counts (Linux < 5.14), all
    # sandboxes share one RLIMIT_NPROC; grading then refuses unless the instructor accepts it.
    shared_process_limit: bool = False


@dataclass
class SandboxSpec:
    python_prefix: str                 # sys.base_prefix: the Python installation
    venv: str                          # sys.prefix: the virtual environment
    datasets: str | None               # ../shared/datasets (bound read-only at /data/datasets)
    keras_seed: str | None             # seeded Keras cache (bound read-only at /data/keras)
    ipythondir: str                    # IPython dir whose start-up files are bound read-only
    scratch: str                       # this job's host folder (kernel log, launch file, staging)
    conn_dir: str                      # connection files and IPC sockets (bound at the same path)
    caps: Caps = field(default_factory=Caps)
    env: dict = field(default_factory=dict)  # extra variables (COURSE_PROFILE; never the grading seed)
    sandbox: bool = True               # False only with --no-sandbox (trusted submissions)
    # "auto" (the default) is resolved by the worker when the kernel starts:
    cgroup: str | None = "auto"        # "cgroup2" / "cgroup1" / None (grading.cgroups.detect)
    tag: str = "auto"                  # names the cgroups (the grader's pid: it sweeps them)
    run_as: int | str | None = "auto"  # host uid of the sandbox: nobody when the grader is root
    matplotlib_cache: str | None = "auto"  # matplotlib's font list (bound read-only at /data/matplotlib)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "SandboxSpec":
        data = dict(data)
        data["caps"] = Caps(**data.get("caps", {}))
        return cls(**data)


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def host_user() -> int | None:
    """The unprivileged host uid the sandbox runs as: nobody when we are root, else ourselves."""
    return SANDBOX_UID if os.geteuid() == 0 else None


SELFTEST = r"""
import ctypes, errno, json, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
out = {"uid": os.getuid()}
if libc.syscall(KEYCTL, 0, -3, 0) < 0:  # keyctl(KEYCTL_GET_KEYRING_ID, session keyring)
    out["keyctl"] = errno.errorcode.get(ctypes.get_errno(), "?")
kids = []
try:
    for _ in range(FORKS):
        kids.append(subprocess.Popen(["sleep", "30"]))
except OSError:
    pass
out["forks"] = len(kids)
for kid in kids:
    kid.kill()
    kid.wait()
print(json.dumps(out))
"""
SELFTEST_FORKS, SELFTEST_PROCESSES, SELFTEST_SLEEPERS = 3, 8, 8


def check_sandbox(caps: Caps | None = None) -> str:
    """The bwrap binary, after checking that a sandbox can be made as it will be; raises otherwise.

    The self-test runs in a sandbox built as a kernel's (connection folder on the worker's tmpfs,
    seccomp filter, process cap of 8) while 8 other processes of the sandbox's host user sleep:
    keyctl must be refused, and 3 children must start (where the process cap counted the host
    user's processes, as Linux before 5.14 does, none would)."""
    caps = caps or Caps()
    path = _usable_bwrap()
    if not os.access(PRLIMIT, os.X_OK):
        raise SandboxUnavailable(f"{PRLIMIT} is missing (Debian: apt-get install util-linux)")
    try:
        keyctl = _seccomp.syscall_number("keyctl")
    except _seccomp.SeccompUnavailable as exc:
        raise SandboxUnavailable(str(exc)) from None
    _judge_selftest(*_run_selftest(keyctl))
    if not _cgroups.userns_process_counts() and not _cgroups.detect()[0] and not caps.shared_process_limit:
        raise SandboxUnavailable(NO_PROCESS_CAP.format(release=os.uname().release))
    return path


def _usable_bwrap() -> str:
    """The bwrap binary, if it is there and has every option the sandbox uses."""
    import subprocess
    path = bwrap_path()
    if path is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed, so student code cannot be sandboxed; "
            "install it (apt-get install bubblewrap) or, for trusted notebooks only, pass --no-sandbox")
    helptext = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=30).stdout
    missing = [flag for flag in ("--size", "--disable-userns", "--perms", "--seccomp") if flag not in helptext]
    if missing:
        raise SandboxUnavailable(f"bubblewrap at {path} is too old (no {', '.join(missing)}); "
                                 "version 0.8 or later is needed (Debian 12: apt-get install bubblewrap)")
    return path


def _run_selftest(keyctl: int) -> tuple:
    """Run SELFTEST in a kernel-like sandbox beside sleeping processes of its host user."""
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory(prefix="grading-selftest-") as tmp:
        os.chmod(tmp, 0o711)
        spec = SandboxSpec(python_prefix=sys.base_prefix, venv=sys.prefix, datasets=None,
                           keras_seed=None, ipythondir=tmp, scratch=f"{tmp}/s", conn_dir=f"{tmp}/c",
                           caps=Caps(processes=SELFTEST_PROCESSES, shared_process_limit=True),
                           run_as=host_user(), cgroup=None)
        user = {} if spec.run_as is None else {"user": spec.run_as, "group": spec.run_as, "extra_groups": []}
        sleepers = [subprocess.Popen(["sleep", "60"], stdin=subprocess.DEVNULL, **user)
                    for _ in range(SELFTEST_SLEEPERS)]
        try:
            code = SELFTEST.replace("KEYCTL", str(keyctl)).replace("FORKS", str(SELFTEST_FORKS))
            proc = run_sandboxed(spec, [f"{spec.venv}/bin/python", "-c", code], timeout=60)
        finally:
            for sleeper in sleepers:
                sleeper.kill()
                sleeper.wait()
    try:
        seen = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        seen = {}
    return proc, seen


def _judge_selftest(proc, seen: dict) -> None:
    """Raise unless the self-test ran as nobody, met the filter, and had a per-sandbox process cap."""
    if proc.returncode != 0 or seen.get("uid") != SANDBOX_UID:
        raise SandboxUnavailable(
            f"bwrap cannot create a sandbox here ({proc.stderr.strip()[-400:] or proc.returncode}); "
            "unprivileged user namespaces may be disabled (user.max_user_namespaces), or the "
            "Python installation is not readable. For trusted notebooks only: --no-sandbox")
    if seen.get("keyctl") != "EPERM":
        raise SandboxUnavailable(f"the seccomp filter did not hold in the self-test sandbox (keyctl: "
                                 f"{seen.get('keyctl', 'allowed')})")
    if _cgroups.userns_process_counts() and seen.get("forks") != SELFTEST_FORKS:
        raise SandboxUnavailable(
            f"RLIMIT_NPROC is not counted per sandbox here (Linux {os.uname().release}: "
            f"{seen.get('forks')} of {SELFTEST_FORKS} processes started under a cap of "
            f"{SELFTEST_PROCESSES}); grading would share one process limit across all sandboxes")


def describe_isolation(sandbox: bool, caps: Caps | None = None) -> str:
    """One line for the instructor: who the kernels run as, and which limits hold."""
    caps = caps or Caps()
    kind, why = _cgroups.detect()
    if not sandbox:
        return f"isolation: kernels run WITHOUT a sandbox (--no-sandbox); limits: {why}"
    user = host_user()
    who = ("kernels run as host user nobody (uid 65534)" if user is not None
           else f"kernels run as this user (uid {os.getuid()})") + f" in bubblewrap with a {_seccomp.describe()}"
    spec = SandboxSpec(python_prefix="", venv="", datasets=None, keras_seed=None, ipythondir="",
                       scratch="", conn_dir="", caps=caps, cgroup=kind)
    try:
        mode = process_cap(spec)
    except SandboxUnavailable:
        mode = None
    processes = {"userns": "RLIMIT_NPROC of the sandbox's own user namespace"
                           + (" and the cgroup's pids.max" if kind else ""),
                 "cgroup": "the cgroup's pids.max",
                 "shared": "ONE RLIMIT_NPROC SHARED by all sandboxes (--shared-process-limit)",
                 None: "NOT limited per sandbox"}[mode]
    return (f"isolation: {who}; limits: {why}; {caps.processes} processes and threads per sandbox "
            f"({processes}); /tmp {caps.tmp_mb} MB, /scratch {caps.scratch_mb} MB, /dev/shm "
            f"{caps.shm_mb} MB, connection folder {caps.conn_kb} KB (tmpfs); kernel.log "
            f"{caps.log_bytes} bytes; worker {caps.worker_memory_mb} MB, {caps.worker_cpu_seconds} s CPU, "
            f"kernel messages {caps.message_bytes} bytes")


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


def matplotlib_cache(venv: str) -> str | None:
    """A folder holding matplotlib's font list, built once per machine and matplotlib version.

    Each kernel gets a fresh $HOME, so without it every submission that imports matplotlib
    rebuilds the list (fc-list and parsing every font file: about 0.3 s of CPU per kernel).
    The list names only fonts under /usr and the venv, which the sandbox sees at the same
    paths; it is made by the grader, never by student code, and the sandbox reads it read-only.
    """
    import subprocess
    from importlib import metadata
    try:
        version = metadata.version("matplotlib")
    except metadata.PackageNotFoundError:
        return None
    base = grading_cache()
    folder = base / f"matplotlib-{version}"
    if folder.is_dir() and any(folder.glob("fontlist-*.json")):
        return str(folder)
    base.mkdir(parents=True, exist_ok=True)
    import tempfile
    tmp = Path(tempfile.mkdtemp(prefix=".matplotlib-", dir=base))
    proc = subprocess.run([os.path.join(venv, "bin", "python"), "-c", "import matplotlib.font_manager"],
                          env={"PATH": "/usr/bin:/bin", "MPLCONFIGDIR": str(tmp), "HOME": str(tmp)},
                          capture_output=True, timeout=300)
    if proc.returncode != 0 or not any(tmp.glob("fontlist-*.json")):
        shutil.rmtree(tmp, ignore_errors=True)
        return None  # the kernels build their own, as before: slower, not wrong
    os.chmod(tmp, 0o755)
    for path in tmp.iterdir():
        os.chmod(path, 0o644)
    try:
        tmp.rename(folder)  # atomic: another worker may have won the race, which is fine
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(folder)


def _matplotlib_files(spec: SandboxSpec) -> list[str]:
    folder = spec.matplotlib_cache
    return sorted(p.name for p in Path(folder).glob("fontlist-*.json")) if folder else []


def _keras_datasets(spec: SandboxSpec) -> list[str]:
    seed = Path(spec.keras_seed) / "datasets" if spec.keras_seed else None
    return sorted(e.name for e in seed.iterdir()) if seed and seed.is_dir() else []


def prepare_scratch(spec: SandboxSpec) -> None:
    """The job's host folder. With the sandbox, /scratch itself is a tmpfs made by bwrap (see
    `_scratch_ops`); without it (--no-sandbox) the host folder is the kernel's scratch."""
    scratch = Path(spec.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    os.chmod(scratch, 0o700)
    if spec.sandbox:
        return
    for sub in ("home", "work", "tmp", "keras/datasets"):
        (scratch / sub).mkdir(parents=True, exist_ok=True)
    for name in _keras_datasets(spec):
        link = scratch / "keras" / "datasets" / name
        if not link.exists():
            link.symlink_to(f"{spec.keras_seed}/datasets/{name}")
    profile = scratch / "ipython" / "profile_default"
    profile.mkdir(parents=True, exist_ok=True)
    link = profile / "startup"
    if not link.exists():
        link.symlink_to(Path(spec.ipythondir) / "profile_default" / "startup")


def _scratch_ops(spec: SandboxSpec, fonts: list[str]) -> list[str]:
    """/scratch as a sized tmpfs: home, work dir, IPython dir, a Keras cache of links onto /data."""
    ops = ["--perms", "0700", "--size", str(spec.caps.scratch_mb * 1024 * 1024), "--tmpfs", SCRATCH_MOUNT]
    for sub in ("home", "work", "keras", "keras/datasets", "ipython", "ipython/profile_default"):
        ops += ["--dir", f"{SCRATCH_MOUNT}/{sub}"]
    for name in _keras_datasets(spec):
        ops += ["--symlink", f"{DATA_MOUNT}/keras/datasets/{name}", f"{SCRATCH_MOUNT}/keras/datasets/{name}"]
    if fonts:
        ops += ["--dir", f"{SCRATCH_MOUNT}/home/.matplotlib"]
        for name in fonts:
            ops += ["--symlink", f"{DATA_MOUNT}/matplotlib/{name}", f"{SCRATCH_MOUNT}/home/.matplotlib/{name}"]
    ops += ["--symlink", f"{DATA_MOUNT}/ipython-startup", f"{SCRATCH_MOUNT}/ipython/profile_default/startup"]
    return ops


def _rlimits(spec: SandboxSpec) -> dict:
    caps = spec.caps
    limits = {"RLIMIT_AS": (caps.memory_mb * 1024 * 1024,) * 2,
              "RLIMIT_CPU": (caps.cpu_seconds, caps.cpu_seconds + 5),
              "RLIMIT_FSIZE": (caps.file_mb * 1024 * 1024,) * 2,
              "RLIMIT_CORE": (0, 0), "RLIMIT_NOFILE": (1024, 1024)}
    if spec.sandbox and process_cap(spec) == "shared":
        # Accepted by the instructor (--shared-process-limit): RLIMIT_NPROC counts every task of
        # the host user, so leave room for what that user already runs (and the other sandboxes).
        uid = spec.run_as if spec.run_as is not None else os.getuid()
        n = _cgroups.tasks_of_uid(uid) + caps.processes
        limits["RLIMIT_NPROC"] = (n, n)
    return limits


PRLIMIT = "/usr/bin/prlimit"  # util-linux; under /usr, so the sandbox sees it too


def process_cap(spec: SandboxSpec) -> str:
    """How the sandbox's processes (and threads) are capped at `caps.processes`:

    "userns": RLIMIT_NPROC set inside the sandbox (prlimit, after bubblewrap made its user
              namespace), which Linux 5.14+ counts per user namespace, so per sandbox; with a
              cgroup, its pids.max holds as well;
    "cgroup": the sandbox's cgroup (pids.max) alone (an older Linux, grader as root);
    "shared": one RLIMIT_NPROC for all sandboxes of the host user (accepted by the instructor).
    Raises SandboxUnavailable when none may be used."""
    if _cgroups.userns_process_counts():
        return "userns"
    if spec.cgroup:
        return "cgroup"
    if spec.caps.shared_process_limit:
        return "shared"
    raise SandboxUnavailable(NO_PROCESS_CAP.format(release=os.uname().release))


NO_PROCESS_CAP = (
    "each sandbox needs a process limit of its own, and this machine offers none to this user: "
    "no writable cgroup, and Linux {release} counts RLIMIT_NPROC over all processes of a host "
    "user (per user namespace only from 5.14 on), so one forking student would stop the "
    "kernels of every other sandbox. Run the grader as root, or in a delegated cgroup (e.g. "
    "`systemd-run --user --scope -p Delegate=yes python -m grading ...` on cgroup v2), or on "
    "Linux 5.14 or later; or accept one limit shared by all sandboxes with "
    "--shared-process-limit.")


def _bwrap_args(spec: SandboxSpec, stage: dict) -> list[str]:
    bwrap = bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable("bwrap disappeared")
    root = spec.run_as is not None and os.geteuid() == 0

    def source(path: str) -> str:
        """Root stages every host source where the sandbox user can reach it (grading.jail)."""
        if not root:
            return path
        if not _STAGES or stage.get("") != _STAGES[-1]:
            # In /tmp (always traversable): the job's own folders may sit below a 0700 one.
            import tempfile
            stage[""] = tempfile.mkdtemp(prefix="tdnn-stage-", dir="/tmp")
            os.chmod(stage[""], 0o711)
            _STAGES.append(stage[""])
        dst = os.path.join(stage[""], str(len(stage)))
        os.mkdir(dst)
        stage[path] = dst
        return dst

    cmd = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
           "--new-session", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
           "--hostname", "sandbox",
           "--ro-bind", "/usr", "/usr",
           "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
           "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
           "--proc", "/proc", "--dev", "/dev",
           "--perms", "1777", "--size", str(spec.caps.shm_mb * 1024 * 1024), "--tmpfs", "/dev/shm",
           "--perms", "1777", "--size", str(spec.caps.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp"]
    # /etc without secrets: only what Python, ssl and locale look at.
    for name in ("passwd", "group", "nsswitch.conf", "hosts", "localtime", "ld.so.cache",
                 "ld.so.conf", "ld.so.conf.d", "ssl/certs", "alternatives", "mime.types", "fonts"):
        if os.path.exists(f"/etc/{name}"):
            cmd += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    seen = set()
    for path in (spec.python_prefix, spec.venv):
        real = os.path.realpath(path)
        for p in sorted({path, real}):
            if p not in seen and not p.startswith("/usr/"):
                seen.add(p)
                cmd += ["--ro-bind", source(p), p]
    if spec.datasets:
        cmd += ["--ro-bind", source(spec.datasets), f"{DATA_MOUNT}/datasets"]
    if spec.keras_seed:
        cmd += ["--ro-bind", source(spec.keras_seed), f"{DATA_MOUNT}/keras"]
    fonts = _matplotlib_files(spec)
    if fonts:
        cmd += ["--ro-bind", source(spec.matplotlib_cache), f"{DATA_MOUNT}/matplotlib"]
    cmd += ["--ro-bind", source(f"{spec.ipythondir}/profile_default/startup"),
            f"{DATA_MOUNT}/ipython-startup"]
    cmd += _scratch_ops(spec, fonts)
    cmd += ["--bind", source(spec.conn_dir), spec.conn_dir,
            "--remount-ro", "/", "--chdir", f"{SCRATCH_MOUNT}/work", "--"]
    return cmd


_CGROUPS: list = []  # cgroups this worker made; `release_all` removes them
_STAGES: list = []   # staging folders (empty on the host: the binds live in the jail's namespace)


def resolve(spec: SandboxSpec) -> SandboxSpec:
    if spec.cgroup == "auto":
        spec.cgroup = _cgroups.detect()[0]
    if spec.run_as == "auto":
        spec.run_as = host_user()
    if spec.matplotlib_cache == "auto":
        spec.matplotlib_cache = matplotlib_cache(spec.venv) if spec.sandbox else None
    if spec.tag == "auto":
        spec.tag = str(os.getppid())  # the worker's parent: the grader
    return spec


def kernel_command(spec: SandboxSpec, argv: list[str]) -> list[str]:
    """Write the launch file for `grading.jail` and return its (secret-free) command line."""
    resolve(spec)
    os.makedirs(spec.scratch, exist_ok=True)
    os.makedirs(spec.conn_dir, exist_ok=True)
    cgroup = None
    if spec.cgroup:
        caps = spec.caps
        cgroup = _cgroups.SandboxCgroup.create(f"{spec.tag}-{os.getpid()}-{len(_CGROUPS)}",
                                               memory_mb=caps.memory_mb, pids=caps.processes,
                                               cpus=max(1, caps.threads))
        _CGROUPS.append(cgroup)
    stage: dict = {}
    launch = {"rlimits": _rlimits(spec), "cgroup_procs": cgroup.procs_files() if cgroup else []}
    if spec.sandbox:
        inside = []
        if process_cap(spec) == "userns":
            n = spec.caps.processes
            inside = [PRLIMIT, f"--nproc={n}:{n}", "--"]
        launch["argv"] = _bwrap_args(spec, stage) + inside + argv
        launch["env"] = sandbox_env(spec)
        launch["seccomp"] = _write_private(os.path.join(spec.scratch, "seccomp.bpf"), _seccomp.program())
        if spec.run_as is not None and os.geteuid() == 0:
            stage.pop("", None)
            launch.update(uid=spec.run_as, gid=spec.run_as, stage=stage, give=[spec.conn_dir])
    else:
        launch["argv"] = argv
        launch["env"] = sandbox_env(spec)
        launch["cwd"] = os.path.join(spec.scratch, "work")
    path = _write_private(os.path.join(spec.scratch, "launch.json"), json.dumps(launch).encode())
    return [sys.executable, "-m", "grading.jail", path]


def _write_private(path: str, data: bytes) -> str:
    """A file only the grader may read (mode 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


def launcher_env() -> dict:
    """Environment of `python -m grading.jail` itself (the kernel gets the one in LAUNCH.json)."""
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "LANG": "C.UTF-8"}


def release_all() -> dict:
    """Kill what is left in this worker's cgroups and remove them; what the limits caught."""
    seen = {"oom_kills": 0, "pids_refused": 0}
    while _CGROUPS:
        cg = _CGROUPS.pop()
        seen["oom_kills"] += cg.oom_kills()
        seen["pids_refused"] += cg.pids_refused()
        cg.remove()
    while _STAGES:
        shutil.rmtree(_STAGES.pop(), ignore_errors=True)
    return seen


def run_sandboxed(spec: SandboxSpec, argv: list[str], timeout: float):
    """Run a plain command in a sandbox built like a kernel's (self-test and tests); CompletedProcess.
    The cgroup, if any, is removed afterwards; `proc.limits` says what it caught."""
    import subprocess
    Path(spec.ipythondir, "profile_default", "startup").mkdir(parents=True, exist_ok=True)
    prepare_scratch(spec)
    try:
        cmd = kernel_command(spec, argv)
        if spec.sandbox:  # the connection folder on a tmpfs, as the worker has it
            cmd = [sys.executable, "-m", "grading.connfs", spec.conn_dir, str(spec.caps.conn_kb), "--", *cmd]
        proc = subprocess.run(cmd, env=launcher_env(), cwd=spec.scratch, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    finally:
        seen = release_all()
    proc.limits = seen
    return proc


LOG_TRUNCATED = "\n[kernel.log truncated by the grader at {} bytes; the rest was dropped]\n"


def bounded_log(path: str, cap: int) -> int:
    """The write end of a pipe whose first `cap` bytes go to `path` (then a truncation line);
    the rest is read and dropped, so a writer never blocks and the file never grows past it."""
    import threading
    read_end, write_end = os.pipe()

    def copy():
        written = 0
        with open(read_end, "rb", buffering=0) as src, open(path, "ab") as dst:
            while chunk := src.read(1 << 16):
                if written < cap:
                    dst.write(chunk[:cap - written])
                    written += len(chunk)
                    if written >= cap:
                        dst.write(LOG_TRUNCATED.format(cap).encode())
                    dst.flush()

    threading.Thread(target=copy, name="kernel-log", daemon=True).start()
    return write_end


def limit_messages(context, max_bytes: int) -> None:
    """No socket of this ZMQ context accepts a frame larger than `max_bytes` (ZMQ_MAXMSGSIZE):
    the kernel's connection is dropped (and reconnected) before such a frame is read into
    memory. Applies to the sockets the context creates from now on."""
    import zmq
    context.setsockopt(zmq.MAXMSGSIZE, int(max_bytes))


def make_kernel_manager_class(spec: SandboxSpec):
    """An AsyncKernelManager subclass bound to this sandbox (nbclient instantiates it itself)."""

    class SandboxKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            kwargs.setdefault("transport", "ipc")
            super().__init__(**kwargs)
            self.transport = "ipc"
            self.ip = os.path.join(spec.conn_dir, "k")
            self.connection_file = os.path.join(spec.conn_dir, "kernel.json")
            limit_messages(self.context, spec.caps.message_bytes)
            self._log_pipe = None

        def client(self, **kwargs):
            kc = super().client(**kwargs)
            limit_messages(kc.context, spec.caps.message_bytes)  # before its sockets exist
            return kc

        def format_kernel_cmd(self, extra_arguments=None):
            # bwrap would swallow a SIGINT meant for the kernel: interrupt through the control channel.
            self.kernel_spec.interrupt_mode = "message"
            python = os.path.join(spec.venv, "bin", "python")
            argv = [python, "-m", "ipykernel_launcher", "-f", self.connection_file,
                    *(extra_arguments or [])]
            return kernel_command(spec, argv)

        async def _async_pre_start_kernel(self, **kw):
            # No environment or working directory leaks from the grader into the kernel: the
            # launcher gets a minimal one and hands the kernel the one in its launch file.
            kw["env"] = launcher_env()
            kw["cwd"] = spec.scratch
            # The kernel's stdout and stderr (and the launcher's): a pipe, written to kernel.log
            # up to its cap by a thread of the worker, so the kernel never holds a host file.
            self._log_pipe = bounded_log(os.path.join(spec.scratch, "kernel.log"), spec.caps.log_bytes)
            kw["stdout"] = kw["stderr"] = self._log_pipe
            return await super()._async_pre_start_kernel(**kw)

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            try:
                return await super()._async_launch_kernel(kernel_cmd, **kw)
            finally:  # the kernel holds its own copy: the log ends when the sandbox does
                if self._log_pipe is not None:
                    os.close(self._log_pipe)
                    self._log_pipe = None

    return SandboxKernelManager


if __name__ == "__main__":  # python -m grading.sandbox: is a sandbox possible here?
    try:
        print("sandbox OK:", check_sandbox())
        print(describe_isolation(True))
    except SandboxUnavailable as exc:
        sys.exit(f"error: {exc}")
