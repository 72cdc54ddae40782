"""What a reader gets: the quick build of the real book, checked page by page."""
import re
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, page_text

sys.path.insert(0, str(REPO / "scripts"))
import execute_pages  # noqa: E402  (scripts/execute_pages.py: how the build reads _toc.yml)

HTML = REPO / "_build" / "html"
COLAB = re.compile(r'href="(https://colab\.research\.google\.com/github/[^/"]+/[^/"]+/blob/main/([^"]+\.ipynb))"')


def toc_files():
    """Every document the table of contents lists, root first (the build's own reading)."""
    return execute_pages.toc_files(REPO)


def executed_pages():
    return [f for f in toc_files() if f.startswith("chapters/")]


def exercise_pages():
    return [f for f in toc_files() if f.startswith("exercises/")]


def build(env, *args):
    return subprocess.run(["bash", str(REPO / "scripts" / "build-book.sh"), *args], env=env,
                          capture_output=True, text=True, cwd=REPO)


@pytest.fixture(scope="session")
def quick_build(published_edition):
    """The quick build of the whole book, as maintainers run it: scripts/publish.sh runs
    scripts/build-book.sh (with the student edition's links) once for both test files."""
    return published_edition


@pytest.mark.slow
def test_quick_build_succeeds(quick_build):
    assert "warnings check: no warnings on stderr or stdout in the executed pages" in quick_build.stdout
    assert (HTML / "index.html").exists()


@pytest.mark.slow
def test_unchanged_rebuild_executes_nothing(quick_build, offline_env):
    # The same configuration as the first build (scripts/publish.sh's student edition of
    # _config.yml): another one would make Sphinx rewrite every page.
    again = build(offline_env, "--config", str(REPO / "_build" / "student-edition.yml"))
    assert again.returncode == 0, again.stdout[-3000:]
    executed = [line for line in again.stdout.splitlines() if "Executing notebook" in line]
    assert executed == [], f"an unchanged rebuild executed notebooks: {executed}"
    print(next(line for line in again.stdout.splitlines() if line.startswith("<== build")))


@pytest.mark.slow
@pytest.mark.parametrize("doc", toc_files())
def test_every_toc_entry_has_a_page(quick_build, doc):
    assert (HTML / f"{doc}.html").is_file(), f"{doc} is in _toc.yml but has no HTML page"


@pytest.mark.slow
@pytest.mark.parametrize("doc", executed_pages())
def test_executed_pages_show_outputs_profile_and_figures(quick_build, doc):
    html = (HTML / f"{doc}.html").read_text()
    assert 'class="cell_output' in html, f"{doc}: no cell outputs in the page"
    assert "Built with the 'quick' profile" in page_text(HTML / f"{doc}.html"), \
        f"{doc}: the page does not say which profile built it"
    source = (REPO / f"{doc}.md").read_text()
    if "plt.show()" in source:
        images = re.findall(r'<img[^>]+src="([^"]*_images/[^"]+\.png)"', html)
        assert images, f"{doc}: the page plots but shows no figure"
        for src in images:
            assert (HTML / doc).parent.joinpath(src).resolve().is_file(), f"{doc}: missing image {src}"
        alts = re.findall(r'<img[^>]+alt="([^"]*)"[^>]*src="[^"]*_images/[^"]+\.png"', html) + \
            re.findall(r'<img[^>]+src="[^"]*_images/[^"]+\.png"[^>]*alt="([^"]*)"', html)
        assert all(len(alt) > 20 for alt in alts) and len(alts) >= len(images), \
            f"{doc}: every figure needs a descriptive alt text"
    assert "Traceback (most recent call last)" not in html, f"{doc}: a traceback is shown"


@pytest.mark.slow
@pytest.mark.parametrize("doc", executed_pages() + exercise_pages())
def test_colab_link_points_at_a_committed_notebook(quick_build, doc):
    html = (HTML / f"{doc}.html").read_text()
    links = dict((path, url) for url, path in COLAB.findall(html))
    assert f"{doc}.ipynb" in links, f"{doc}: no 'open in Colab' link to {doc}.ipynb"
    tracked = set(subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                                 check=True).stdout.split())
    for path, url in links.items():
        assert path in tracked, f"{doc}: {path} (target of {url}) is not committed"


@pytest.mark.slow
def test_no_solutions_hidden_tests_or_student_files_in_html(quick_build):
    forbidden = re.compile(r"BEGIN SOLUTION|END SOLUTION|BEGIN HIDDEN TESTS|HIDDEN TESTS")
    leaks = []
    for path in HTML.resolve().rglob("*"):
        if path.is_dir():
            if path.name in {"submitted", "autograded", "feedback", "solutions"}:
                leaks.append(f"{path}: student or instructor folder")
            continue
        if path.suffix in {".html", ".ipynb", ".md", ".txt", ".js", ".json", ".py"}:
            if forbidden.search(path.read_text(errors="replace")):
                leaks.append(f"{path}: solution or hidden-test markers")
        if path.name == "gradebook.db" or path.name.endswith(".grades.csv"):
            leaks.append(f"{path}: grading data")
    assert not leaks, "\n".join(leaks)


@pytest.mark.slow
def test_pages_render_in_chromium(quick_build):
    """Every built page loads in headless Chromium and every image in it has rendered."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--window-size=1280,2400"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    problems = []
    try:
        driver.set_page_load_timeout(60)
        for doc in toc_files():
            driver.get((HTML / f"{doc}.html").resolve().as_uri())
            if driver.execute_script("return document.readyState") != "complete":
                problems.append(f"{doc}: did not finish loading")
            if not driver.find_elements("css selector", "main h1"):
                problems.append(f"{doc}: no heading rendered")
            broken = driver.execute_script(
                "return Array.from(document.images).filter(i => i.complete && i.naturalWidth === 0 "
                "&& !i.src.startsWith('http')).map(i => i.src)")
            problems += [f"{doc}: image did not render: {src}" for src in broken]
        screenshot = REPO / "_build" / "screenshots" / "vanishing_gradients.png"
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        driver.get((HTML / "chapters" / "vanishing_gradients.html").resolve().as_uri())
        driver.save_screenshot(str(screenshot))
        assert screenshot.stat().st_size > 10_000
    finally:
        driver.quit()
    assert not problems, "\n".join(problems)
