"""Our prose is our own: no run of 10 words of a page may also appear in the source material.

The source material (book excerpts and lecture notes, copyrighted) lies in ../shared/source/*.txt
next to the repository, or wherever COURSE_SOURCES points. The prose checked is the Markdown of
every chapter page (chapters/*.md), of intro.md and of every notebook under solutions/ and
exercises/; code (code cells, fenced code blocks, inline code) and mathematics are left out. Both sides are normalised the same way before comparing word
10-grams: lower case, Markdown/MyST/LaTeX markup and punctuation removed, whitespace collapsed.
"""
import json
import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = Path(os.environ.get("COURSE_SOURCES",
                              Path(__file__).resolve().parents[2] / "shared" / "source"))
N = 10  # words in a run

# --- normalisation ---------------------------------------------------------------------------
# PDF extractions break words at line ends with a Unicode hyphen (U+2010) or a soft hyphen.
_LINE_BREAK_HYPHEN = re.compile(r"(\w)[\u2010\u00ad]\s*\n\s*(\w)")
_HTML_TAG = re.compile(r"<[^>\n]+>")
_URL = re.compile(r"https?://\S+")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")  # keep the link text / alt text
_MYST_ROLE = re.compile(r"\{[\w:.-]+\}`[^`]*`")  # {cite:t}`key`, {glue:text}`name`, {doc}`path`
_DIRECTIVE_OPTION = re.compile(r"^\s*:[\w-]+:.*$", re.MULTILINE)  # :filter: ..., :class: ...
_FENCE_LINE = re.compile(r"^\s*(```+|:::+).*$", re.MULTILINE)  # ```{note}, :::{dropdown} ...
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")
_APOSTROPHE = re.compile(r"(\w)['\u2019](\w)")
_NON_WORD = re.compile(r"[\W_]+")


def normalise(text: str) -> list[str]:
    """The words of a text: markup and punctuation removed, lower case."""
    text = _LINE_BREAK_HYPHEN.sub(r"\1\2", text)
    text = _HTML_TAG.sub(" ", text)
    text = _MD_LINK.sub(r" \1 ", text)
    text = _URL.sub(" ", text)
    text = _MYST_ROLE.sub(" ", text)
    text = _DIRECTIVE_OPTION.sub(" ", text)
    text = _FENCE_LINE.sub(" ", text)
    text = _LATEX_COMMAND.sub(" ", text)
    text = _APOSTROPHE.sub(r"\1\2", text)  # don't -> dont, on both sides alike
    return _NON_WORD.sub(" ", text.lower()).split()


def ngrams(words: list[str], n: int = N) -> list[str]:
    return [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]


# --- what counts as prose ----------------------------------------------------------------------
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
_CELL_SEPARATOR = re.compile(r"^\+\+\+.*$", re.MULTILINE)


# Code and mathematics are not prose: they are cut out, and a marker that no source contains takes
# their place, so that no 10-word run is counted across the gap (equations and default
# hyperparameter values are facts, which may carry over).
GAP = " zzgapzz "
# A fenced block whose content is code or maths: a plain ```lang fence, a code cell, {code-block},
# {code}, {math}, {bibliography}. Directives holding prose ({note}, {admonition}, ...) are kept.
_CODE_FENCE = re.compile(r"^(`{3,}|~{3,})\s*(\{(code-cell|code-block|code|sourcecode|math|"
                         r"bibliography)\}.*|[\w+-]*\s*)$")
_DISPLAY_MATH = re.compile(r"\$\$.*?\$\$|\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.DOTALL)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\s)[^$\n]+?(?<![\s\\])\$")
_INLINE_CODE = re.compile(r"(`+)[^`].*?\1")


def _strip_code_blocks(text: str) -> str:
    """Replace fenced code and maths blocks (any fence length) by GAP."""
    out, fence = [], None
    for line in text.splitlines():
        if fence is None:
            match = _CODE_FENCE.match(line)
            if match:
                fence = match.group(1)
                out.append(GAP)
                continue
            out.append(line)
        elif line.strip() == fence:
            fence = None
    return "\n".join(out)


def strip_code_and_maths(markdown: str) -> str:
    text = _strip_code_blocks(markdown)
    text = _DISPLAY_MATH.sub(GAP, text)
    text = _MYST_ROLE.sub(" ", text)  # before inline code: roles use backticks too
    text = _INLINE_CODE.sub(GAP, text)
    return _INLINE_MATH.sub(GAP, text)


def markdown_prose(path: Path) -> str:
    """The Markdown of a MyST page or MyST notebook, without front matter, code and maths."""
    text = _FRONT_MATTER.sub("", path.read_text(encoding="utf-8"))
    return strip_code_and_maths(_CELL_SEPARATOR.sub(" ", text))


def notebook_prose(path: Path) -> str:
    """The Markdown cells of an .ipynb notebook, without code and maths."""
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    return "\n\n".join(strip_code_and_maths("".join(c["source"]) if isinstance(c["source"], list)
                                             else c["source"])
                       for c in cells if c.get("cell_type") == "markdown")


def pages() -> list[Path]:
    found = sorted(REPO.glob("chapters/*.md"))
    if (REPO / "intro.md").exists():
        found.insert(0, REPO / "intro.md")
    for folder in ("solutions", "exercises"):
        found += sorted(p for p in (REPO / folder).rglob("*.ipynb")
                        if ".ipynb_checkpoints" not in p.parts)
    return found


def prose(path: Path) -> str:
    return notebook_prose(path) if path.suffix == ".ipynb" else markdown_prose(path)


# --- the check ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def source_ngrams() -> dict[str, str]:
    """Every word 10-gram of the source material -> the file it comes from."""
    if not SOURCES.is_dir():
        pytest.skip(f"source material folder {SOURCES} is absent (set COURSE_SOURCES to check prose)")
    files = sorted(SOURCES.glob("*.txt"))
    if not files:
        pytest.fail(f"{SOURCES} exists but holds no *.txt source files")
    grams = {}
    for path in files:
        for gram in ngrams(normalise(path.read_text(encoding="utf-8", errors="replace"))):
            grams.setdefault(gram, path.name)
    return grams


def copied_runs(text: str, source: dict[str, str]) -> list[tuple[str, str]]:
    """Maximal runs of words of `text` made of 10-grams found in the source, with their file."""
    words = normalise(text)
    hits = [i for i, gram in enumerate(ngrams(words)) if gram in source]
    runs, start, end = [], None, None
    for i in hits + [None]:
        if i is not None and end is not None and i <= end:  # overlaps the current run
            end = i + N
            continue
        if start is not None:
            runs.append((" ".join(words[start:end]), source[" ".join(words[start:start + N])]))
        if i is not None:
            start, end = i, i + N
    return runs


def test_the_check_catches_a_copied_sentence(source_ngrams):
    """A source sentence dressed in Markdown, MyST and new line breaks is still found."""
    gram = next(iter(source_ngrams))
    words = gram.split()
    disguised = (f"Intro. **{words[0].capitalize()}** {' '.join(words[1:4])},\n"
                 f"{{cite:p}}`somekey` {' '.join(words[4:])}! Outro.")
    assert copied_runs(disguised, source_ngrams), f"missed a copied run: {disguised!r}"
    assert not copied_runs("Entirely fresh words written for this course, " * 3, source_ngrams)


def test_code_and_maths_are_not_prose():
    page = ("Some words before `a b c d e f g h i j k` and $x y z$ then\n\n$$\nm m 1 1 t\n$$\n\n"
            "```python\nprint(1)\n```\n:::{note}\nkept words\n:::\n")
    words = normalise(strip_code_and_maths(page))
    assert "print" not in words and "m" not in words and "x" not in words and "j" not in words
    assert {"before", "then", "kept", "words"} <= set(words) and GAP.strip() in words


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_page_prose_is_original(page, source_ngrams):
    runs = copied_runs(prose(page), source_ngrams)
    report = "\n".join(f"  [{name}] {run}" for run, name in runs)
    assert not runs, (f"{page.relative_to(REPO)}: {len(runs)} run(s) of {N}+ words also found in "
                      f"the source material (rewrite them in your own words):\n{report}")
