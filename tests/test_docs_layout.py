"""README and CONTRIBUTING stay true to the tree: README in two screens, every path it names
exists, and CONTRIBUTING's layout names every top-level entry and every script."""
import fnmatch
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
LAYOUT = (REPO / "CONTRIBUTING.md").read_text().split("## Layout", 1)[1].split("\n## ", 1)[0]


def _tracked() -> list[str]:
    return subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout.splitlines()


def test_readme_fits_two_screens():
    assert len(README.splitlines()) <= 150


def test_every_path_the_readme_names_exists():
    named = set(re.findall(r"`((?:scripts|docs|grading|tests|results|exercises|solutions|chapters)/[^`<> ]*)`", README))
    named |= set(re.findall(r"\]\(((?:docs|scripts)/[^)#]+)", README))
    missing = sorted(p for p in named if not (REPO / p.rstrip("/")).exists())
    assert not missing, missing


def test_contributing_layout_names_every_top_level_entry_and_script():
    names = re.findall(r"`([^`]+)`", LAYOUT)
    top = {p.split("/")[0] for p in _tracked()} - {".gitignore", "LICENSE", "LICENSE-CONTENT", "README.md",
                                                    "CONTRIBUTING.md", "pytest.ini", "requirements.txt"}
    unnamed = sorted(t for t in top if not any(n.split("/")[0] == t for n in names))
    assert not unnamed, f"top-level entries missing from CONTRIBUTING's layout: {unnamed}"
    scripts = {p.split("/")[1] for p in _tracked() if p.startswith("scripts/")}
    listed = [n.split("/")[-1] or n.split("/")[-2] for n in names if n.startswith("scripts/")] \
        + [n for n in names if "/" not in n]
    unnamed = sorted(s for s in scripts if not any(fnmatch.fnmatch(s, pat) for pat in listed))
    assert not unnamed, f"scripts missing from CONTRIBUTING's layout: {unnamed}"
