"""The worker's own limits: what one kernel may cost the process that talks to it.

The worker runs outside the sandbox (it reads the kernel's messages over ZMQ), so the
sandbox's cgroup and rlimits do not cover it; one review made it reach 1.6 GB and 14 s of CPU
with one 500 MB message. Three things bound it:

1. No frame larger than `Caps.message_bytes` is ever read into memory (ZMQ_MAXMSGSIZE on
   every socket of the kernel manager and the client: `grading.sandbox.limit_messages`). ZMQ
   then closes that connection for good (a protocol error, not retried).
2. `Watchdog`, a thread of the worker, checks every 0.1 s while the notebook runs:
   - a connection to the kernel closed while the kernel still runs (the message cap above, or
     a kernel that closed its own sockets): the notebook cannot go on;
   - the worker's resident memory over `Caps.worker_memory_mb` (many frames under the cap
     held by ZMQ, floods of messages);
   - the worker's CPU time over `Caps.worker_cpu_seconds`.
   It then stops the execution (the cells run so far keep their outputs, the others get an
   error with the reason) and, should that not end it within 15 s or should memory keep
   growing to twice the cap, writes the result with the reason and exits.
3. Backstops in the kernel of the host: RLIMIT_AS (4 GB, set by the grader when it starts the
   worker) and RLIMIT_CPU (the CPU cap plus 60 s, set here).

The worker does not join a cgroup of its own: it makes the sandbox's cgroup beside its own
(below the grader's), and a worker cgroup would have to sit apart from both; the rlimits and
the watchdog hold for root and non-root graders alike.
"""
from __future__ import annotations

import os
import resource
import threading
import time

POLL_SECONDS = 0.1
HARD_AFTER_SECONDS = 15


def cap_cpu(seconds: int) -> None:
    """RLIMIT_CPU of the worker: SIGXCPU ends it past the cap plus a margin (the watchdog acts first).
    The hard limit stays as it is: the sandbox's launcher sets the kernel's own from it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    limit = seconds + 60
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (limit, hard))


def resident_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def peak_resident_mb() -> int:
    """This process's peak resident memory since it exec'd (VmHWM; getrusage's ru_maxrss would
    also count the parent's memory that the child had between fork and exec)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    return 0


class ClosedConnections:
    """Counts the disconnections of the client's sockets (ZMQ socket monitors, polled by one thread)."""

    def __init__(self, kc):
        import zmq
        self._keep, self._monitors = [], []
        for name in ("shell_channel", "iopub_channel", "stdin_channel"):
            channel = getattr(kc, name, None)
            sock = getattr(channel, "socket", None)
            if sock is None:
                continue
            monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
            self._keep.append(monitor)  # the asyncio socket owns it; a plain one polls it
            self._monitors.append((name.split("_")[0], zmq.Socket.shadow(monitor.underlying)))

    def closed(self) -> list[str]:
        """The channels that lost their connection since the last call."""
        import zmq
        from zmq.utils.monitor import recv_monitor_message
        lost = []
        for name, monitor in self._monitors:
            try:
                while monitor.poll(0):
                    if recv_monitor_message(monitor, zmq.NOBLOCK)["event"] == zmq.EVENT_DISCONNECTED:
                        lost.append(name)
            except zmq.ZMQError:
                continue
        return lost


class Watchdog(threading.Thread):
    """See the module's docstring. `stop(reason)` ends the execution gracefully; `abandon(reason)`
    writes the result and exits the process."""

    def __init__(self, caps, state, stop, abandon):
        super().__init__(name="worker-watchdog", daemon=True)
        self.caps, self.state, self.stop, self.abandon = caps, state, stop, abandon
        self.reason: str | None = None
        self._stopped_at: float | None = None

    def breach(self) -> str | None:
        """The reason to stop, or None. Only this thread polls the monitors, and only while a
        cell runs (under the state's lock, which the worker takes before a cell's end)."""
        caps, state = self.caps, self.state
        memory = resident_mb()
        if memory > caps.worker_memory_mb:
            return (f"worker memory cap ({caps.worker_memory_mb} MB) reached while reading this "
                    f"kernel's messages ({memory:.0f} MB): the kernel sent too much at once")
        cpu = time.process_time()
        if cpu > caps.worker_cpu_seconds:
            return (f"worker CPU cap ({caps.worker_cpu_seconds} s) reached while reading this "
                    "kernel's messages: the kernel sent too many")
        connections, lost = state.connections, []
        with state.lock:  # a cell is running: nbclient does not close the sockets meanwhile
            if connections is not None and state.busy:
                lost = connections.closed()
        if lost:
            time.sleep(0.5)  # a kernel that died closes them too: that is reported apart
            kernel = state.kernel
            if kernel is not None and kernel.poll() is None:
                return (f"message cap: the connection to the kernel ({', '.join(lost)}) was "
                        f"closed in cell {state.current}, by a message from the kernel larger "
                        f"than {caps.message_bytes} bytes (or the kernel closed it); "
                        "the notebook could not go on")
        return None

    def run(self) -> None:
        while not self.state.finished:
            time.sleep(POLL_SECONDS)
            if self.reason is None:
                self.reason = self.breach()
                if self.reason is not None:
                    self._stopped_at = time.monotonic()
                    self.stop(self.reason)
            elif (time.monotonic() - self._stopped_at > HARD_AFTER_SECONDS
                  or resident_mb() > 2 * self.caps.worker_memory_mb):
                self.abandon(self.reason)
                return
