"""One IPython shell in this process that runs probe cells the way a grading kernel does.

For tests of what a probe observes when the kernel's state is hostile (a hooked report channel,
shadowed or patched builtins, copied keys): `ProbeShell.run(source)` runs a cell (the student's
tampering), `ProbeShell.report(probe)` runs a probe cell and returns the report the grader would
read (`grading.probes.read_report` of its outputs; ReportError when none came back). The same
probe source and reader as the sandboxed batch; only the sandbox is missing, which these
mechanisms do not need (they act inside the kernel, on its own objects).
"""
from __future__ import annotations

import os

from grading import runtime
from grading.probes import ReportError, read_report


class ProbeShell:
    def __init__(self):
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config
        datasets = runtime.datasets_dir()
        self._keras_home = os.environ.get("KERAS_HOME")
        if runtime.has_datasets(datasets):   # the kernels' copy: held-out labels withheld
            os.environ["KERAS_HOME"] = runtime.keras_seed(str(datasets))
        config = Config()
        config.HistoryManager.enabled = False
        self.shell = InteractiveShell.instance(config=config)

    def reset(self) -> None:
        import builtins   # first: a patched builtin of an earlier test must not stay
        for name, value in list(_PRISTINE.items()):
            setattr(builtins, name, value)
        import IPython.display
        from IPython.core.display_functions import display
        IPython.display.display = display
        self.shell.reset(new_session=False)

    def close(self) -> None:
        """Builtins, display and KERAS_HOME as they were (the test process goes on)."""
        self.reset()
        if self._keras_home is None:
            os.environ.pop("KERAS_HOME", None)
        else:
            os.environ["KERAS_HOME"] = self._keras_home

    def run(self, source: str):
        from IPython.utils.capture import capture_output
        with capture_output() as captured:
            result = self.shell.run_cell(source)
        return result, captured

    def report(self, probe) -> dict:
        """The grader's reading of the probe cell's outputs (ReportError propagates)."""
        _, captured = self.run(probe.source())
        return read_report([{"output_type": "display_data", "data": o.data} for o in captured.outputs])

    def fraction(self, probe) -> float:
        """The grader's verdict on the probe (0 when no usable report came back)."""
        try:
            return probe.judge(self.report(probe)).fraction
        except ReportError:
            return 0.0


def _snapshot():
    import builtins
    return dict(vars(builtins))


_PRISTINE = _snapshot()
