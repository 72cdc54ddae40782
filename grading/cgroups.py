"""A cgroup per sandbox (memory, pids, CPU), where the machine lets the grader make one.

`detect()` says which mechanism this machine offers to this process:

- "cgroup2": the unified hierarchy with the memory, pids and cpu controllers, writable by us
  (as root, or a delegated subtree): memory.max, memory.swap.max, pids.max, cpu.max;
- "cgroup1": the legacy memory, pids and cpu hierarchies (many VMs and older Docker hosts),
  writable by us: memory.limit_in_bytes, pids.max, cpu.cfs_quota_us;
- None: no cgroup we may write (a non-root grader without delegation). Then only rlimits hold:
  RLIMIT_AS and RLIMIT_CPU per process (several processes of one sandbox can then add up past
  the memory cap), and RLIMIT_NPROC per sandbox (below).

Processes are capped per sandbox either way: with a cgroup by its pids.max, and on Linux 5.14 or
later also by RLIMIT_NPROC inside the sandbox, which the kernel counts per user namespace (each
bubblewrap sandbox has its own); see `userns_process_counts`.

In a delegated cgroup v2 subtree (`systemd-run --user --scope -p Delegate=yes ...`) the grader
holds processes in its own cgroup, where the "no internal processes" rule forbids enabling
controllers for children: the grader first moves its processes into a leaf below
(`tdnn-grader-PID`) and makes the sandboxes' cgroups beside that leaf.

A `SandboxCgroup` is created by the worker before its kernel starts, the kernel's launcher
(`grading.jail`) moves itself into it before it drops privileges, and the worker kills what is
left in it and removes it when the job ends. Sub-cgroups are made below the grader's own cgroup,
so whatever limits the machine puts on the grader still hold.
"""
from __future__ import annotations

import errno
import os
import re
import signal
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "pids", "cpu")
PREFIX = "tdnn-grading-"
LEAF = "tdnn-grader-"  # cgroup v2: the leaf the grader moves into (not PREFIX: sweeps never kill it)


def _own_path(controller: str | None) -> str:
    """This process's cgroup path for a v1 controller, or the unified one (controller None)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        num, ctrls, path = line.split(":", 2)
        if controller is None and num == "0" and ctrls == "":
            return path
        if controller is not None and controller in ctrls.split(","):
            return path
    raise LookupError(controller)


def _v2_base() -> Path | None:
    if not (CGROUP_ROOT / "cgroup.controllers").exists():
        return None
    own = CGROUP_ROOT / _own_path(None).lstrip("/")
    base = own.parent if own.name.startswith(LEAF) else own  # a worker of a grader that moved
    wanted = {"memory", "pids", "cpu"}
    if not wanted <= set((base / "cgroup.controllers").read_text().split()):
        return None
    enabled = set((base / "cgroup.subtree_control").read_text().split())
    if not wanted <= enabled:
        control = " ".join(f"+{c}" for c in wanted - enabled)
        try:
            (base / "cgroup.subtree_control").write_text(control)
        except OSError as exc:
            # EBUSY: our cgroup holds processes (the "no internal processes" rule). Where we may
            # move them (root, or a delegated subtree), they go to a leaf and the base is free.
            if exc.errno != errno.EBUSY:
                raise
            _move_into_leaf(base)
            (base / "cgroup.subtree_control").write_text(control)
    return base


def _move_into_leaf(base: Path) -> None:
    """Every process of `base` into base/tdnn-grader-PID (fails where one is not ours to move)."""
    leaf = base / f"{LEAF}{os.getpid()}"
    leaf.mkdir(exist_ok=True)
    for pid in (base / "cgroup.procs").read_text().split():
        try:
            (leaf / "cgroup.procs").write_text(pid)
        except ProcessLookupError:
            pass  # gone meanwhile


def _v1_bases() -> dict | None:
    bases = {}
    for ctrl in V1_CONTROLLERS:
        mount = CGROUP_ROOT / ctrl
        if not (mount / "cgroup.procs").exists():
            return None
        bases[ctrl] = mount / _own_path(ctrl).lstrip("/")
    return bases


def detect() -> tuple[str | None, str]:
    """(mechanism, why): "cgroup2" / "cgroup1" when a test cgroup can be made here, else None."""
    trial = None
    try:
        trial = SandboxCgroup.create(f"selftest-{os.getpid()}", memory_mb=64, pids=8, cpus=1)
        kind = trial.kind
        return kind, f"{kind}: memory, pids and CPU limited per sandbox"
    except (OSError, LookupError, ValueError) as exc:
        return None, (f"no writable cgroup ({type(exc).__name__}: {exc}); memory and CPU time "
                      "capped per process only (RLIMIT_AS, RLIMIT_CPU): the memory of several "
                      "processes of one sandbox can add up past the cap")
    finally:
        if trial is not None:
            trial.remove()


def _counter(path: Path, key: str) -> int:
    """The value of `key` in a cgroup's "key value" lines (0 when the file or the key is missing)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0


class SandboxCgroup:
    """One sandbox's cgroup (v2: one folder; v1: one folder per controller)."""

    def __init__(self, kind: str, dirs: list[Path]):
        self.kind, self.dirs = kind, dirs

    @classmethod
    def create(cls, name: str, memory_mb: int, pids: int, cpus: float) -> "SandboxCgroup":
        name = PREFIX + name
        base = _v2_base()
        if base is not None:
            cg = cls("cgroup2", [base / name])
            cg.dirs[0].mkdir()
            try:
                cg._write("memory.max", str(memory_mb * 1024 * 1024))
                if (cg.dirs[0] / "memory.swap.max").exists():
                    cg._write("memory.swap.max", "0")
                cg._write("pids.max", str(pids))
                cg._write("cpu.max", f"{int(cpus * 100_000)} 100000")
            except OSError:
                cg.remove()
                raise
            return cg
        bases = _v1_bases()
        if bases is None:
            raise LookupError("neither cgroup v2 nor the v1 memory, pids and cpu hierarchies are mounted")
        cg = cls("cgroup1", [])
        try:
            for ctrl, b in bases.items():
                d = b / name
                d.mkdir()
                cg.dirs.append(d)
            memory = str(memory_mb * 1024 * 1024)
            cg._write("memory.limit_in_bytes", memory, "memory")
            if (bases["memory"] / name / "memory.memsw.limit_in_bytes").exists():
                try:  # no swap either (fails harmlessly where swap accounting is off)
                    cg._write("memory.memsw.limit_in_bytes", memory, "memory")
                except OSError:
                    pass
            cg._write("pids.max", str(pids), "pids")
            cg._write("cpu.cfs_period_us", "100000", "cpu")
            cg._write("cpu.cfs_quota_us", str(int(cpus * 100_000)), "cpu")
        except OSError:
            cg.remove()
            raise
        return cg

    def _dir(self, controller: str | None) -> Path:
        if self.kind == "cgroup2" or controller is None:
            return self.dirs[0]
        return next(d for d in self.dirs if d.parent.parts[len(CGROUP_ROOT.parts)] == controller)

    def _write(self, file: str, value: str, controller: str | None = None) -> None:
        (self._dir(controller) / file).write_text(value)

    def procs_files(self) -> list[str]:
        """The cgroup.procs files a process writes its pid into to join (all controllers)."""
        return [str(d / "cgroup.procs") for d in self.dirs]

    def oom_kills(self) -> int:
        """How many processes the sandbox's memory cap killed."""
        if self.kind == "cgroup2":
            return _counter(self.dirs[0] / "memory.events", "oom_kill")
        return _counter(self._dir("memory") / "memory.oom_control", "oom_kill")

    def pids_refused(self) -> int:
        """How often a fork was refused at pids.max."""
        return _counter(self._dir("pids") / "pids.events", "max")

    def kill_all(self) -> None:
        if self.kind == "cgroup2" and (self.dirs[0] / "cgroup.kill").exists():
            try:
                self._write("cgroup.kill", "1")
            except OSError:
                pass
        for _ in range(50):
            pids = set()
            for d in self.dirs:
                try:
                    pids |= {int(p) for p in (d / "cgroup.procs").read_text().split()}
                except OSError:
                    pass
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)

    def remove(self) -> None:
        self.kill_all()
        for d in self.dirs:
            for _ in range(40):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # EBUSY while the last processes exit
                    time.sleep(0.05)


def sweep(tag: str) -> None:
    """Remove cgroups left by workers of this grader that were killed (name holds the tag)."""
    dirs = []
    base = None
    try:
        base = _v2_base()
    except OSError:
        pass
    if base is not None:
        dirs = [[d] for d in base.glob(f"{PREFIX}{tag}*")]
        kind = "cgroup2"
    else:
        bases = _v1_bases() or {}
        names = {d.name for b in bases.values() for d in b.glob(f"{PREFIX}{tag}*")}
        dirs = [[b / n for b in bases.values() if (b / n).exists()] for n in names]
        kind = "cgroup1"
    for group in dirs:
        SandboxCgroup(kind, group).remove()


def sweep_stale() -> None:
    """Remove the cgroups of graders that are gone (killed before they could sweep their own)."""
    names = set()
    try:
        base = _v2_base()
        roots = [base] if base is not None else list((_v1_bases() or {}).values())
    except OSError:
        return
    for root in roots:
        names |= {d.name for d in root.glob(f"{PREFIX}*")}
    for name in names:
        pid = name[len(PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            sweep(f"{pid}-")
    for root in roots:  # cgroup v2: the empty leaves of graders that are gone
        for leaf in root.glob(f"{LEAF}*"):
            if not Path(f"/proc/{leaf.name[len(LEAF):]}").exists():
                try:
                    leaf.rmdir()
                except OSError:
                    pass


def userns_process_counts() -> bool:
    """Whether RLIMIT_NPROC counts each user namespace's tasks apart (Linux 5.14 and later).

    Since 5.14 the count lives in the user namespace's `ucounts`: a fork is checked against the
    forking task's RLIMIT_NPROC for the tasks of its uid *in its own user namespace*, and, up
    the chain, against the limit its namespace's creator had for the tasks in the parent. So
    RLIMIT_NPROC set inside a sandbox (after bubblewrap made its user namespace) caps that
    sandbox alone, while the grader's user keeps its own, larger limit over all of them.
    Before 5.14 it counts every task of the host uid: all sandboxes of one host user share it.
    `grading.sandbox.check_sandbox` confirms it by experiment before a batch."""
    match = re.match(r"(\d+)\.(\d+)", os.uname().release)
    return bool(match) and (int(match[1]), int(match[2])) >= (5, 14)


def tasks_of_uid(uid: int) -> int:
    """Threads the host user already runs (RLIMIT_NPROC counts them all)."""
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            for line in status.read_text().splitlines():
                if line.startswith("Uid:"):
                    if int(line.split()[1]) == uid:
                        for l2 in status.read_text().splitlines():
                            if l2.startswith("Threads:"):
                                count += int(l2.split()[1])
                    break
        except (OSError, ValueError, IndexError):
            continue
    return count
