"""Claims that cannot drift (no build needed): the statistics and the claim() of the pages' one
set-up cell, the scan of the prose for comparative sentences, the markers, and the claims that
the last full build committed."""
import contextlib
import csv
import io
import math
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import claims  # noqa: E402  (scripts/claims.py)

PAGES = sorted((REPO / "chapters").glob("*.md"))
ALLOWLIST = REPO / "tests" / "unchecked_sentences"
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
TAGS = re.compile(r"\A(?:---\n.*?^---\n|:tags:\s*\[([^\]]*)\]\n)", re.MULTILINE | re.DOTALL)
BOOKKEEPING = re.compile(r"\b(?:glue|record_result|claim)\(|\.to_csv\(")
HIDDEN = {"hide-input", "remove-input", "remove-cell", "hide-cell"}


def setup_cell(page: Path) -> str:
    """The code of the page's first cell, without its `:tags:` line."""
    cell = CELL.search(page.read_text(encoding="utf8")).group(1)
    return re.sub(r"\A(?::[\w-]+:.*\n)+\n?", "", cell)


def test_the_twelve_set_up_cells_are_one_but_for_the_page_name():
    assert len(PAGES) == 12, [p.name for p in PAGES]
    cells = {page.stem: setup_cell(page) for page in PAGES}
    for name, cell in cells.items():
        assert f'PAGE = "{name}"' in cell, f"{name}.md: its set-up cell names another page"
    generic = {name: cell.replace(f'PAGE = "{name}"', 'PAGE = "..."') for name, cell in cells.items()}
    reference = generic["vanishing_gradients"]
    different = [name for name, cell in generic.items() if cell != reference]
    assert not different, (f"set-up cells that differ from vanishing_gradients.md's beyond PAGE: "
                           f"{different} (change every page's set-up cell together)")


@contextlib.contextmanager
def environment(**values):
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update({key: value for key, value in values.items() if value is not None})
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_setup(tmp_path, profile, book_build):
    """The set-up cell of a page executed as a kernel would, in a namespace of its own."""
    namespace = {"__name__": "page"}
    with environment(COURSE_PROFILE=profile, RESULTS_DIR=str(tmp_path),
                     COURSE_BOOK_BUILD="1" if book_build else None,
                     TF_CPP_MIN_LOG_LEVEL="3"), contextlib.redirect_stdout(io.StringIO()):
        exec(compile(setup_cell(REPO / "chapters" / "guidelines.md"), "set-up cell", "exec"),
             namespace)
    return namespace


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """Outside the book (as in Colab): no COURSE_BOOK_BUILD, and no myst_nb to glue with."""
    namespace = run_setup(tmp_path_factory.mktemp("colab"), "full", book_build=False)
    namespace["myst_glue"] = None
    return namespace


def printed(function, *args, **kwargs):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = function(*args, **kwargs)
    return result, out.getvalue()


def student_t_cdf(t, df):
    """Student's t CDF by numerical integration of its density (no scipy needed)."""
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    x = np.linspace(0.0, t, 400_001)
    density = np.exp(log_c - (df + 1) / 2 * np.log1p(x * x / df))
    return 0.5 + float(np.sum((density[1:] + density[:-1]) / 2 * np.diff(x)))


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 9, 10, 19, 29, 30, 31, 40, 60, 120, 1000])
def test_t_quantile_is_the_975th_percentile_of_student_t(page, df):
    # The table has three decimals: its rounding moves the CDF by less than 3e-5 here.
    assert abs(student_t_cdf(page["t_quantile"](df), df) - 0.975) < 1e-4


def test_a_t_interval_with_three_seeds_is_wider_than_two_standard_errors(page):
    # Paired gains of 1, 2 and 3 points: mean 2, standard error 0.58. "Twice the standard
    # error" (1.15) would call it clear; the t interval with 2 degrees of freedom (4.30 SE,
    # -0.48 to 4.48) does not.
    comparison = page["compare"]([0.81, 0.82, 0.83], [0.80, 0.80, 0.80])
    assert not comparison.clear
    assert math.isclose(comparison.high - comparison.diff, 4.303 / math.sqrt(3), rel_tol=1e-3)
    assert str(comparison) == ("not clearly ahead or behind (+2.0 points, 95 % interval "
                               "\u22120.5 to +4.5, 3 seeds)")


def test_compare_words_a_clear_lead_and_a_clear_deficit(page):
    ahead = page["compare"]([0.85, 0.86, 0.87], [0.83, 0.835, 0.84])
    assert ahead.ahead and not ahead.behind
    assert str(ahead) == "ahead by 2.5 points (95 % interval 1.3 to 3.7, 3 seeds)"
    behind = page["compare"]([0.83, 0.835, 0.84], [0.85, 0.86, 0.87], words=("larger", "smaller"))
    assert behind.behind
    assert str(behind) == "smaller by 2.5 points (95 % interval 1.3 to 3.7, 3 seeds)"


def test_compare_says_when_one_seed_cannot_give_an_interval(page):
    comparison = page["compare"]([0.80], [0.83])
    assert not comparison.clear
    assert str(comparison) == "behind by 3.0 points (1 seed: too few for an interval)"


def test_compare_ratios_of_times(page):
    slower = page["compare"]([10, 11, 12, 10.5, 11.2], [8, 8.5, 9, 8.7, 8.2], ratio=True,
                             words=("slower", "faster"), count="runs")
    assert slower.ahead and str(slower).startswith("1.29× slower (95 % interval")
    faster = page["compare"]([8, 8.5, 9, 8.7, 8.2], [10, 11, 12, 10.5, 11.2], ratio=True,
                             words=("slower", "faster"), count="runs")
    assert faster.behind and str(faster).startswith("1.29× faster (95 % interval")


def test_unpaired_compare_is_welchs_interval(page):
    a, b = np.array([0.80, 0.81, 0.82, 0.90]), np.array([0.83, 0.835, 0.84])
    comparison = page["compare"](a, b, paired=False, scale=1.0)
    va, vb = a.var(ddof=1) / 4, b.var(ddof=1) / 3
    df = (va + vb) ** 2 / (va**2 / 3 + vb**2 / 2)
    half = page["t_quantile"](df) * math.sqrt(va + vb)
    assert math.isclose(comparison.high - comparison.diff, half)


def test_paired_bootstrap_is_seeded_and_agrees_with_t_on_many_pairs(page):
    rng = np.random.default_rng(5)
    a = (rng.random(4000) < 0.86).astype(float)
    b = np.where(rng.random(4000) < 0.1, 1 - a, a)  # the same images, 10 % flipped
    first = page["compare"](a, b, method="bootstrap", count="test images")
    again = page["compare"](a, b, method="bootstrap", count="test images")
    t = page["compare"](a, b, count="test images")
    assert (first.low, first.high) == (again.low, again.high)
    # 10,000 resamples: the percentile bounds are within a few hundredths of a point of t's.
    assert abs(first.low - t.low) < 0.1 and abs(first.high - t.high) < 0.1


def test_glue_prints_outside_the_book(page):
    result, out = printed(page["glue"], "acc_constant", "0.8166")
    assert result is None  # a cell that ends with glue() shows no output of its own
    assert out == "acc_constant: 0.8166\n"


def read_claims(folder: Path, name: str) -> list[dict]:
    with (folder / "claims" / f"{name}.csv").open(newline="", encoding="utf8") as handle:
        return list(csv.DictReader(handle))


def test_claims_outside_the_book_are_reported_and_recorded(page):
    _, out = printed(page["claim"], "a_true_claim", True, value=np.float32(0.5))
    assert out == 'claim a_true_claim: holds: {"value": 0.5}\n'
    _, out = printed(page["claim"], "a_false_claim", 1 > 2, sizes=np.arange(3))
    assert "claim a_false_claim: DOES NOT HOLD on this run's data (full profile)" in out
    rows = read_claims(Path(page["RESULTS_DIR"]), "guidelines")
    assert [(r["claim"], r["holds"], r["data"]) for r in rows[-2:]] == [
        ("a_true_claim", "True", '{"value": 0.5}'), ("a_false_claim", "False", '{"sizes": [0, 1, 2]}')]


def test_in_the_quick_book_a_false_claim_is_reported_not_raised(tmp_path):
    quick = run_setup(tmp_path, "quick", book_build=True)
    _, out = printed(quick["claim"], "true_here", True)
    assert out == ""  # the book shows nothing for a claim that holds
    _, out = printed(quick["claim"], "false_here", False, gap=-3.4)
    assert "false_here: DOES NOT HOLD" in out
    assert [row["holds"] for row in read_claims(tmp_path, "guidelines")] == ["True", "False"]
    _, out = printed(quick["glue"], "name", 1)
    assert "name" not in out  # in the book, a glued value fills the prose instead


def test_in_the_full_book_a_false_claim_stops_the_page(tmp_path):
    full = run_setup(tmp_path, "full", book_build=True)
    with pytest.raises(AssertionError, match=r"guidelines: claim bn_ahead: DOES NOT HOLD"):
        full["claim"]("bn_ahead", False, lead=-3.4)
    assert read_claims(tmp_path, "guidelines")[-1]["holds"] == "False"  # recorded first


# --- the scan of the prose --------------------------------------------------------------

SAMPLE = """\
---
jupytext: {}
---

# A page

Our BN network beats the plain one here. The constant rate is {glue:text}`bn_words` at 2 layers.
<!-- claim: bn_lead --> BN grows its lead with depth.
<!-- about: paper --> The paper reports a faster convergence, e.g. in 100 epochs.
Which one is faster? Nothing compares here.

- <!-- claim: bn_lead, other --> A list item that is more accurate.
- A list item, 2.5× slower.

$$
a > b \\text{ grows }
$$

```{code-cell} ipython3
x = 1  # larger
claim("bn_lead", True)
claim(f"gain_{key}", True)
```

| table | faster |
"""


def test_the_scan_finds_comparative_sentences_that_nothing_covers():
    found = claims.sentences(SAMPLE, "sample")
    unchecked = [s.source for s in found if s.unchecked]
    assert unchecked == ["Our BN network beats the plain one here.", "A list item, 2.5× slower."]
    marked = {s.source: (s.claims, s.about) for s in found if s.claims or s.about}
    assert marked == {"BN grows its lead with depth.": (["bn_lead"], []),
                      "The paper reports a faster convergence, e.g. in 100 epochs.": ([], ["paper"]),
                      "A list item that is more accurate.": (["bn_lead", "other"], [])}
    glued = next(s for s in found if "bn_words" in s.source)
    assert not glued.unchecked and "VALUE" in glued.prose  # its comparison lives in the value


def test_marker_problems_name_unknown_claims_and_kinds(tmp_path):
    page = tmp_path / "sample.md"
    page.write_text(SAMPLE + "\n<!-- claim: gain_short --> Fine. <!-- about: vibes --> Less so.\n")
    problems = claims.marker_problems(page)
    assert len(problems) == 2, problems
    assert "<!-- claim: other --> names no claim" in problems[0]
    assert "<!-- about: vibes -->" in problems[1]


def allowlisted(page: Path) -> list[str]:
    path = ALLOWLIST / f"{page.stem}.txt"
    if not path.exists():
        return []
    return [line for line in path.read_text(encoding="utf8").splitlines()
            if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_every_comparative_sentence_is_checked_or_known(page):
    known = set(allowlisted(page))
    new = [f"{page.name}:{s.line}: [{', '.join(s.comparative_words)}] {s.source}"
           for s in claims.unchecked_sentences(page) if s.source not in known]
    assert not new, (
        "sentences that compare or give a direction, with nothing that checks them: glue the "
        "wording from the data (compare()), or put <!-- claim: NAME --> before the sentence and "
        "claim(\"NAME\", ...) in a hidden cell, or <!-- about: theory|paper|keras|advice --> "
        "if it is not about our runs (CONTRIBUTING.md, \"How claims work\"):\n" + "\n".join(new))


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_the_list_of_unchecked_sentences_only_shrinks(page):
    """tests/unchecked_sentences/<page>.txt lists the sentences phase 2 of issue 23 must still
    check; an entry that no longer matches an unchecked sentence must go."""
    unchecked = {s.source for s in claims.unchecked_sentences(page)}
    entries = allowlisted(page)
    stale = [entry for entry in entries if entry not in unchecked]
    assert not stale, (f"delete these lines from tests/unchecked_sentences/{page.stem}.txt "
                       "(checked, marked or reworded now):\n" + "\n".join(stale))
    assert len(entries) == len(set(entries)), "a sentence is listed twice"


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_markers_name_claims_the_page_makes(page):
    assert claims.marker_problems(page) == []


def test_the_scan_reads_the_pages():
    """Guards the tests above against passing vacuously: the pages' prose is read, sentence
    by sentence, and their claim markers are found."""
    found = [s for page in PAGES for s in claims.sentences(page.read_text(), page.stem)]
    assert len(found) > 700
    assert sum(1 for s in found if s.comparative_words) > 150
    assert sum(1 for s in found if s.claims) >= 15


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_visible_cells_hold_the_lesson_not_the_bookkeeping(page):
    """glue(), record_result(), claim() and CSV writing live in hidden cells (remove-input,
    hide-input, ...) or in the set-up cell's helpers, so that the code a reader sees is the
    lesson's."""
    text = page.read_text(encoding="utf8")
    visible = []
    for cell in CELL.finditer(text):
        header = TAGS.match(cell.group(1))
        tags = set()
        if header and header.group(1) is not None:
            tags = {tag.strip() for tag in header.group(1).split(",")}
        elif header:
            found = re.search(r"tags:\s*\[([^\]]*)\]", header.group(0))
            tags = {tag.strip() for tag in found.group(1).split(",")} if found else set()
        if tags & HIDDEN:
            continue
        calls = BOOKKEEPING.findall(cell.group(1))
        if calls:
            visible.append(f"{page.name}:{text.count(chr(10), 0, cell.start()) + 1}: {calls}")
    assert not visible, "bookkeeping in visible cells:\n" + "\n".join(visible)


def test_the_committed_full_build_holds_every_claim():
    """results/full/claims.csv comes from the last full build; a false claim there means the
    prose says something that the published data contradict."""
    path = REPO / "results" / "full" / "claims.csv"
    if not path.exists():
        pytest.skip("no results/full/claims.csv committed yet (the next full build writes it)")
    with path.open(newline="", encoding="utf8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows, "results/full/claims.csv is empty"
    assert set(claims.CLAIM_COLUMNS) <= set(rows[0]), rows[0].keys()
    assert {row["profile"] for row in rows} == {"full"}
    false = [f"{row['page']}: {row['claim']}: {row['data']}" for row in rows if claims.is_false(row)]
    assert not false, "claims the full build found false:\n" + "\n".join(false)


def test_gather_joins_the_pages_claims(tmp_path):
    (tmp_path / "claims").mkdir()
    header = ",".join(claims.CLAIM_COLUMNS)
    (tmp_path / "claims" / "a.csv").write_text(f"{header}\na,x,True,{{}},quick,tensorflow,abc\n")
    (tmp_path / "claims" / "b.csv").write_text(f"{header}\nb,y,False,{{}},quick,tensorflow,abc\n")
    rows = claims.gather(tmp_path)
    assert [(r["page"], r["claim"], claims.is_false(r)) for r in rows] == [
        ("a", "x", False), ("b", "y", True)]
    assert (tmp_path / "claims.csv").read_text().splitlines()[0] == header
