"""How a sandbox is described to bwrap, rlimits and cgroups (grading/sandbox.py, grading/cgroups.py),
checked on the arguments alone: nothing is started."""
import os
import sys

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


def test_rlimits_follow_the_caps(tmp_path):
    lim = sandbox._rlimits(_spec(tmp_path))
    assert lim["RLIMIT_AS"] == (1000 << 20, 1000 << 20)
    assert lim["RLIMIT_CPU"] == (50, 55) and lim["RLIMIT_CORE"] == (0, 0)
    assert "RLIMIT_NPROC" in lim  # no cgroup: the process count falls back to the host user's
    assert "RLIMIT_NPROC" not in sandbox._rlimits(_spec(tmp_path, cgroup="cgroup2"))


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
    assert args[args.index("--tmpfs") - 1] == str(spec.caps.tmp_mb << 20)


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
