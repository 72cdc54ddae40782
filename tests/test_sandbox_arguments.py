"""How a sandbox is described to bwrap, rlimits, prlimit and cgroups (grading/sandbox.py, grading/cgroups.py),
checked on the arguments alone: nothing is started."""
import errno
import json
import os
import sys
from pathlib import Path

import pytest

from grading import cgroups, sandbox
from grading.sandbox import DATA_MOUNT, Caps, SandboxSpec


def _spec(tmp_path, **kw) -> SandboxSpec:
    base = dict(python_prefix=sys.base_prefix, venv=sys.prefix, datasets=str(tmp_path / "ds"),
                keras_seed=None, ipythondir=str(tmp_path / "ipy"), scratch=str(tmp_path / "s"),
                conn_dir=str(tmp_path / "c"), caps=Caps(memory_mb=1000, cpu_seconds=50, threads=2),
                run_as=None, cgroup=None, matplotlib_cache=None, tag="t")
    base.update(kw)
    return SandboxSpec(**base)


def test_spec_survives_its_json_form(tmp_path):
    spec = _spec(tmp_path, env={"COURSE_PROFILE": "quick"})
    assert SandboxSpec.from_json(spec.to_json()) == spec


def test_kernel_environment_is_built_not_inherited(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_OF_THE_GRADER", "x")
    env = sandbox.sandbox_env(_spec(tmp_path, env={"COURSE_PROFILE": "quick"}))
    assert "SECRET_OF_THE_GRADER" not in env
    assert env["COURSE_PROFILE"] == "quick" and env["OMP_NUM_THREADS"] == "2"
    assert env["HOME"].startswith("/scratch") and env["TMPDIR"] == "/tmp"


def test_rlimits_follow_the_caps(tmp_path, monkeypatch):
    lim = sandbox._rlimits(_spec(tmp_path))
    assert lim["RLIMIT_AS"] == (1000 << 20, 1000 << 20)
    assert lim["RLIMIT_CPU"] == (50, 55) and lim["RLIMIT_CORE"] == (0, 0)
    monkeypatch.setattr(cgroups, "userns_process_counts", lambda: False)
    shared = _spec(tmp_path, caps=Caps(processes=99, shared_process_limit=True))
    # Accepted as shared: RLIMIT_NPROC counts the host user's tasks too, so it leaves room for them.
    assert sandbox._rlimits(shared)["RLIMIT_NPROC"][0] >= 99
    assert "RLIMIT_NPROC" not in sandbox._rlimits(_spec(tmp_path, cgroup="cgroup2"))
    monkeypatch.setattr(cgroups, "userns_process_counts", lambda: True)  # prlimit in its namespace
    assert "RLIMIT_NPROC" not in sandbox._rlimits(_spec(tmp_path))


@pytest.mark.skipif(sandbox.bwrap_path() is None, reason="needs bubblewrap")
def test_bwrap_binds_only_what_the_kernel_may_see(tmp_path):
    spec = _spec(tmp_path)
    args = sandbox._bwrap_args(spec, {})
    triples = [tuple(args[i:i + 3]) for i in range(len(args) - 2)]
    assert ("--ro-bind", spec.datasets, f"{DATA_MOUNT}/datasets") in triples
    assert "--unshare-all" in args and "--disable-userns" in args and args[-1] == "--"
    bound = [args[i + 1] for i, a in enumerate(args) if a in ("--bind", "--ro-bind")]
    assert all(not p.startswith(str(tmp_path / "s")) for p in bound)  # the host scratch stays out
    assert bound.count(spec.conn_dir) == 1 and "/etc/shadow" not in bound
    sizes = {args[i + 1]: args[i - 1] for i, a in enumerate(args) if a == "--tmpfs"}
    assert sizes["/tmp"] == str(spec.caps.tmp_mb << 20) and sizes["/dev/shm"] == str(spec.caps.shm_mb << 20)


def test_cgroup2_is_written_from_the_caps(tmp_path, monkeypatch):
    root = tmp_path / "cgroup"
    (root / "grader").mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpu memory pids")
    (root / "grader" / "cgroup.controllers").write_text("cpu memory pids")
    (root / "grader" / "cgroup.subtree_control").write_text("cpu memory pids")
    monkeypatch.setattr(cgroups, "CGROUP_ROOT", root)
    monkeypatch.setattr(cgroups, "_own_path", lambda controller: "/grader")
    cg = cgroups.SandboxCgroup.create("x", memory_mb=64, pids=8, cpus=1.5)
    folder = root / "grader" / f"{cgroups.PREFIX}x"
    assert cg.kind == "cgroup2" and cg.dirs == [folder]
    assert (folder / "memory.max").read_text() == str(64 << 20)
    assert (folder / "pids.max").read_text() == "8"
    assert (folder / "cpu.max").read_text() == "150000 100000"
    assert cg.procs_files() == [str(folder / "cgroup.procs")]
    for name in os.listdir(folder):  # a real cgroup folder empties itself; this one is files
        (folder / name).unlink()
    cg.remove()
    assert not folder.exists()


def test_what_a_cgroup_caught_is_read_from_its_counters(tmp_path):
    folder = tmp_path / "cg"
    folder.mkdir()
    (folder / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\n")
    (folder / "pids.events").write_text("max 5\n")
    cg = cgroups.SandboxCgroup("cgroup2", [folder])
    assert (cg.oom_kills(), cg.pids_refused()) == (2, 5)
    (folder / "memory.events").unlink()
    assert cg.oom_kills() == 0


def test_cgroup_v2_delegation_moves_the_grader_into_a_leaf(tmp_path, monkeypatch):
    """cgroup v2 gives controllers only to cgroups without processes: in a delegated cgroup that
    holds the grader, the grader's processes move to a leaf `tdnn-grader-PID`, the controllers are
    enabled, and a worker started from that leaf makes its sandboxes' cgroups beside it.
    (A model of the cgroup v2 files: this machine's test suite runs on cgroup v1.)"""
    root = tmp_path / "cgroup"
    base = root / "user.slice" / "run-grader.scope"
    base.mkdir(parents=True)
    for folder in (root, base):
        (folder / "cgroup.controllers").write_text("cpu memory pids")
    (base / "cgroup.subtree_control").write_text("")
    (base / "cgroup.procs").write_text("4242\n4243\n")
    own = {"path": "/user.slice/run-grader.scope"}
    real_write = Path.write_text

    def write_text(self, data, *args, **kw):  # what the kernel does with these two files
        procs = base / "cgroup.procs"
        if self == base / "cgroup.subtree_control" and procs.read_text().split():
            raise OSError(errno.EBUSY, "Device or resource busy")
        if self.name == "cgroup.procs" and self.parent != base:
            real_write(procs, "\n".join(p for p in procs.read_text().split() if p != data))
            data = (self.read_text() if self.exists() else "") + data + "\n"
        return real_write(self, data, *args, **kw)

    monkeypatch.setattr(cgroups, "CGROUP_ROOT", root)
    monkeypatch.setattr(cgroups, "_own_path", lambda controller: own["path"])
    monkeypatch.setattr(Path, "write_text", write_text)
    assert cgroups._v2_base() == base
    leaf = base / f"{cgroups.LEAF}{os.getpid()}"
    assert (leaf / "cgroup.procs").read_text().split() == ["4242", "4243"]
    assert (base / "cgroup.procs").read_text().split() == []
    assert sorted((base / "cgroup.subtree_control").read_text().split()) == ["+cpu", "+memory", "+pids"]
    own["path"] = f"/user.slice/run-grader.scope/{leaf.name}"  # a worker, started by the grader
    assert cgroups._v2_base() == base


def test_process_cap_per_sandbox_or_refusal(tmp_path, monkeypatch):
    """Which process cap a kernel gets: prlimit inside its user namespace on Linux 5.14+; else
    the cgroup's pids.max; else a refusal that says how to get one, unless the instructor
    accepted one shared RLIMIT_NPROC (--shared-process-limit)."""
    spec = _spec(tmp_path, datasets=None)
    (tmp_path / "ipy" / "profile_default" / "startup").mkdir(parents=True)

    def launch(**caps):
        spec.caps = Caps(**caps)
        sandbox.kernel_command(spec, ["python", "-m", "ipykernel_launcher"])
        return json.loads((tmp_path / "s" / "launch.json").read_text())

    monkeypatch.setattr(cgroups, "userns_process_counts", lambda: True)
    got = launch(processes=99)
    assert got["argv"][-6:] == [sandbox.PRLIMIT, "--nproc=99:99", "--", "python", "-m", "ipykernel_launcher"]
    assert "RLIMIT_NPROC" not in got["rlimits"] and got["seccomp"].endswith("seccomp.bpf")
    monkeypatch.setattr(cgroups, "userns_process_counts", lambda: False)
    with pytest.raises(sandbox.SandboxUnavailable, match="systemd-run --user --scope -p Delegate=yes"):
        launch()
    got = launch(processes=99, shared_process_limit=True)
    assert sandbox.PRLIMIT not in got["argv"] and got["rlimits"]["RLIMIT_NPROC"][0] >= 99
    spec.cgroup = "cgroup1"
    assert sandbox.process_cap(spec) == "cgroup"
    if cgroups.detect()[0]:
        assert "processes and threads per sandbox (the cgroup's pids.max)" in sandbox.describe_isolation(True)
