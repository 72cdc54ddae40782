"""Executes one sanitized notebook in a sandboxed kernel; run by the grader as a child process.

    python -m grading.worker JOB.json

JOB.json: {"input": ..., "output": ..., "result": ..., "sandbox": SandboxSpec, "token": ...,
"instructor_ids": [...], "test_ids": [...]}. The worker never sees the gradebook, the
solutions or any other submission: it gets one notebook (already sanitized by the parent with
nbgrader's OverwriteCells etc.), runs it with nbclient in a kernel launched by `grading.sandbox`
(configured as nbgrader's `Execute` preprocessor is: errors do not stop the notebook, a timed-out
cell is interrupted and gets an error), and writes the executed notebook and a small result file:

    {"status": "ok" | "timeout" | "kernel_died" | "error", "reasons": [...], "seconds": ...,
     "kernel_exit": int | null, "executed_cells": n}

Every code cell that could not run (after a timeout or the kernel's death) gets an error output,
so that nbgrader's SaveAutoGrades gives its test no points.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

from . import sandbox as _sandbox
from .guard import guard_call
from .outputs import clean_notebook, clean_output, output_size
from .sandbox import SandboxSpec, make_kernel_manager_class, prepare_scratch

SIGNALS = {signal.SIGXCPU: "CPU-time cap (RLIMIT_CPU) reached",
           signal.SIGKILL: "kernel killed (SIGKILL: CPU-time hard cap or out of memory)",
           signal.SIGSEGV: "kernel crashed (SIGSEGV)", signal.SIGABRT: "kernel aborted (SIGABRT)",
           signal.SIGXFSZ: "file-size cap reached (SIGXFSZ)"}


class DeadlineExceeded(Exception):
    pass


def error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"{ename}: {evalue}"])


def _output_size(out) -> int:
    return output_size(out)


# nbgrader's Execute preprocessor is nbclient with these settings. The worker uses nbclient
# itself: importing nbgrader costs about 2 s of CPU in every worker, a kernel start's worth.
TIMEOUT_ERROR = {"ename": "CellTimeoutError", "evalue": "",
                 "traceback": ["CellTimeoutError: the kernel did not answer before the cell's time cap"]}


def record_error_reply(cell, execute_reply) -> None:
    """An error reply that left no error output (an interrupted cell) becomes one, so that the
    cell's test fails visibly, as nbgrader's Execute does."""
    content = (execute_reply or {}).get("content") or {}
    if content.get("status") != "error":
        return
    if any(o.get("output_type") == "error" and o.get("ename") == content.get("ename") for o in cell.outputs):
        return
    cell.outputs.append(NotebookNode(
        output_type="error", ename=content.get("ename", "Error"), evalue=content.get("evalue", ""),
        traceback=content.get("traceback") or ["(no traceback: the kernel's traceback display was off)"]))


def build_executor(job: dict, spec: SandboxSpec, state: dict, nb):
    from nbclient import NotebookClient
    from nbformat.v4 import output_from_msg

    caps = spec.caps
    token = job["token"]
    instructor = set(job.get("instructor_ids", []))
    tests = set(job.get("test_ids", []))
    deadline = state["deadline"]
    km_class = make_kernel_manager_class(spec)

    def grade_id(cell):
        return cell.metadata.get("nbgrader", {}).get("grade_id")

    class GuardedExecute(NotebookClient):
        """nbclient, set up as nbgrader's Execute, with a deadline, output caps and the test guard."""

        def _charge(self, cell_index, size) -> bool:
            """Count output bytes against the cell's and the notebook's caps; False: drop it."""
            used = state["out_bytes"].get(cell_index, 0)
            if used > caps.output_bytes or state["nb_bytes"] > caps.notebook_output_bytes:
                return False
            if state["nb_bytes"] + size > caps.notebook_output_bytes:
                state["nb_bytes"] = caps.notebook_output_bytes + 1
                state["capped"][cell_index] = "notebook"
                return False
            if used + size > caps.output_bytes:
                state["out_bytes"][cell_index] = caps.output_bytes + 1
                state["capped"].setdefault(cell_index, "cell")
                return False
            state["out_bytes"][cell_index] = used + size
            state["nb_bytes"] += size
            return True

        def output(self, outs, msg, display_id, cell_index):
            used = state["out_bytes"].get(cell_index, 0)
            if used > caps.output_bytes or state["nb_bytes"] > caps.notebook_output_bytes:
                return None  # already over a cap: drop
            out = super().output(outs, msg, display_id, cell_index)
            if out is None:
                return None
            if clean_output(out) is None:
                outs.remove(out)
                return None
            size = _output_size(out)
            if not self._charge(cell_index, size):
                room = max(0, caps.output_bytes - used)
                if "text" in out and state["capped"].get(cell_index) == "cell":
                    out["text"] = str(out["text"])[:room] + "\n[output truncated by the grader]\n"
                    state["nb_bytes"] += room
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
            cell_index = state["current"] if state["current"] is not None else 0
            if not self._charge(cell_index, size):
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

        def _guard(self, what):
            if job.get("guard", True) and self.kc is not None:
                self.kc.execute(guard_call(token, what), silent=True, store_history=False)

        def _on_execute(self, cell, cell_index, **kw):
            state["current"] = cell_index
            if time.monotonic() > deadline:
                raise DeadlineExceeded()
            gid = grade_id(cell)
            if gid in tests:
                self._guard("restore")
            if gid in instructor:
                self._guard("mark")

        def _on_executed(self, cell, cell_index, execute_reply, **kw):
            record_error_reply(cell, execute_reply)
            state["executed"] = cell_index
            if cell_index in state["timed_out"] and not any(
                    o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError" for o in cell.outputs):
                cell.outputs.append(error_output(
                    "CellTimeoutError", f"this cell ran longer than {caps.cell_seconds} s and was interrupted"))
            if state["capped"].get(cell_index) == "cell":
                cell.outputs.append(error_output(
                    "OutputLimitExceeded",
                    f"this cell printed more than {caps.output_bytes} bytes; output truncated"))
            elif state["capped"].get(cell_index) == "notebook":
                cell.outputs.append(error_output(
                    "OutputLimitExceeded",
                    f"the notebook's outputs exceed {caps.notebook_output_bytes} bytes; "
                    "further output dropped"))
            if grade_id(cell) in instructor:
                self._guard("record")

        async def _async_handle_timeout(self, timeout, cell=None):
            # interrupt_on_timeout: nbclient interrupts the kernel and answers with an error reply; it
            # then gives the kernel iopub_timeout (5 s) to become idle, else raises
            # CellTimeoutError and the worker kills the kernel (later cells get errors).
            state["timed_out"].add(state["current"])
            return await super()._async_handle_timeout(timeout, cell)

    def timeout_func(cell):
        return max(1, int(min(caps.cell_seconds, deadline - time.monotonic()) + 0.999))

    ex = GuardedExecute(nb, kernel_manager_class=km_class, timeout_func=timeout_func,
                        resources={"metadata": {"path": spec.scratch}},
                        timeout=caps.cell_seconds, startup_timeout=120, iopub_timeout=5,
                        allow_errors=True, error_on_timeout=TIMEOUT_ERROR,
                        interrupt_on_timeout=True, raise_on_iopub_timeout=True,
                        record_timing=False, store_widget_state=False,
                        # the notebook is done: no need to let TensorFlow tear down
                        shutdown_kernel="immediate")
    ex.on_cell_execute = ex._on_execute
    ex.on_cell_executed = ex._on_executed
    ex._km_class = km_class
    return ex


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


def run_job(job: dict) -> dict:
    start = time.monotonic()
    spec = SandboxSpec.from_json(job["sandbox"])
    prepare_scratch(spec)
    nb = nbformat.read(job["input"], as_version=4)
    state = {"deadline": start + spec.caps.wall_seconds, "out_bytes": {}, "capped": {}, "nb_bytes": 0,
             "timed_out": set(),
             "current": None, "executed": None}
    result = {"status": "ok", "reasons": [], "kernel_exit": None}
    ex = build_executor(job, spec, state, nb)
    launched = []
    orig_launch = ex._km_class._async_launch_kernel

    async def launch(self, kernel_cmd, **kw):
        await orig_launch(self, kernel_cmd, **kw)
        launched.append(self.provisioner.process)

    ex._km_class._async_launch_kernel = launch
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    try:
        ex.execute()
    except DeadlineExceeded:
        result["status"] = "timeout"
        result["reasons"].append(f"wall-time cap: submission took more than {spec.caps.wall_seconds} s")
    except CellTimeoutError:
        result["status"] = "timeout"
        result["reasons"].append(
            f"cell timed out after {spec.caps.cell_seconds} s and the kernel ignored the interrupt")
    except DeadKernelError:
        result["status"] = "kernel_died"
        code = None
        if launched:
            try:
                code = launched[-1].wait(timeout=5)
            except Exception:
                code = launched[-1].poll()
        result["kernel_exit"] = code
        result["reasons"].append(kernel_exit_reason(code))
    except Exception as exc:  # kernel failed to start, protocol trouble, ...
        result["status"] = "error"
        result["reasons"].append(f"execution failed: {type(exc).__name__}: {str(exc)[:300]}")
        result["traceback"] = traceback.format_exc()[-4000:]
    finally:
        for proc in launched:  # belt and braces: the sandbox must not outlive the job
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    pass

    if result["status"] != "ok":
        failed = state["current"]
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or index < (failed if failed is not None else 0):
                continue
            if index == failed and result["status"] == "timeout" and any(
                    o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", [])):
                continue
            what = "this cell did not finish" if index == failed else "not executed"
            cell.setdefault("outputs", []).append(
                error_output("GradingAborted", f"{what}: {'; '.join(result['reasons'])}"))
    # Reasons a cell reported itself.
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            if out.get("ename") == "MemoryError":
                result["reasons"].append(f"memory cap ({spec.caps.memory_mb} MB) hit in cell {index}")
            elif out.get("ename") == "CellTimeoutError":
                result["reasons"].append(f"cell {index} timed out after {spec.caps.cell_seconds} s (interrupted)")
            elif out.get("ename") == "OutputLimitExceeded" and "notebook" in str(out.get("evalue")):
                result["reasons"].append(
                    f"notebook output cap ({spec.caps.notebook_output_bytes} bytes) hit in cell {index}")
            elif out.get("ename") == "OutputLimitExceeded":
                result["reasons"].append(f"output cap ({spec.caps.output_bytes} bytes) hit in cell {index}")
    result["reasons"] = list(dict.fromkeys(result["reasons"]))
    clean_notebook(nb)
    nbformat.write(nb, job["output"])
    result["seconds"] = round(time.monotonic() - start, 2)
    return result


def limit_reasons(caught: dict, spec: SandboxSpec) -> list[str]:
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
        result = run_job(job)
    except Exception as exc:
        result = {"status": "error", "reasons": [f"worker failed: {type(exc).__name__}: {exc}"[:400]],
                  "traceback": traceback.format_exc()[-4000:]}
    finally:
        caught = _sandbox.release_all()  # the sandbox's cgroup: what is left in it dies
        shutil.rmtree(job["sandbox"]["conn_dir"], ignore_errors=True)
    result.setdefault("reasons", []).extend(limit_reasons(caught, SandboxSpec.from_json(job["sandbox"])))
    tmp = job["result"] + ".tmp"
    Path(tmp).write_text(json.dumps(result))
    os.replace(tmp, job["result"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
