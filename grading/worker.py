"""Executes one sanitized notebook in a sandboxed kernel; run by the grader as a child process.

    python -m grading.worker JOB.json

JOB.json: {"input": ..., "output": ..., "result": ..., "sandbox": SandboxSpec}. The worker never
sees the gradebook, the solutions or any other submission: it gets one notebook (already sanitized by the parent with
nbgrader's OverwriteCells etc.), runs it with nbclient in a kernel launched by `grading.sandbox`
(configured as nbgrader's `Execute` preprocessor is: errors do not stop the notebook, a timed-out
cell is interrupted and gets an error), and writes the executed notebook and a small result file:

    {"status": "ok" | "timeout" | "kernel_died" | "capped" | "error", "reasons": [...], "seconds": ...,
     "kernel_exit": int | null}

Every code cell that could not run (after a timeout or the kernel's death) gets an error output,
so that nbgrader's SaveAutoGrades gives its test no points.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import output_from_msg

from . import connfs
from . import sandbox as _sandbox
from . import worker_limits
from .outputs import clean_notebook, clean_output, coerce_content, coerce_message, coerce_notebook, output_size
from .sandbox import Caps, SandboxSpec, make_kernel_manager_class, prepare_scratch

SIGNALS = {signal.SIGXCPU: "CPU-time cap (RLIMIT_CPU) reached",
           signal.SIGKILL: "kernel killed (SIGKILL: CPU-time hard cap or out of memory)",
           signal.SIGSEGV: "kernel crashed (SIGSEGV)", signal.SIGABRT: "kernel aborted (SIGABRT)",
           signal.SIGXFSZ: "file-size cap reached (SIGXFSZ)"}


# The kernel broke one of the worker's own caps (a message past the message cap, or so many that
# the worker's memory or CPU cap was reached): the submission's doing, like a timeout, never the
# machine's ("error" is kept for failures of the grader or the machine).
CAPPED = "capped"


class DeadlineExceeded(Exception):
    pass


def error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"{ename}: {evalue}"])


# nbgrader's Execute preprocessor is nbclient with these settings. The worker uses nbclient
# itself: importing nbgrader costs about 2 s of CPU in every worker, a kernel start's worth.
TIMEOUT_ERROR = {"ename": "CellTimeoutError", "evalue": "",
                 "traceback": ["CellTimeoutError: the kernel did not answer before the cell's time cap"]}


def record_error_reply(cell, execute_reply) -> None:
    """An error reply that left no error output (an interrupted cell) becomes one, so that the
    cell's test fails visibly, as nbgrader's Execute does."""
    content = coerce_content("execute_reply", (execute_reply or {}).get("content"))
    if content.get("status") != "error":
        return
    if any(o.get("output_type") == "error" and o.get("ename") == content.get("ename") for o in cell.outputs):
        return
    cell.outputs.append(NotebookNode(
        output_type="error", ename=content.get("ename", "Error"), evalue=content.get("evalue", ""),
        traceback=content.get("traceback") or ["(no traceback: the kernel's traceback display was off)"]))


@dataclass
class Budget:
    """What one notebook's execution has used so far: output bytes, and where it stands (which
    the worker's watchdog, another thread, reads: grading.worker_limits)."""
    deadline: float                                   # time.monotonic() when the wall cap ends
    cell_bytes: dict = field(default_factory=dict)    # cell index -> output bytes
    notebook_bytes: int = 0
    capped: dict = field(default_factory=dict)        # cell index -> "cell" or "notebook"
    timed_out: set = field(default_factory=set)       # cells interrupted at their cap
    current: int | None = None                        # the cell running now
    busy: bool = False                                # a cell is running (under `lock`)
    finished: bool = False                            # the execution is over: the watchdog ends
    connections: object = None                        # worker_limits.ClosedConnections of the client
    kernel: object = None                             # the kernel's launcher process
    loop: object = None                               # nbclient's event loop and task, to cancel it
    task: object = None
    lock: object = field(default_factory=threading.Lock)


class CappedClient(NotebookClient):
    """nbclient, set up as nbgrader's Execute, with a deadline and output caps (see `build_client`)."""

    caps: Caps
    budget: Budget

    def _charge(self, cell_index, size) -> bool:
        """Count output bytes against the cell's and the notebook's caps; False: drop it."""
        caps, b = self.caps, self.budget
        used = b.cell_bytes.get(cell_index, 0)
        if used > caps.output_bytes or b.notebook_bytes > caps.notebook_output_bytes:
            return False
        if b.notebook_bytes + size > caps.notebook_output_bytes:
            b.notebook_bytes = caps.notebook_output_bytes + 1
            b.capped[cell_index] = "notebook"
            return False
        if used + size > caps.output_bytes:
            b.cell_bytes[cell_index] = caps.output_bytes + 1
            b.capped.setdefault(cell_index, "cell")
            return False
        b.cell_bytes[cell_index] = used + size
        b.notebook_bytes += size
        return True

    def process_message(self, msg, cell, cell_index):
        # Every message of the kernel, in nbformat's types before nbclient reads a field of it.
        return super().process_message(coerce_message(msg), cell, cell_index)

    def output(self, outs, msg, display_id, cell_index):
        caps, b = self.caps, self.budget
        used = b.cell_bytes.get(cell_index, 0)
        if used > caps.output_bytes or b.notebook_bytes > caps.notebook_output_bytes:
            return None  # already over a cap: drop
        out = super().output(outs, msg, display_id, cell_index)
        if out is None:
            return None
        if clean_output(out) is None:
            outs.remove(out)
            return None
        if not self._charge(cell_index, output_size(out)):
            room = max(0, caps.output_bytes - used)
            if "text" in out and b.capped.get(cell_index) == "cell":
                out["text"] = str(out["text"])[:room] + "\n[output truncated by the grader]\n"
                b.notebook_bytes += room
            else:
                outs.remove(out)
        return out

    def _update_display_id(self, display_id, msg):
        # update_display_data (and a display with a known display_id) rewrites every output
        # with that id: each rewrite counts, as many times as outputs it rewrites.
        targets = self._display_id_map.get(display_id, {})
        count = sum(len(v) for v in targets.values())
        if not count:
            return
        content = msg.get("content") or {}
        size = output_size({"data": content.get("data") or {},
                            "metadata": content.get("metadata") or {}}) * count
        current = self.budget.current
        if not self._charge(current if current is not None else 0, size):
            return
        if msg["header"]["msg_type"] == "update_display_data":
            msg["header"]["msg_type"] = "display_data"
        try:
            out = clean_output(output_from_msg(msg))
        except ValueError:
            return
        if out is None:
            return
        for cell_idx, indices in targets.items():
            outs = self.nb.cells[cell_idx].outputs
            for i in indices:
                if i < len(outs):  # an output dropped at a cap leaves a stale index
                    outs[i]["data"] = out["data"]
                    outs[i]["metadata"] = out["metadata"]

    def handle_comm_msg(self, outs, msg, cell_index):
        return None  # no widgets: their state is not kept and their output not captured

    def on_comm_open_jupyter_widget(self, msg):
        return None

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        self.budget.connections = worker_limits.ClosedConnections(kc)  # for the watchdog
        return kc

    async def async_execute_cell(self, *args, **kw):
        try:
            return await super().async_execute_cell(*args, **kw)
        finally:  # before nbclient may close the sockets the watchdog's monitors watch
            with self.budget.lock:
                self.budget.busy = False

    def _on_execute(self, cell, cell_index, **kw):
        import asyncio
        self.budget.current = cell_index
        self.budget.busy = True
        self.budget.loop, self.budget.task = asyncio.get_running_loop(), asyncio.current_task()
        if time.monotonic() > self.budget.deadline:
            raise DeadlineExceeded()

    def _on_executed(self, cell, cell_index, execute_reply, **kw):
        caps, b = self.caps, self.budget
        record_error_reply(cell, execute_reply)
        if cell_index in b.timed_out and not any(
                o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError" for o in cell.outputs):
            cell.outputs.append(error_output(
                "CellTimeoutError", f"this cell ran longer than {caps.cell_seconds} s and was interrupted"))
        if b.capped.get(cell_index) == "cell":
            cell.outputs.append(error_output(
                "OutputLimitExceeded", f"this cell printed more than {caps.output_bytes} bytes; output truncated"))
        elif b.capped.get(cell_index) == "notebook":
            cell.outputs.append(error_output(
                "OutputLimitExceeded", f"the notebook's outputs exceed {caps.notebook_output_bytes} bytes; "
                "further output dropped"))

    async def _async_handle_timeout(self, timeout, cell=None):
        # interrupt_on_timeout: nbclient interrupts the kernel and answers with an error reply; it
        # then gives the kernel iopub_timeout (5 s) to become idle, else raises
        # CellTimeoutError and the worker kills the kernel (later cells get errors).
        self.budget.timed_out.add(self.budget.current)
        return await super()._async_handle_timeout(timeout, cell)


def build_client(spec: SandboxSpec, budget: Budget, nb) -> CappedClient:
    """The client that runs `nb` in the sandbox `spec` describes, within its caps."""
    caps = spec.caps
    km_class = make_kernel_manager_class(spec)

    def timeout_func(cell):
        return max(1, int(min(caps.cell_seconds, budget.deadline - time.monotonic()) + 0.999))

    client = CappedClient(nb, kernel_manager_class=km_class, timeout_func=timeout_func,
                          resources={"metadata": {"path": spec.scratch}},
                          timeout=caps.cell_seconds, startup_timeout=120, iopub_timeout=5,
                          allow_errors=True, error_on_timeout=TIMEOUT_ERROR,
                          interrupt_on_timeout=True, raise_on_iopub_timeout=True,
                          record_timing=False, store_widget_state=False,
                          # the notebook is done: no need to let TensorFlow tear down
                          shutdown_kernel="immediate")
    client.caps, client.budget = caps, budget
    client.on_cell_execute = client._on_execute
    client.on_cell_executed = client._on_executed
    client._km_class = km_class
    return client


def kernel_exit_reason(code: int | None) -> str:
    if code is None:
        return "kernel stopped responding"
    if code < 0:
        sig = -code
    elif code > 128:
        sig = code - 128
    else:
        return f"kernel exited with status {code} (os._exit or a fatal error)"
    try:
        return SIGNALS.get(signal.Signals(sig), f"kernel killed by signal {signal.Signals(sig).name}")
    except ValueError:
        return f"kernel exited with status {code}"


def _execute(client: CappedClient, spec: SandboxSpec, result: dict, watchdog) -> None:
    """Run the notebook; how it ended goes into `result` (status, reasons, the kernel's exit)."""
    import asyncio
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    launched = []
    launch_kernel = client._km_class._async_launch_kernel

    async def launch(self, kernel_cmd, **kw):
        await launch_kernel(self, kernel_cmd, **kw)
        launched.append(self.provisioner.process)
        client.budget.kernel = self.provisioner.process

    client._km_class._async_launch_kernel = launch
    try:
        client.execute()
    except asyncio.CancelledError:
        pass  # only the watchdog cancels: run_job gives its reason
    except DeadlineExceeded:
        result.update(status="timeout")
        result["reasons"].append(f"wall-time cap: submission took more than {spec.caps.wall_seconds} s")
    except CellTimeoutError:
        result.update(status="timeout")
        result["reasons"].append(
            f"cell timed out after {spec.caps.cell_seconds} s and the kernel ignored the interrupt")
    except DeadKernelError:
        code = None
        if launched and not watchdog.reason:  # nbclient reports a cancelled cell as a dead kernel
            try:
                code = launched[-1].wait(timeout=5)
            except Exception:
                code = launched[-1].poll()
        result.update(status="kernel_died", kernel_exit=code)
        result["reasons"].append(kernel_exit_reason(code))
    except Exception as exc:  # kernel failed to start, protocol trouble, ...
        result.update(status="error", traceback=traceback.format_exc()[-4000:])
        result["reasons"].append(f"execution failed: {type(exc).__name__}: {str(exc)[:300]}")
    finally:
        for proc in launched:  # belt and braces: the sandbox must not outlive the job
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    pass


def mark_unrun_cells(nb, stopped_at: int | None, result: dict) -> None:
    """After a stop, every code cell from the one that did not finish on gets an error output,
    so that nbgrader's SaveAutoGrades gives its test no points."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or index < (stopped_at if stopped_at is not None else 0):
            continue
        if index == stopped_at and result["status"] == "timeout" and any(
                o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", [])):
            continue
        what = "this cell did not finish" if index == stopped_at else "not executed"
        cell.setdefault("outputs", []).append(
            error_output("GradingAborted", f"{what}: {'; '.join(result['reasons'])}"))


def reasons_in_cells(nb, caps: Caps) -> list[str]:
    """The caps that cells reported hitting themselves (memory, cell time, output)."""
    reasons = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            if out.get("ename") == "MemoryError":
                reasons.append(f"memory cap ({caps.memory_mb} MB) hit in cell {index}")
            elif out.get("ename") == "CellTimeoutError":
                reasons.append(f"cell {index} timed out after {caps.cell_seconds} s (interrupted)")
            elif out.get("ename") == "OutputLimitExceeded" and "notebook" in str(out.get("evalue")):
                reasons.append(f"notebook output cap ({caps.notebook_output_bytes} bytes) hit in cell {index}")
            elif out.get("ename") == "OutputLimitExceeded":
                reasons.append(f"output cap ({caps.output_bytes} bytes) hit in cell {index}")
    return reasons


def run_job(job: dict) -> dict:
    """Execute the job's notebook and write it back; the result (see the module's docstring)."""
    start = time.monotonic()
    spec = SandboxSpec.from_json(job["sandbox"])
    prepare_scratch(spec)
    nb = nbformat.read(job["input"], as_version=4)
    budget = Budget(deadline=start + spec.caps.wall_seconds)
    result = {"status": "ok", "reasons": [], "kernel_exit": None}
    watchdog = worker_limits.Watchdog(spec.caps, budget, stop=lambda why: _stop_execution(budget),
                                      abandon=lambda why: _abandon(job, why))
    watchdog.start()
    try:
        _execute(build_client(spec, budget, nb), spec, result, watchdog)
    finally:
        budget.finished = True
    if watchdog.reason:  # the kernel broke a cap of the worker: the submission's doing
        result = {"status": CAPPED, "reasons": [watchdog.reason], "kernel_exit": None}
    if result["status"] != "ok":
        mark_unrun_cells(nb, budget.current, result)
    result["reasons"] = list(dict.fromkeys(result["reasons"] + reasons_in_cells(nb, spec.caps)))
    coerce_notebook(nb)
    clean_notebook(nb)
    nbformat.write(nb, job["output"])
    result["seconds"] = round(time.monotonic() - start, 2)
    return result


def _stop_execution(budget: Budget) -> None:
    """Called by the watchdog's thread: cancel nbclient's execution in its own event loop."""
    if budget.loop is not None and budget.task is not None:
        budget.loop.call_soon_threadsafe(budget.task.cancel)


def _abandon(job: dict, reason: str) -> None:
    """The watchdog's last resort: record the reason, take the sandbox down, exit now."""
    _sandbox.release_all()
    _write_result(job, {"status": CAPPED, "reasons": [reason]})
    os._exit(0)


def _write_result(job: dict, result: dict) -> None:
    tmp = job["result"] + ".tmp"
    Path(tmp).write_text(json.dumps(result))
    os.replace(tmp, job["result"])


def cgroup_reasons(caught: dict, spec: SandboxSpec) -> list[str]:
    """The caps the sandbox's cgroup enforced (it killed or refused a process)."""
    reasons = []
    if caught.get("oom_kills"):
        reasons.append(f"memory cap of the sandbox ({spec.caps.memory_mb} MB, all its processes "
                       f"together) hit: {caught['oom_kills']} process(es) killed")
    if caught.get("pids_refused"):
        reasons.append(f"process cap of the sandbox ({spec.caps.processes} tasks) hit")
    return reasons


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text())
    try:
        caps = Caps(**job["sandbox"].get("caps", {}))
        worker_limits.cap_cpu(caps.worker_cpu_seconds)
        if job["sandbox"].get("sandbox", True):  # first: a user namespace needs a single thread
            connfs.private_tmpfs(job["sandbox"]["conn_dir"], caps.conn_kb)
        result = run_job(job)
    except Exception as exc:
        result = {"status": "error", "reasons": [f"worker failed: {type(exc).__name__}: {exc}"[:400]],
                  "traceback": traceback.format_exc()[-4000:]}
    finally:
        caught = _sandbox.release_all()  # the sandbox's cgroup: what is left in it dies
        shutil.rmtree(job["sandbox"]["conn_dir"], ignore_errors=True)
    result.setdefault("reasons", []).extend(cgroup_reasons(caught, SandboxSpec.from_json(job["sandbox"])))
    result["worker_peak_mb"] = worker_limits.peak_resident_mb()
    result["worker_cpu_s"] = round(time.process_time(), 2)
    _write_result(job, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
