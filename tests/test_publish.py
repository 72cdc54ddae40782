"""The student edition (scripts/publish.sh --profile quick, run once by the `published_edition`
fixture): no answer or hidden test reaches _build/publish/, the published book works without a
network, and every launch link opens a file of the student repository."""
import functools
import html
import http.server
import json
import re
import subprocess
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
import yaml

from conftest import REPO
from test_book import toc_files
from helpers.browser import network_log, offline_chromium

PUBLISH = REPO / "_build" / "publish"
SITE, STUDENT = PUBLISH / "site", PUBLISH / "student"
CONFIG = yaml.safe_load((REPO / "_config.yml").read_text())
STUDENT_REPOSITORY = CONFIG["course"]["student_repository"].rstrip("/")
INSTRUCTOR_REPOSITORY = CONFIG["repository"]["url"].rstrip("/")
BRANCH = CONFIG["repository"]["branch"]
# A link to the instructor's (private) repository, in any of its forms: repository, Colab, Binder.
INSTRUCTOR_LINK = re.compile(r"(github\.com/|/github/|/gh/)"
                             + re.escape(INSTRUCTOR_REPOSITORY.removeprefix("https://github.com/"))
                             + r"(?=$|[^\w.-]|\.git(?![\w-]))")

REGION = re.compile(r"^### (BEGIN|END) (SOLUTION|HIDDEN TESTS)$")
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "solutions/")
STUDENT_TOP_LEVEL = {"README.md", "LICENSE", "LICENSE-CONTENT", "requirements.txt",
                     "chapters", "exercises", "results"}


def normalised(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


def notebook_lines(path: Path) -> list[str]:
    return [line for cell in nbformat.read(path, as_version=4).cells
            for line in normalised(cell.source)]


def is_trivial(line: str) -> bool:
    """Blank, brackets and punctuation only, or too short to say anything (`return x`)."""
    return len(line) < 12 or not re.search(r"[A-Za-z0-9]", line)


def public_text() -> str:
    """What students are meant to read: the release notebooks and the chapters' sources."""
    release = ["\n".join(notebook_lines(path)) for path in REPO.glob("exercises/*/*.ipynb")]
    chapters = ["\n".join(normalised(path.read_text())) for path in REPO.glob("chapters/*.md")]
    return "\n".join(release + chapters)


def secret_lines() -> set[str]:
    """Each line of every solution and hidden-test region of solutions/, less what students see
    anyway: lines the release shows (`def` lines, visible tests, hints quoting a formula) or the
    chapters show (generic lines such as `for _ in range(n_hidden):`), and trivial lines."""
    public = public_text()
    secrets = set()
    for path in REPO.glob("solutions/*/*.ipynb"):
        inside = False
        for line in notebook_lines(path):
            marker = REGION.match(line)
            if marker:
                inside = marker.group(1) == "BEGIN"
            elif inside and not is_trivial(line) and line not in public:
                secrets.add(line)
    return secrets


def json_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_strings(item)


def readable_texts(path: Path) -> list[str]:
    """The file as stored, and as a reader sees it: HTML without tags and entities (code is
    split into highlighting spans), notebooks and JSON as their strings. [] for binary files."""
    data = path.read_bytes()
    if b"\0" in data[:4096]:
        return []
    raw = data.decode("utf-8", errors="replace")
    texts = [raw]
    if path.suffix == ".html":
        texts.append(html.unescape(re.sub(r"<[^>]+>", "", raw)))
    elif path.suffix in {".ipynb", ".json"}:
        texts.append("\n".join(json_strings(json.loads(raw))))
    return ["\n".join(normalised(text)) for text in texts]


@pytest.mark.slow
def test_student_tree_holds_only_what_students_need(published_edition):
    assert {p.name for p in STUDENT.iterdir()} == STUDENT_TOP_LEVEL
    for doc in toc_files():
        if doc.startswith("chapters/"):
            for suffix in (".md", ".ipynb"):
                assert (STUDENT / f"{doc}{suffix}").is_file(), f"{doc}{suffix} missing from student/"
    releases = sorted(REPO.glob("exercises/*/*.ipynb"))
    assert releases
    for release in releases:
        copy = STUDENT / release.relative_to(REPO)
        assert copy.read_bytes() == release.read_bytes(), f"{copy} differs from the release"
    forbidden = [p for p in STUDENT.rglob("*") if p.name in {"solutions", "tests", "grading",
                 "nbgrader_config.py", "gradebook.db", "submitted", "autograded", "feedback"}]
    assert not forbidden, forbidden
    readme = (STUDENT / "README.md").read_text()
    org_name = STUDENT_REPOSITORY.removeprefix("https://github.com/")
    for release in releases:
        link = f"https://colab.research.google.com/github/{org_name}/blob/{BRANCH}/" \
               f"{release.relative_to(REPO).as_posix()}"
        assert link in readme, f"the student README has no Colab link {link}"
    assert "Download .ipynb" in readme and "$" not in readme, "README: hand-in steps or a placeholder"


@pytest.mark.slow
def test_no_solution_or_hidden_test_line_is_published(published_edition):
    secrets = secret_lines()
    assert len(secrets) > 100, f"only {len(secrets)} solution/hidden-test lines to look for"
    files = [p for p in PUBLISH.rglob("*") if p.is_file()]
    assert any(p.suffix == ".html" for p in files) and any(p.suffix == ".ipynb" for p in files)
    leaks = []
    for path in files:
        for text in readable_texts(path):
            leaks += [f"{path.relative_to(PUBLISH)}: {marker!r}" for marker in MARKERS if marker in text]
            leaks += [f"{path.relative_to(PUBLISH)}: {line!r}" for line in secrets if line in text]
    assert not leaks, f"{len(leaks)} leaks:\n" + "\n".join(sorted(set(leaks))[:60])


LAUNCH_LINK = re.compile(
    r'https://colab\.research\.google\.com/github/(?P<colab_repo>[^/"]+/[^/"]+)/blob/'
    r'(?P<colab_branch>[^/"]+)/(?P<colab_path>[^"?#]+)'
    r'|https://mybinder\.org/v2/gh/(?P<binder_repo>[^/"]+/[^/"]+)/(?P<binder_branch>[^/?"]+)'
    r'\?urlpath=(?:[\w%/]*?)tree/(?P<binder_path>[^"&]+)')


@pytest.mark.slow
def test_every_launch_link_opens_a_file_of_the_student_repository(published_edition):
    org_name = STUDENT_REPOSITORY.removeprefix("https://github.com/")
    problems, colab_pages = [], set()
    for path in PUBLISH.rglob("*"):
        if path.suffix in {".html", ".md", ".ipynb", ".txt", ".js", ".json"} and \
                INSTRUCTOR_LINK.search(path.read_text(errors="replace")):
            problems.append(f"{path.relative_to(PUBLISH)}: links to the instructor's repository")
    for page in SITE.rglob("*.html"):
        text = page.read_text()
        for link in LAUNCH_LINK.finditer(text):
            kind = "colab" if link["colab_repo"] else "binder"
            repo, branch, path = link[f"{kind}_repo"], link[f"{kind}_branch"], unquote(link[f"{kind}_path"])
            if kind == "colab":
                colab_pages.add(page.relative_to(SITE).with_suffix("").as_posix())
            if (repo, branch) != (org_name, BRANCH) or not (STUDENT / path).is_file():
                problems.append(f"{page.relative_to(SITE)}: {link[0]} is not a file of student/")
    notebooks = {doc for doc in toc_files() if doc.startswith(("chapters/", "exercises/"))}
    assert notebooks <= colab_pages, f"pages without a Colab link: {sorted(notebooks - colab_pages)}"
    assert not problems, "\n".join(problems)


def serve(folder: Path) -> http.server.ThreadingHTTPServer:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=folder))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# Waits for MathJax to typeset the page and its fonts to load, then reports the math elements
# Sphinx wrote, how many MathJax rendered, the visible text outside code and rendered math, whether
# the page has its heading, and which images did not render.
RENDERED_MATH = """
const done = arguments[arguments.length - 1];
const typeset = (window.MathJax && MathJax.startup && MathJax.startup.promise) || Promise.resolve();
typeset.then(() => document.fonts.ready).then(() => {
  const math = Array.from(document.querySelectorAll('.math'));
  const body = document.body.cloneNode(true);
  body.querySelectorAll('pre, code, script, style, textarea, template, mjx-container')
      .forEach(e => e.remove());
  done({math: math.length, rendered: math.filter(m => m.querySelector('mjx-container')).length,
        mathjax: !!(window.MathJax && MathJax.version), text: body.textContent,
        heading: !!document.querySelector('main h1'),
        broken: Array.from(document.images).filter(i => i.complete && i.naturalWidth === 0)
                     .map(i => i.src)});
}, error => done({error: String(error)}));
"""
RAW_MATH = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\\frac\{")


@pytest.mark.slow
def test_site_renders_math_offline_without_outside_requests(published_edition, tmp_path):
    server = serve(SITE)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    driver = offline_chromium(tmp_path / "chromium-profile")
    problems, outside, pages_with_math = [], [], 0
    try:
        driver.get(base + "index.html")
        blocked = driver.execute_async_script(
            "const done = arguments[0]; fetch('https://example.org/').then(() => done('reached'),"
            " () => done('blocked'))")
        assert blocked == "blocked", "the browser reached the network: this test would prove nothing"
        network_log(driver)  # the probe's request is not the site's
        for doc in toc_files():
            driver.get(base + f"{doc}.html")
            page = driver.execute_async_script(RENDERED_MATH)
            requested, failed = network_log(driver)
            outside += [f"{doc}: {url}" for url in requested
                        if not url.startswith(base) and urlsplit(url).scheme not in {"data", "blob", "about"}]
            # Chromium asks for /favicon.ico by itself when a page names no icon: not the site's.
            problems += [f"{doc}: failed to load {what}" for what in failed
                         if what.startswith(base) and not what.startswith(base + "favicon.ico")]
            if "error" in page:
                problems.append(f"{doc}: MathJax failed: {page['error']}")
                continue
            if not page["heading"]:
                problems.append(f"{doc}: no heading rendered")
            problems += [f"{doc}: image did not render: {src}" for src in page["broken"]]
            if page["math"]:
                pages_with_math += 1
                if not page["mathjax"] or page["rendered"] != page["math"]:
                    problems.append(f"{doc}: {page['rendered']} of {page['math']} formulas rendered")
            raw = sorted(set(RAW_MATH.findall(page["text"])))
            if raw:
                problems.append(f"{doc}: raw TeX in the visible text: {raw}")
        screenshot = REPO / "_build" / "screenshots" / "offline-initialization.png"
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        driver.get(base + "chapters/initialization.html")
        driver.execute_async_script(RENDERED_MATH)
        driver.save_screenshot(str(screenshot))
    finally:
        driver.quit()
        server.shutdown()
    assert pages_with_math >= 5, f"only {pages_with_math} pages have math: is MathJax wired up?"
    problems += [f"request that left the site: {request}" for request in outside]
    assert not problems, "\n".join(problems)


def branch_files(remote: Path, branch: str, clone: Path) -> set[Path]:
    subprocess.run(["git", "clone", "--quiet", "--branch", branch, str(remote), str(clone)], check=True)
    return {p.relative_to(clone) for p in clone.rglob("*") if p.is_file() and ".git" not in p.parts}


def files_of(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_push_mirrors_both_trees_into_the_student_repository(published_edition, offline_env, tmp_path):
    remote = tmp_path / "student.git"
    subprocess.run(["git", "init", "--quiet", "--bare", "-b", BRANCH, str(remote)], check=True)

    def push():
        result = subprocess.run(["bash", str(REPO / "scripts" / "publish.sh"), "push", str(remote)],
                                env=offline_env, capture_output=True, text=True, cwd=REPO)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    assert push().count("Pushed") == 2
    assert push().count("nothing to push") == 2
    assert branch_files(remote, BRANCH, tmp_path / "main") == files_of(STUDENT)
    assert branch_files(remote, "gh-pages", tmp_path / "pages") == files_of(SITE)
    commits = subprocess.run(["git", "-C", str(tmp_path / "main"), "rev-list", "--count", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert commits == "1", "a push without changes made a commit"


# ------------------------------------------------------------------------------ student requirements
STUDENT_REQUIREMENTS = REPO / "scripts" / "publish" / "student-requirements.txt"
INSTRUCTOR_ONLY = {"nbgrader", "psycopg", "dask", "distributed", "pytest", "pytest-xdist", "execnet",
                   "selenium", "copydetect", "jupyter-book", "sphinx", "tensorflow-cpu"}
MODULE_TO_DISTRIBUTION = {"PIL": "pillow", "sklearn": "scikit-learn", "yaml": "pyyaml"}
PLATFORMS = {  # the markers' view of a student's computer
    "linux x86-64": {"sys_platform": "linux", "platform_machine": "x86_64", "platform_system": "Linux"},
    "linux arm64": {"sys_platform": "linux", "platform_machine": "aarch64", "platform_system": "Linux"},
    "macOS arm64": {"sys_platform": "darwin", "platform_machine": "arm64", "platform_system": "Darwin"},
    "Windows": {"sys_platform": "win32", "platform_machine": "AMD64", "platform_system": "Windows"},
}


def requirements(path):
    from packaging.requirements import Requirement
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def required_imports():
    """Third-party modules that some page or assignment imports unconditionally (a module-level
    import of a code cell; imports inside a function, an `if` or a `try` are optional), and
    whether a page styles a DataFrame (pandas needs jinja2 for that)."""
    import ast
    import sys
    import jupytext
    modules, styled = {}, False
    sources = sorted((REPO / "chapters").glob("*.md")) + sorted(REPO.glob("exercises/*/*.ipynb"))
    assert len(sources) > 10
    for path in sources:
        for cell in jupytext.read(path).cells:
            if cell.cell_type != "code":
                continue
            code = "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line
                             for line in cell.source.splitlines())
            styled = styled or ".style." in code
            for node in ast.parse(code).body:
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names:
                        modules.setdefault(top, path.name)
    return modules, styled


def test_student_requirements_are_a_students_not_the_instructors():
    reqs = requirements(STUDENT_REQUIREMENTS)
    names = {canonical(r.name) for r in reqs}
    assert not names & INSTRUCTOR_ONLY, names & INSTRUCTOR_ONLY
    assert "jupyterlab" in names and "ipykernel" in names
    modules, styled = required_imports()
    assert {"keras", "numpy", "pandas", "matplotlib"} <= set(modules), modules
    assert "tensorflow" in names, "Keras needs a backend: TensorFlow, its default and Colab's"
    missing = {m: page for m, page in modules.items()
               if canonical(MODULE_TO_DISTRIBUTION.get(m, m)) not in names}
    assert not missing, f"imported by the pages but not in the student requirements: {missing}"
    assert styled and "jinja2" in names, "DataFrame.style needs jinja2"


def test_student_tensorflow_is_the_gpu_build_where_there_is_one():
    reqs = [r for r in requirements(STUDENT_REQUIREMENTS) if canonical(r.name) == "tensorflow"]
    for platform, env in PLATFORMS.items():
        chosen = [r for r in reqs if r.marker is None or r.marker.evaluate(env)]
        assert len(chosen) == 1, f"{platform}: {len(chosen)} TensorFlow requirements"
        assert ("and-cuda" in chosen[0].extras) == (platform == "linux x86-64"), platform


def test_student_versions_are_the_books():
    pinned = {canonical(r.name): r.specifier for r in requirements(REPO / "requirements.txt")}
    pinned["tensorflow"] = pinned.pop("tensorflow-cpu")  # the same release, CPU-only wheels
    for r in requirements(STUDENT_REQUIREMENTS):
        assert str(r.specifier).startswith("=="), f"{r.name} is not pinned"
        if canonical(r.name) in pinned:
            assert r.specifier == pinned[canonical(r.name)], r.name


def test_edition_ships_the_student_requirements_as_requirements_txt():
    import importlib.util
    spec = importlib.util.spec_from_file_location("edition", REPO / "scripts" / "publish" / "edition.py")
    edition = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(edition)
    paths = edition.student_paths()
    assert paths[STUDENT_REQUIREMENTS] == "requirements.txt"
    assert REPO / "requirements.txt" not in paths
    readme = (REPO / "scripts" / "publish" / "student-README.md").read_text()
    assert "pip install -r requirements.txt" in readme and "jupyter lab" in readme
