"""No student stops the batch or reaches a browser: poison pills, copied cells, live HTML, a rerun.

One `tiny` batch (tests/helpers/tiny.py: kernels in seconds), every submission a RIGHT answer
plus one mechanism, so each must still earn 3/3 and leave the others alone:

- `poison-kernel`: the kernel sends messages nbformat does not allow (a traceback that is not a
  list of strings, numbers as stream text, a list as text/plain, a string execution_count, a
  string `transient`, an error reply without a traceback display);
- `poison-file`: the submitted file has a string execution_count and a string traceback;
- `copies`: a test cell pasted above the answer, the answer cell copied with the stub left below;
- `xss`: live payloads in a markdown cell, in HTML/Markdown/SVG/JavaScript outputs and in cell
  tags, in a file named like a spreadsheet formula.

The feedback pages and formgrader's view of the graded notebooks are opened in a real Chromium
with the network blocked: nothing runs (the same payloads, rendered unsanitized, do run: the
control). A rerun with an unreadable resubmission does not crash, scores it 0 and removes its old
feedback. The rest of the file needs no kernel: a zip of Moodle-named files with no --regex, a
batch whose every job fails for one machine reason, a grader step that fails on one student.
"""
import copy
import json
import os
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell

from helpers.course import REPO, read_grades, run_grading
from helpers.tiny import A, RIGHT, WRONG, student_nb, tiny_course

CAPS = ["--workers", "2", "--cell-seconds", "60", "--wall-seconds", "120"]
STUB = "def add(a, b):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
FORMULA_NAME = '=HYPERLINK("x","y").ipynb'
MARK = "window.PWNED=(window.PWNED||0)+1"

SEND = '''
_ip = get_ipython(); _k = _ip.kernel
def _send(kind, content):
    _k.session.send(_k.iopub_socket, kind, content, parent=_k.get_parent(), ident=_k._topic(kind))
_send("error", {"ename": "X", "evalue": "y", "traceback": {"not": "a list"}})
_send("error", {"ename": 1, "evalue": None, "traceback": [1, None, ["x"]]})
_send("stream", {"name": "stdout", "text": 12})
_send("stream", {"name": 5, "text": ["a", "b"]})
_send("display_data", {"data": {"text/plain": ["a", 1], "text/html": {"x": 1}}, "metadata": []})
_send("display_data", {"data": {"text/plain": "t"}, "metadata": {}, "transient": "oops"})
_send("execute_result", {"data": {"text/plain": "x"}, "metadata": {}, "execution_count": "zz"})
_ip.execution_count = "abc"
'''
PAYLOAD_MD = f'''# My notes
<img src="x-missing.png" onerror="{MARK}">
<svg onload="{MARK}"></svg>
<script>{MARK}</script>

<iframe srcdoc="<script>parent.PWNED=1</script>"></iframe>

[click](javascript:{MARK}) <javascript:{MARK}> <a href="jav&#x09;ascript:{MARK}">tab</a>
'''
PAYLOAD_OUT = f'''
from IPython.display import HTML, Javascript, Markdown, display
display(HTML('<img src="x-missing.png" onerror="{MARK}"><script>{MARK}</script>'))
display(Markdown('[md](javascript:{MARK}) <img src="x" onerror="{MARK}">'))
display({{"image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg" onload="{MARK}"></svg>'}}, raw=True)
display(Javascript("{MARK}"))
'''


def _write(path: Path, nb) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def _cases() -> dict:
    """student -> (file name, notebook bytes)."""
    out = {"alice": ("tiny.ipynb", nbformat.writes(student_nb(RIGHT)).encode()),
           "poison-kernel": ("tiny.ipynb", nbformat.writes(student_nb(RIGHT + "\n" + SEND)).encode())}
    raw = json.loads(nbformat.writes(student_nb(RIGHT)))
    raw["cells"][2]["execution_count"] = "7"
    raw["cells"][2]["outputs"] = [{"output_type": "error", "ename": "E", "evalue": "v",
                                   "traceback": "not a list"}]
    raw["cells"][3]["execution_count"] = "5"
    out["poison-file"] = ("tiny.ipynb", json.dumps(raw).encode())
    nb = student_nb(RIGHT)
    test_copy, stub_copy = copy.deepcopy(nb.cells[3]), copy.deepcopy(nb.cells[2])
    stub_copy.source = STUB
    nb.cells.insert(2, test_copy)   # the visible test pasted above the answer, to try it early
    nb.cells.insert(4, stub_copy)   # the answer cell copied, its stub left below the answer
    out["copies"] = ("tiny.ipynb", nbformat.writes(nb).encode())
    nb = student_nb(RIGHT + "\n" + PAYLOAD_OUT)
    nb.cells.insert(1, new_markdown_cell(PAYLOAD_MD))
    nb.cells[3].metadata["tags"] = [f'x" onmouseover="{MARK}" data-x="']
    out["xss"] = (FORMULA_NAME, nbformat.writes(nb).encode())
    return out


@pytest.fixture(scope="module")
def env(offline_env):
    return dict(offline_env, PYTHONPATH=str(REPO))


@pytest.fixture(scope="module")
def batch(env, tmp_path_factory):
    root = tmp_path_factory.mktemp("robust")
    course = tiny_course(root)
    _write(course / "exercises" / A / f"{A}.ipynb", student_nb(STUB))  # the release: the stub
    subs = root / "subs"
    cases = _cases()
    for student, (name, data) in cases.items():
        (subs / student).mkdir(parents=True)
        (subs / student / name).write_bytes(data)
    first = run_grading(course, A, subs, *CAPS, env=env, timeout=900)
    state = json.loads((course / "autograded" / f".grading-state-{A}.json").read_text())
    return {"course": course, "subs": subs, "cases": cases, "first": first, "state": state,
            "grades": read_grades(course, A), "env": env}


def test_every_student_is_graded_on_the_answer(batch):
    proc = batch["first"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    totals = {s: g["total"] for s, g in batch["grades"].items()}
    assert totals == {s: 3.0 for s in batch["cases"]}, (totals, proc.stdout[-3000:])
    state = batch["state"]
    assert {s: state[s]["status"] for s in state} == {
        s: "graded_with_problems" if s == "copies" else "ok" for s in batch["cases"]}, state
    assert any("unchanged copy of answer cell answer" in p for p in state["copies"]["problems"])
    assert any("grade_id test_visible used by cells" in p for p in state["copies"]["problems"])


def test_the_kernels_data_reaches_the_notebook_as_text(batch):
    nb = nbformat.read(batch["course"] / "autograded" / "poison-kernel" / A / f"{A}.ipynb", as_version=4)
    nbformat.validate(nb)  # nbformat's types, whatever the kernel sent
    text = json.dumps([c.get("outputs", []) for c in nb.cells])
    assert '\\"not\\": \\"a list\\"' in text and "12" in text  # kept, as text
    assert all(c.get("execution_count") is None or isinstance(c.execution_count, int) for c in nb.cells
               if c.cell_type == "code")


def test_end_of_batch_table(batch):
    out = batch["first"].stdout
    assert f"{A}: 5 students, 5 graded now, 0 unchanged" in out, out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ") and line.split()}
    assert "min 3, median 3, max 3 (of 3; 5 final)" in lines["scores"], out
    assert "graded with problems 1" in lines["problems"], out
    course = batch["course"]
    assert str(course / "grading-report" / A / "grades.csv") in out
    assert str(course / "feedback" / "STUDENT" / A) in out
    assert f"Report: {course / 'grading-report' / A / 'index.html'}" in out


def test_grades_csv_holds_no_formula(batch):
    import csv
    rows = list(csv.DictReader((batch["course"] / "grading-report" / A / "grades.csv").open()))
    files = {r["student_id"]: r["files"] for r in rows}
    assert files["xss"].startswith("'="), files  # shown as text by a spreadsheet, not run
    assert all(not v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values())


# ----------------------------------------------------------------- in a real browser
def _chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
                 "--proxy-bypass-list=<-loopback>"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(60)
    return driver


LIVE = """
const live = [];
for (const el of document.querySelectorAll('*')) {  // the payloads' handlers, not the page's own
  for (const a of el.attributes) if (/^on/i.test(a.name) && /PWNED/.test(a.value)) live.push(el.tagName + ' ' + a.name);
}
for (const a of document.querySelectorAll('a[href]')) if (a.protocol === 'javascript:') live.push('a ' + a.href);
for (const t of ['script:not([src])', 'iframe', 'object', 'embed']) {
  for (const el of document.querySelectorAll(t)) if (t !== 'script:not([src])' || /PWNED/.test(el.text)) live.push(t);
}
return {pwned: window.PWNED || 0, live: live};
"""


def _page_state(driver, page: Path) -> dict:
    from selenium.common.exceptions import NoAlertPresentException
    driver.get(page.resolve().as_uri())
    driver.implicitly_wait(0)
    import time
    time.sleep(1)  # onerror and onload handlers fire as the page settles
    try:
        driver.switch_to.alert.accept()
        alerted = True
    except NoAlertPresentException:
        alerted = False
    return dict(driver.execute_script(LIVE), alerted=alerted)


def _formgrader_view(notebook: Path, out: Path) -> Path:
    """The page formgrader serves for a submission: its exporter and template (`formgrade`),
    without the course's HTMLExporter.sanitize_html (a server need not load it)."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config
    cfg = Config()
    cfg.HTMLExporter.template_name = "formgrade"
    cfg.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    html, _ = HTMLExporter(config=cfg).from_filename(str(notebook), resources={
        "assignment_id": A, "notebook_id": A, "submission_id": "1", "index": 0, "total": 1,
        "base_url": "", "student": "xss", "last_name": "", "first_name": "", "notebook_path": "x"})
    out.write_text(html)
    return out


def test_no_live_script_in_feedback_or_formgrader(batch, tmp_path):
    course = batch["course"]
    feedback = course / "feedback" / "xss" / A / f"{A}.html"
    assert feedback.exists()
    formgrader = _formgrader_view(course / "autograded" / "xss" / A / f"{A}.ipynb", tmp_path / "fg.html")
    control = _formgrader_view(course / "submitted" / "xss" / A / f"{A}.ipynb", tmp_path / "control.html")
    driver = _chromium()
    try:
        seen = {name: _page_state(driver, page) for name, page in
                (("feedback", feedback), ("formgrader", formgrader), ("control", control))}
    finally:
        driver.quit()
    assert seen["control"]["pwned"] >= 2 and seen["control"]["live"], seen  # the payloads are live
    for name in ("feedback", "formgrader"):
        assert seen[name] == {"pwned": 0, "live": [], "alerted": False}, (name, seen[name])
    text = feedback.read_text()
    assert "My notes" in text  # the student's markdown is still shown, as text
    honest = (course / "feedback" / "alice" / A / f"{A}.html").read_text()
    assert "passed (1/1 points)" in honest or "1/1" in honest


# ------------------------------------------------------------------------------ a rerun
def test_rerun_with_an_unreadable_resubmission(batch):
    course, subs = batch["course"], batch["subs"]
    old_feedback = course / "feedback" / "alice" / A / f"{A}.html"
    assert old_feedback.exists()
    (subs / "alice" / "tiny.ipynb").write_text('{"cells": [ not json')
    proc = run_grading(course, A, subs, *CAPS, env=batch["env"], timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"{A}: 5 students, 1 graded now, 4 unchanged" in proc.stdout, proc.stdout
    assert read_grades(course, A)["alice"]["total"] == 0.0
    assert not old_feedback.exists()  # the old full-score page went with the old grade
    # The scores are the final grades; alice's file is a problem of its own kind.
    assert "min 3, median 3, max 3 (of 3; 4 final)" in proc.stdout, proc.stdout
    assert "not gradable 1" in proc.stdout, proc.stdout


# -------------------------------------------------------------- no kernel: loud failures
def test_no_file_matched_a_student_says_which_regex(tmp_path, env):
    course = tiny_course(tmp_path)
    zpath = tmp_path / "moodle.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for i, name in enumerate(["Alice Smith", "Bob Jones"]):
            zf.writestr(f"{name}_{1000 + i}_assignsubmission_file_tiny.ipynb",
                        nbformat.writes(student_nb(RIGHT)))
    proc = run_grading(course, A, zpath, *CAPS, env=env, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Every submission was graded fully" not in proc.stdout
    assert "no file matched a student" in proc.stderr
    # The regex test_grading_cli.py::test_zip_flat_and_regex grades a Moodle name with.
    assert "Moodle download" in proc.stderr and "--regex '_(?P<student>\\d+)_assignsubmission'" in proc.stderr
    graded = course / "autograded"
    assert not graded.exists() or not [p for p in graded.iterdir() if p.is_dir()]  # nobody graded


def _in_process(course, subs, monkeypatch, env, *extra) -> int:
    from grading import cli
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return cli.main([A, str(subs), "--course-root", str(course), "--workers", "2", "--no-progress",
                     "--no-feedback", "--no-report", "--cell-seconds", "30", "--wall-seconds", "90", *extra])


def test_every_job_failing_for_one_machine_reason_is_an_error(tmp_path, env, monkeypatch, capsys):
    from grading import executors
    course, subs = tiny_course(tmp_path), tmp_path / "subs"
    for s in ("s1", "s2"):
        _write(subs / s / "tiny.ipynb", student_nb(RIGHT))
    monkeypatch.setattr(executors, "_run_job_folder", lambda job_dir: {
        "status": "error", "reasons": ["worker exited with 1: no such dataset folder /srv/data"]})
    assert _in_process(course, subs, monkeypatch, env) == 1
    err = capsys.readouterr().err
    assert "every submission graded now (2) failed for the same reason" in err, err
    assert "no such dataset folder /srv/data" in err


def test_a_failing_grader_step_records_that_student_and_goes_on(tmp_path, env, monkeypatch, capsys):
    from grading import executors
    from grading.course import Course
    course, subs = tiny_course(tmp_path), tmp_path / "subs"
    for s in ("s1", "s2", "s3"):
        _write(subs / s / "tiny.ipynb", student_nb(RIGHT if s != "s3" else WRONG))
    # No kernel: every job "comes back" without a notebook (so it scores 0, the step runs).
    monkeypatch.setattr(executors, "_run_job_folder", lambda job_dir: {"status": "ok", "reasons": [],
                                                                         "seconds": "NaN"})
    real_score, real_open = Course.score, Course.open_submission

    def score(self, student):
        if student == "s1":
            raise ValueError("a score nbgrader could not compute")
        return real_score(self, student)

    def open_submission(self, student):
        if student == "s2":
            raise KeyError("a gradebook row this student's data broke")
        return real_open(self, student)

    monkeypatch.setattr(Course, "score", score)
    monkeypatch.setattr(Course, "open_submission", open_submission)
    assert _in_process(course, subs, monkeypatch, env) == 0  # two reasons: not one machine's
    state = json.loads((course / "autograded" / f".grading-state-{A}.json").read_text())
    assert set(state) == {"s1", "s2", "s3"}
    assert state["s1"]["status"] == "error"
    assert any("while recording its grades: ValueError" in p for p in state["s1"]["problems"]), state["s1"]
    assert state["s2"]["status"] == "error"
    assert any("while preparing its notebooks: KeyError" in p for p in state["s2"]["problems"]), state["s2"]
    assert state["s3"]["status"] == "ok" and state["s3"]["score"] == 0.0
    monkeypatch.setattr(Course, "score", real_score)
    monkeypatch.setattr(Course, "open_submission", real_open)
    assert _in_process(course, subs, monkeypatch, env) == 0  # the rerun retries them, no crash
    state = json.loads((course / "autograded" / f".grading-state-{A}.json").read_text())
    assert {s: e["status"] for s, e in state.items()} == {"s1": "ok", "s2": "ok", "s3": "ok"}


def test_a_replaced_secret_seed_regrades(tmp_path, env, monkeypatch, capsys):
    """The secret seed kept beside the state is in the resume key, as a given --seed is."""
    from grading import executors
    course, subs = tiny_course(tmp_path), tmp_path / "subs"
    for s in ("s1", "s2"):
        _write(subs / s / "tiny.ipynb", student_nb(RIGHT))
    monkeypatch.setattr(executors, "_run_job_folder", lambda job_dir: {"status": "ok", "reasons": []})
    assert _in_process(course, subs, monkeypatch, env) == 0
    assert _in_process(course, subs, monkeypatch, env) == 0
    assert "0 graded now, 2 unchanged" in capsys.readouterr().out
    (course / "autograded" / ".grading-seed").write_text("a new secret\n")
    assert _in_process(course, subs, monkeypatch, env) == 0
    assert "2 graded now, 0 unchanged" in capsys.readouterr().out
