"""Launcher of one sandbox: joins its cgroup, sets rlimits, drops root, then execs bwrap.

    python -m grading.jail LAUNCH.json

LAUNCH.json (written by `grading.sandbox.kernel_command`, mode 0600, readable only by the
grader) holds the bwrap arguments, the kernel's whole environment (kept off the command line,
where `ps` would show it), the rlimits, the cgroup to join, and, when
the grader is root, the host user the sandbox runs as. In that case the launcher, still root:

1. moves itself into the sandbox's cgroup (the kernel and all its children stay in it);
2. makes a private mount namespace and binds every read-only source (Python, the venv, the
   datasets, the Keras cache, the start-up files) into a staging folder that the sandbox user can
   traverse (the Python installation may live under /root, mode 0700);
3. gives the connection folder to the sandbox user;
4. drops to that user (no supplementary groups, no capabilities) and execs bwrap, whose user
   namespace then maps the sandbox's uid onto that unprivileged host uid, never onto host root.

In every case it opens the compiled seccomp filter (`grading.seccomp`) and hands it to bwrap on
a file descriptor (`--seccomp FD`); bwrap loads it just before it execs the kernel.

Only the standard library is imported before the privileges are dropped, and nothing after.
"""
from __future__ import annotations

import ctypes
import json
import os
import resource
import sys

CLONE_NEWNS = 0x00020000
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18


def _mount(libc, src: str | None, dst: str, flags: int) -> None:
    if libc.mount(src.encode() if src else None, dst.encode(), None, flags, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), f"mount {src} {dst}")


def stage_sources(stage: dict) -> None:
    """Private mount namespace; bind each source onto its staging folder."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), "unshare(CLONE_NEWNS)")
    _mount(libc, None, "/", MS_REC | MS_PRIVATE)
    for src, dst in stage.items():
        _mount(libc, src, dst, MS_BIND | MS_REC)


def set_rlimits(limits: dict) -> None:
    for name, (soft, hard) in limits.items():
        resource.setrlimit(getattr(resource, name), (soft, hard))


def join_cgroup(procs_files: list[str]) -> None:
    for path in procs_files:
        with open(path, "w") as fh:
            fh.write(str(os.getpid()))


def give(path: str, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for entry in os.scandir(path):
        os.chown(entry.path, uid, gid, follow_symlinks=False)


def drop_privileges(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError("could not drop privileges")


def pass_seccomp(argv: list[str], path: str) -> list[str]:
    """bwrap's argv with `--seccomp FD`, FD an inheritable descriptor of the compiled filter
    (opened now: the file is the grader's, unreadable once privileges are dropped)."""
    fd = os.open(path, os.O_RDONLY)
    os.set_inheritable(fd, True)
    return [argv[0], "--seccomp", str(fd), *argv[1:]]


def main(argv: list[str]) -> int:
    with open(argv[0]) as fh:
        launch = json.load(fh)
    if launch.get("seccomp"):
        launch["argv"] = pass_seccomp(launch["argv"], launch["seccomp"])
    join_cgroup(launch.get("cgroup_procs", []))
    if launch.get("stage"):
        stage_sources(launch["stage"])
    for folder in launch.get("give", []):
        give(folder, launch["uid"], launch["gid"])
    limits = launch.get("rlimits", {})
    if launch.get("uid") is not None and os.getuid() == 0:
        drop_privileges(launch["uid"], launch["gid"])
    if "RLIMIT_NPROC" in limits:  # set after the drop: it counts the tasks of the new uid
        set_rlimits({"RLIMIT_NPROC": limits.pop("RLIMIT_NPROC")})
    set_rlimits(limits)
    if launch.get("cwd"):
        os.chdir(launch["cwd"])
    os.execve(launch["argv"][0], launch["argv"], launch["env"])
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
