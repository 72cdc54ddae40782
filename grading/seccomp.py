"""The sandbox's seccomp filter: system calls a notebook never needs, refused inside the sandbox.

Built with libseccomp (through `pyseccomp`, ctypes bindings of the library Debian installs with
apt) in the spirit of Docker's default profile, as a deny list: everything else a Python
kernel, ZMQ, TensorFlow, NumPy or matplotlib calls keeps working, and a refused call fails with
an error number (nothing is killed), so library code that probes a feature falls back.

Refused (EPERM unless said otherwise):

- the kernel keyring (`keyctl`, `add_key`, `request_key`), `bpf`, `perf_event_open`,
  `userfaultfd`, `io_uring_*` (ENOSYS: libraries fall back to plain I/O);
- other processes' memory (`ptrace`, `process_vm_readv/writev`, `process_madvise`, `kcmp`,
  `pidfd_getfd`);
- mounts and namespaces (`mount`, `umount2`, the new mount API, `pivot_root`, `chroot`,
  `unshare`, `setns`; `clone` with any CLONE_NEW* flag; `clone3` with ENOSYS, as Docker does,
  so that glibc falls back to `clone`, whose flags a filter can see);
- the machine (`kexec_*`, `*_module`, `reboot`, `swapon/off`, `acct`, `quotactl*`, `syslog`,
  clocks, `iopl/ioperm`, `open_by_handle_at`, `name_to_handle_at`, `fanotify_init`);
- `personality` other than Linux's default (0, 8, 0x20000, 0x20008, and the query 0xffffffff:
  Docker's list), e.g. ADDR_NO_RANDOMIZE;
- sockets other than AF_UNIX, AF_INET and AF_INET6 (EAFNOSUPPORT): no AF_PACKET, AF_VSOCK,
  AF_ALG, AF_KEY, Bluetooth..., and AF_NETLINK only with NETLINK_ROUTE: getifaddrs() needs it,
  and ZMQ aborts the process without it whenever it binds a TCP address (ipykernel does); in
  the sandbox's own network namespace, without capabilities, it can only read the loopback's
  routes and addresses.

Calls of another architecture's ABI (i386 `int 0x80`, x32) kill the process (libseccomp's
default for a foreign architecture).

bubblewrap loads the compiled program (`--seccomp FD`) just before it execs the kernel, after
its own set-up, so the filter binds the kernel and everything it starts, and cannot be removed.
"""
from __future__ import annotations

import errno
from functools import lru_cache

EPERM = [
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "kcmp", "pidfd_getfd",
    "mount", "umount", "umount2", "pivot_root", "chroot", "unshare", "setns",
    "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "create_module", "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd",
    "syslog", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "stime",
    "iopl", "ioperm", "open_by_handle_at", "name_to_handle_at", "fanotify_init",
    "lookup_dcookie", "nfsservctl", "uselib", "vhangup", "sysfs", "_sysctl", "ustat",
    "vm86", "vm86old", "get_kernel_syms", "query_module",
]
ENOSYS = ["io_uring_setup", "io_uring_enter", "io_uring_register", "clone3"]

CLONE_NEW = {"CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000, "CLONE_NEWUTS": 0x04000000,
             "CLONE_NEWIPC": 0x08000000, "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
             "CLONE_NEWNET": 0x40000000}
AF_ALLOWED = (1, 2, 10)          # AF_UNIX, AF_INET, AF_INET6
AF_NETLINK, NETLINK_ROUTE = 16, 0  # read-only in the sandbox's own network namespace (no caps)
PERSONALITY_BITS = 0x20008       # PER_LINUX32 (8) and UNAME26 (0x20000), alone or together
PERSONALITY_QUERY = 0xFFFFFFFF


class SeccompUnavailable(RuntimeError):
    pass


def _lib():
    try:
        import pyseccomp
    except (ImportError, OSError, RuntimeError) as exc:  # the bindings, or libseccomp.so.2, missing
        raise SeccompUnavailable(
            f"libseccomp cannot be loaded ({type(exc).__name__}: {exc}); install the Debian "
            "package libseccomp2 and the Python package pyseccomp (requirements.txt)") from exc
    return pyseccomp


def _known(lib, name: str) -> bool:
    """Whether this architecture has the call (libseccomp names others with negative numbers)."""
    try:
        return lib.resolve_syscall(lib.system_arch(), name) >= 0
    except Exception:
        return False


def _deny_personalities(lib, f) -> None:
    """Refuse every persona but the subsets of PERSONALITY_BITS and the query.

    A libseccomp rule compares an argument once, so the refused set is written as a union of
    single masked comparisons: with bit 0 clear, any other bit outside PERSONALITY_BITS set;
    with bit 0 set (never allowed), any bit clear (only the query has all 32 bits set); and
    anything above 32 bits."""
    deny = lib.ERRNO(errno.EPERM)
    f.add_rule(deny, "personality", lib.Arg(0, lib.GT, PERSONALITY_QUERY))
    for bit in range(1, 32):
        mask = 1 << bit
        if not mask & PERSONALITY_BITS:
            f.add_rule(deny, "personality", lib.Arg(0, lib.MASKED_EQ, mask | 1, mask))
        f.add_rule(deny, "personality", lib.Arg(0, lib.MASKED_EQ, mask | 1, 1))


def _deny_socket_families(lib, f) -> None:
    """socket(2)'s domain must be one of AF_ALLOWED, or AF_NETLINK with NETLINK_ROUTE (one
    comparison per argument and rule, as above)."""
    deny = lib.ERRNO(errno.EAFNOSUPPORT)
    for family in range(0, AF_NETLINK):
        if family not in AF_ALLOWED:
            f.add_rule(deny, "socket", lib.Arg(0, lib.EQ, family))
    f.add_rule(deny, "socket", lib.Arg(0, lib.EQ, AF_NETLINK), lib.Arg(2, lib.NE, NETLINK_ROUTE))
    f.add_rule(deny, "socket", lib.Arg(0, lib.GT, AF_NETLINK))


def build():
    """The filter as a pyseccomp SyscallFilter (export_bpf / export_pfc)."""
    lib = _lib()
    f = lib.SyscallFilter(lib.ALLOW)
    for names, err in ((EPERM, errno.EPERM), (ENOSYS, errno.ENOSYS)):
        for name in names:
            if _known(lib, name):
                f.add_rule(lib.ERRNO(err), name)
    for flag in CLONE_NEW.values():
        f.add_rule(lib.ERRNO(errno.EPERM), "clone", lib.Arg(0, lib.MASKED_EQ, flag, flag))
    _deny_personalities(lib, f)
    _deny_socket_families(lib, f)
    return f


@lru_cache(maxsize=1)
def program() -> bytes:
    """The compiled BPF program that `bwrap --seccomp FD` reads (built once per process)."""
    import os
    import tempfile
    f = build()
    # export_bpf writes to a file descriptor: a temporary file, read back.
    with tempfile.TemporaryFile() as fh:
        f.export_bpf(fh)
        fh.flush()
        os.lseek(fh.fileno(), 0, os.SEEK_SET)
        data = fh.read()
    if not data or len(data) % 8:
        raise SeccompUnavailable(f"libseccomp produced no valid BPF program ({len(data)} bytes)")
    return data


def syscall_number(name: str) -> int:
    """This machine's number of a system call (the probe calls keyctl by number)."""
    lib = _lib()
    return lib.resolve_syscall(lib.system_arch(), name)


def describe() -> str:
    return ("seccomp filter (no keyring, bpf, perf, ptrace, mount, namespaces, io_uring, kexec or "
            "modules; sockets AF_UNIX/INET/INET6 only)")


def pseudo_code() -> str:
    """The filter in libseccomp's readable pseudo code (for review: python -m grading.seccomp)."""
    import tempfile
    with tempfile.TemporaryFile("w+") as fh:
        build().export_pfc(fh)
        fh.seek(0)
        return fh.read()


if __name__ == "__main__":
    print(pseudo_code())
