"""What each cell of an assignment costs when the reference is graded: wall and CPU seconds.

    python scripts/profile_checks.py cifar10

Grades the reference solution in this process, as `scripts/mutation_score.py --in-process` does
(the release's cells in order, the reference's answer cells, each test cell replaced by its
check's probe and judged), and prints each cell's wall-clock and CPU seconds (this process, all
threads) and each check's verdict. In the sandboxed batch the same cells run in a kernel, plus
the kernel's start; the split between the cells is what this shows (docs/performance.md).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutation_score import GRADING_SEED, REPO, offline_env, solution_sources  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("assignment")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix=f"profile-{a.assignment}-") as tmp:
        tmp = Path(tmp)
        os.environ.update(offline_env(tmp), COURSE_PROFILE="quick", KERAS_HOME=str(tmp / "keras_home"),
                          IPYTHONDIR=str(tmp / "ipython"))
        from IPython.core.interactiveshell import InteractiveShell
        from IPython.utils.capture import capture_output
        from traitlets.config import Config

        from grading.checks import load
        from grading.judge import rng_for
        from grading.probes import read_report
        checks, reference = load(a.assignment), solution_sources(REPO, a.assignment)
        release = nbformat.read(REPO / "exercises" / a.assignment / f"{a.assignment}.ipynb", as_version=4)
        config = Config()
        config.HistoryManager.enabled = False
        shell = InteractiveShell.instance(config=config)
        for startup in sorted((tmp / "ipython" / "profile_default" / "startup").glob("*.py")):
            if "like-colab" not in startup.name:  # the offline datasets, as in the batch's kernels
                exec(compile(startup.read_text(), str(startup), "exec"), {"__name__": startup.stem})
        totals = [0.0, 0.0]
        print(f"{'wall s':>7} {'CPU s':>7}  cell")
        for cell in (c for c in release.cells if c.cell_type == "code"):
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            wall, cpu, what = time.perf_counter(), time.process_time(), ""
            with capture_output() as captured:
                if gid in checks:
                    probe = checks[gid].probe(rng_for(GRADING_SEED, "reference", gid, "profile"))
                    shell.run_cell(probe.source())
                else:
                    shell.run_cell(reference.get(gid, cell.source))
            if gid in checks:
                outputs = [{"output_type": "display_data", "data": o.data} for o in captured.outputs]
                what = f"  (check: {probe.judge(read_report(outputs)).fraction:.2f} of its points)"
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            totals = [totals[0] + wall, totals[1] + cpu]
            print(f"{wall:7.2f} {cpu:7.2f}  {gid}{what}", flush=True)
        print(f"{totals[0]:7.2f} {totals[1]:7.2f}  all cells ({os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.1f} at the end)")


if __name__ == "__main__":
    main()
