"""`--cluster`: a real Dask cluster started exactly as docs/grading.md says (the `openssl`
certificates, a TLS `dask scheduler` without the repository on its path, two `dask worker`s from
the repository; the test only picks a free port and turns the dashboards off), grading the tiny
assignment like the local executor; a worker stopped (SIGSTOP) mid-task, whose task goes to the
other worker after its deadline; a worker killed mid-task, whose folder is swept; and a cluster
whose workers differ (other grading code, no datasets): every task refused, the students
recorded as not graded with the reasons, exit 3, nothing exported."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from grading import runtime
from helpers.course import REPO, grading_cmd, grading_env, read_grades, run_grading
from helpers.small_batch import small_batch
from helpers.tiny import A

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:.*not in session")]
DOCS = REPO / "docs" / "grading.md"
FAST = ["--workers", "2", "--no-feedback", "--no-report", "--cell-seconds", "300",
        "--wall-seconds", "600", "--memory-mb", "3500", "--seed", "5"]
DEADLINE = "60"  # --task-deadline of the stopped-worker test: a tiny task takes seconds unloaded
KILLED: dict = {}  # the stopped worker, killed after its batch: the next test checks the sweep


def _doc_blocks() -> list[str]:
    """The bash blocks of docs/grading.md's cluster section, continuation lines joined."""
    text = DOCS.read_text()
    section = text[text.index("## Many machines: a Dask cluster"):]
    section = section[:section.index("\n## ", 5)]
    return [b.replace("\\\n", " ") for b in re.findall(r"```bash\n(.*?)```", section, re.S)]


def _commands(block: str) -> list[str]:
    return [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(cmd: str, env: dict, cwd: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(["bash", "-c", cmd], env=env, cwd=cwd, stdout=open(log, "wb"),
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGCONT)
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _env(offline_env: dict) -> dict:
    """The environment of a machine of the cluster: no PYTHONPATH (the docs set it where needed)."""
    return {k: v for k, v in offline_env.items() if k != "PYTHONPATH"}


def run_grading_cmd(course: Path, subs: Path) -> list[str]:
    return grading_cmd(course, A, subs, *FAST)


@pytest.fixture(scope="module")
def local_grades(offline_env, tmp_path_factory):
    course, subs = small_batch(tmp_path_factory.mktemp("local"))
    proc = run_grading(course, A, subs, *FAST, env=offline_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    grades = read_grades(course, A)
    assert grades["right"]["total"] == 3 and grades["wrong"]["total"] == 0, grades
    return grades


@pytest.fixture(scope="module")
def tls_cluster(offline_env, tmp_path_factory):
    """The documented TLS cluster: {"address", "procs" (name -> process), "tls" (grader options)}."""
    certs = tmp_path_factory.mktemp("etc-tdnn")
    openssl, servers = _doc_blocks()[:2]
    subprocess.run(["bash", "-e", "-c", openssl], cwd=certs, check=True, capture_output=True, timeout=120)
    port, env, logs = _free_port(), _env(offline_env), tmp_path_factory.mktemp("dask-logs")

    def local(cmd: str) -> str:
        return (cmd.replace("/etc/tdnn/", f"{certs}/").replace("HOST:8786", f"127.0.0.1:{port}")
                .replace("--port 8786", f"--port {port}").replace("/srv/datasets", str(runtime.datasets_dir())))

    scheduler, worker, grade_cmd = _commands(servers)
    procs = {"scheduler": _start(local(scheduler) + " --no-dashboard", env, logs, logs / "scheduler.log")}
    try:
        for name in ("w0", "w1"):
            procs[name] = _start(local(worker) + f" --no-dashboard --name {name} --local-directory {logs / name}",
                                 env, REPO, logs / f"{name}.log")
        tls = re.findall(r"--tls-[a-z-]+ \S+", local(grade_cmd))
        options = [part for opt in tls for part in opt.split()]
        from distributed import Client
        from grading.cluster import security
        files = dict(zip(("ca", "cert", "key"), options[1::2]))
        with Client(f"tls://127.0.0.1:{port}", timeout=60, security=security(files)) as client:
            client.wait_for_workers(2, timeout=180)
        commands = {"scheduler": local(scheduler) + " --no-dashboard", "env": env,
                    "worker": local(worker) + f" --no-dashboard --local-directory {logs / 'w2'}"}
        yield {"address": f"tls://127.0.0.1:{port}", "procs": procs, "tls": options, "logs": logs,
               "commands": commands}
    finally:
        for proc in procs.values():
            _stop(proc)


def test_docs_cluster_is_tls_and_scheduler_runs_without_the_repository():
    scheduler, worker, grade_cmd = _commands(_doc_blocks()[1])
    assert scheduler.startswith("dask scheduler") and "--protocol tls" in scheduler
    assert "PYTHONPATH" not in scheduler and "tls://HOST" in worker and "--tls-cert" in grade_cmd


def _signal_first_busy_worker(cluster: dict, sig: int, hit: list) -> None:
    """Send `sig` to the process group of the first worker seen executing a job, once that job's
    temp folder exists (the worker is then mid-task, whatever the machine's speed)."""
    from distributed import Client
    from grading.cluster import security
    files = dict(zip(("ca", "cert", "key"), cluster["tls"][1::2]))
    with Client(cluster["address"], timeout=60, security=security(files)) as client:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not hit:
            busy = [w for w, keys in client.processing().items() if keys]
            if busy:
                group = cluster["procs"][client.scheduler_info()["workers"][busy[0]]["name"]].pid
                pids = {int(p) for p in subprocess.run(["pgrep", "-g", str(group)], capture_output=True,
                                                       text=True).stdout.split()}
                if pids & _folder_pids():
                    os.killpg(group, sig)
                    hit.append(client.scheduler_info()["workers"][busy[0]]["name"])
            time.sleep(0.2)


def test_a_stopped_workers_task_goes_to_the_other_worker(tls_cluster, local_grades, offline_env,
                                                          tmp_path):
    """SIGSTOP on the first worker seen running a task: after the deadline its tasks go to the
    other worker; then it is killed (SIGKILL) as it stands, mid-task, leaving its folders."""
    course, subs = small_batch(tmp_path)
    hit: list = []
    stopper = threading.Thread(target=_signal_first_busy_worker, args=(tls_cluster, signal.SIGSTOP, hit),
                               daemon=True)
    stopper.start()
    try:
        proc = run_grading(course, A, subs, *FAST, "--cluster", tls_cluster["address"], *tls_cluster["tls"],
                           "--task-deadline", DEADLINE, env=offline_env)
    finally:
        stopper.join(timeout=60)
        for name in hit:
            group = tls_cluster["procs"][name].pid
            KILLED["pids"] = {int(p) for p in subprocess.run(["pgrep", "-g", str(group)], capture_output=True,
                                                            text=True).stdout.split()}
            os.killpg(group, signal.SIGKILL)
            tls_cluster["procs"][name].wait(timeout=30)
    assert hit, "no worker was seen executing a job"
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"within {DEADLINE} s (stalled or stopped?)" in proc.stderr
    grades = read_grades(course, A)
    assert grades == local_grades and all(g["_submissions"] == 1 for g in grades.values())
    assert KILLED["pids"] & _folder_pids(), "the stopped worker had no task folder to leave behind"


def _folder_pids() -> set[int]:
    return {int(p.name.split("-")[2]) for p in Path(tempfile.gettempdir()).glob("grading-dask-*-")
            if p.name.split("-")[2].isdigit()}


def test_documented_tls_cluster_grades_like_the_local_executor(tls_cluster, local_grades, offline_env,
                                                               tmp_path):
    course, subs = small_batch(tmp_path)
    proc = run_grading(course, A, subs, *FAST, "--cluster", tls_cluster["address"], *tls_cluster["tls"],
                       env=offline_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read_grades(course, A) == local_grades
    if KILLED:  # the killed worker's folders went with the first task on this machine
        assert not KILLED["pids"] & _folder_pids(), "a killed worker's folders were not swept"


def test_a_scheduler_restarted_mid_batch_is_waited_for(tls_cluster, local_grades, offline_env, tmp_path):
    """The scheduler killed while a task runs and started again (the documented command, same
    port), with a fresh worker: the grader waits for it, sends the tasks again, and grades right."""
    procs, commands = tls_cluster["procs"], tls_cluster["commands"]
    course, subs = small_batch(tmp_path)
    grader = subprocess.Popen(
        [*run_grading_cmd(course, subs), "--cluster", tls_cluster["address"], *tls_cluster["tls"]],
        cwd=REPO, env=grading_env(offline_env), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 600
        while not _folder_pids() - KILLED.get("pids", set()) and time.monotonic() < deadline:
            time.sleep(0.2)  # a task is running on a worker
        _stop(procs["scheduler"])
        time.sleep(5)
        procs["scheduler"] = _start(commands["scheduler"], commands["env"], tls_cluster["logs"],
                                    tls_cluster["logs"] / "scheduler-2.log")
        procs["w2"] = _start(commands["worker"] + " --name w2", commands["env"], REPO,
                             tls_cluster["logs"] / "w2.log")
        out, err = grader.communicate(timeout=1200)
    finally:
        if grader.poll() is None:
            grader.kill()
    assert grader.returncode == 0, out + err[-3000:]
    assert read_grades(course, A) == local_grades


def test_workers_that_differ_refuse_every_task(offline_env, tmp_path):
    """A plain tcp:// cluster whose two workers cannot grade: one runs other grading code (a
    copy of the package with one comment added to executors.py), one has no datasets."""
    other = tmp_path / "other"
    shutil.copytree(REPO / "grading", other / "grading", ignore=shutil.ignore_patterns("__pycache__"))
    with open(other / "grading" / "executors.py", "a") as fh:
        fh.write("# changed on this worker\n")
    env, port = _env(offline_env), _free_port()
    procs = [_start(f"dask scheduler --host 127.0.0.1 --port {port} --no-dashboard", env, tmp_path,
                    tmp_path / "s.log")]
    try:
        address = f"tcp://127.0.0.1:{port}"
        procs.append(_start(f"PYTHONPATH={other} dask worker {address} --nthreads 1 --no-dashboard",
                            env, other, tmp_path / "w-code.log"))
        procs.append(_start(f"PYTHONPATH={REPO} COURSE_DATASETS={tmp_path / 'none'} dask worker {address} "
                            "--nthreads 1 --no-dashboard", env, REPO, tmp_path / "w-data.log"))
        from distributed import Client
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=180)
        course, subs = small_batch(tmp_path / "b")
        proc = run_grading(course, A, subs, *FAST, "--cluster", address, env=offline_env)
    finally:
        for p in procs:
            _stop(p)
    assert proc.returncode == 3, proc.stdout + proc.stderr[-3000:]
    assert "runs other grading code" in proc.stderr and "has no datasets" in proc.stderr
    assert "2 student(s) not graded because of the infrastructure" in proc.stderr
    assert "Traceback" not in proc.stderr
    state = json.loads((course / "autograded" / f".grading-state-{A}.json").read_text())
    assert {s: e["status"] for s, e in state.items()} == {"right": "infrastructure_error",
                                                          "wrong": "infrastructure_error"}
    assert all(e["score"] is None and e["problems"][0].startswith("not graded: ") for e in state.values())
    assert read_grades(course, A) == {}, "a student not graded has a score in the gradebook"
    from grading.export import ExportError, export
    with pytest.raises(ExportError, match="without a final grade"):
        export(f"sqlite:///{course}/gradebook.db", "tdnn", A, "csv")


def test_a_killed_workers_folders_are_swept(tmp_path):
    from grading.executors import REMOTE_PREFIX, sweep_dead_folders
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = tmp_path / f"{REMOTE_PREFIX}{dead.pid}-abc-"
    mine = tmp_path / f"{REMOTE_PREFIX}{os.getpid()}-def-"
    for folder in (gone, mine):
        (folder / "job").mkdir(parents=True)
    assert sweep_dead_folders(str(tmp_path)) == [str(gone)]
    assert not gone.exists() and mine.exists()


def test_unreachable_cluster_is_a_clear_error(monkeypatch):
    from grading import cluster, executors
    from grading.course import GradingError
    monkeypatch.setattr(cluster, "CONNECT_SECONDS", 3)
    with pytest.raises(GradingError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        with executors.executor_for(2, "tcp://127.0.0.1:9", {"ipythondir": ".", "datasets": None}):
            pass
