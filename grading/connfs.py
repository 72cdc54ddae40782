"""The connection folder on a tiny tmpfs that only the worker and its sandbox see.

The kernel binds its five ZMQ sockets (Unix sockets, `transport="ipc"`) in the connection
folder, so the sandbox must be able to create files there, and the worker, outside the
sandbox, must reach them. A host folder bound read-write would let the kernel fill the host's
disk (1.4 GB in one review). Instead the worker, before it writes the connection file, moves
into a mount namespace of its own and mounts a tmpfs of `Caps.conn_kb` KiB and 64 inodes over
the folder:

- the grader as root: a private mount namespace (unshare(CLONE_NEWNS));
- any other grader: a user namespace too, mapping only its own uid and gid onto themselves,
  so nothing changes for the files it writes and the processes it starts (bubblewrap then
  nests the sandbox's user namespace inside it, as it would anywhere).

The launcher and bubblewrap inherit that namespace, so the sandbox's bind of the folder is the
tmpfs. Seen from the host the folder stays empty; what the kernel writes there is memory
(charged to the sandbox's cgroup where there is one), refused past the tmpfs's size, and gone
when the worker and its sandbox are.

    python -m grading.connfs FOLDER KIB -- COMMAND...   # the same for a command (probes, tests)
"""
from __future__ import annotations

import ctypes
import os
import sys

CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 16384, 1 << 18
INODES = 64


class PrivateFolderUnavailable(OSError):
    pass


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise PrivateFolderUnavailable(err, f"{what}: {os.strerror(err)}")


def _enter_namespace(libc) -> None:
    uid, gid = os.geteuid(), os.getegid()
    if uid == 0:
        _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        return
    # Only a single-threaded process may make a user namespace: call this before any thread.
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare(CLONE_NEWUSER | CLONE_NEWNS)")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as fh:
            fh.write(text)


def private_tmpfs(folder: str, kib: int) -> None:
    """This process (and all it starts later) sees a tmpfs of `kib` KiB at `folder`."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    _enter_namespace(libc)
    # Nothing mounted here propagates back to the host's namespace.
    _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    options = f"size={max(4, kib)}k,nr_inodes={INODES},mode=0700".encode()
    _check(libc.mount(b"tmpfs", os.fsencode(folder), b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options),
           f"mount a tmpfs at {folder}")


def main(argv: list[str]) -> int:
    folder, kib, sep, *command = argv
    if sep != "--" or not command:
        sys.exit("usage: python -m grading.connfs FOLDER KIB -- COMMAND...")
    private_tmpfs(folder, int(kib))
    os.execv(command[0], command)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
