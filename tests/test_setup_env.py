"""`bash scripts/setup-env.sh`, as docs/instructor.md says, on a clean clone: it creates the
virtual environment and nothing else, a second run reuses it, and a requirement that cannot be
installed fails the command without marking the environment as ready.

The clone installs a requirements file of its own (COURSE_REQUIREMENTS) with pip kept offline
(PIP_NO_INDEX), so the test costs a `python -m venv` and not TensorFlow's download; the command
and its code path are the documented ones.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    dest = tmp_path_factory.mktemp("clone") / "course"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(dest)], check=True)
    return dest


def setup_env(clone: Path, requirements: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PIP_", "COURSE_"))}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", COURSE_REQUIREMENTS=str(requirements),
               PYTHON=sys.executable)
    return subprocess.run(["bash", "scripts/setup-env.sh"], cwd=clone, env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=600)


def untracked(clone: Path) -> set[str]:
    out = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=normal"],
                         cwd=clone, capture_output=True, text=True, check=True).stdout
    return {line[3:].rstrip("/") for line in out.splitlines()}


def test_setup_command_creates_the_venv_and_nothing_else_and_fails_loudly(clone, tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# nothing to install offline; the documented code path all the same\n")
    done = setup_env(clone, requirements)
    assert done.returncode == 0, done.stderr
    assert "Creating the virtual environment" in done.stdout
    assert "source .venv/bin/activate" in done.stdout
    python = clone / ".venv" / "bin" / "python"
    assert subprocess.run([str(python), "-c", "import sys; assert sys.prefix != sys.base_prefix"]).returncode == 0
    assert untracked(clone) == {".venv"}, "setup-env.sh made more than the venv"

    again = setup_env(clone, requirements)
    assert again.returncode == 0, again.stderr
    assert "Creating" not in again.stdout  # the stamp of the same requirements: nothing to do

    # A requirement that cannot be installed fails the command and leaves the venv unmarked.
    stamp = (clone / ".venv" / ".requirements.sha256").read_text()
    requirements.write_text("no-such-package-for-the-course==1.0\n")
    broken = setup_env(clone, requirements)
    assert broken.returncode != 0
    assert "no-such-package-for-the-course" in broken.stderr
    assert (clone / ".venv" / ".requirements.sha256").read_text() == stamp
