"""Pairs and clusters of submissions whose answer code is unusually similar, for a second look.

It changes no grade: similar code is a reason for the instructor to look, not a verdict.

    answers = read_answers({student: autograded_folder, ...})      # the solution cells
    result = find_similar(answers, excluded=[*release_code(release), *map(code_cells, chapters)])
    result = of_batch(release_folder, folders, chapters_folder)  # the same, as the batch report does
    html, rows = to_html(result), csv_rows(result)                 # for the batch report

The comparison is copydetect's (a maintained implementation of MOSS's winnowing, offline, pure
Python on numpy and Pygments): each answer is tokenized, every name becomes `V` (functions `F`),
every string `S` and comments and layout vanish, so renaming variables, reformatting or rewording
comments changes nothing; the fingerprints are hashes of every 25-character stretch of that text,
winnowed (one per window of 8: any shared stretch of 32 characters is found); fingerprints that
the excluded code has are dropped: the release notebook the students started from (its code,
and its solution cells joined as an answer is, so that an untouched answer leaves nothing:
`release_code`) and the book's chapters. So are fingerprints that more than `common_limit(n)`
submissions share (code that everybody writes, as MOSS's -m option). Moving functions or independent statements around keeps
most fingerprints, so reordered copies are found too.

Score of a pair: the share of each one's answer code (after exclusions) that the other holds,
and the pair's `similarity` is the smaller share, so a pair is reported only when most of *both*
answers is the same code. A pair is flagged at `similarity >= THRESHOLD` (0.5) with at least
`MIN_SHARED` (100) characters of normalized code in common. Why these values: on the course's own
corpus (tests/test_similarity.py) independent correct solutions written in different styles (the
variants in tests/submissions/, and the reference solutions) share at most a third with one
another (0.32, two CIFAR-10 networks built from the same Keras layers), while a copy with every
name changed, or with its functions and independent statements reordered, keeps three quarters or
more (0.74 at the least, 21 copies); 0.5 sits between with a margin on both sides, and means "at
least half of each answer is the other's". The 100 characters (four or five lines once names are `V`) keep two short
answers that can only be written one way (`return initial_lr * 0.1 ** (t / s)`) from being
reported. Winnowing picks fingerprints by hash value and Python's string hashes change between
runs, so scores can move by a few hundredths from one run to the next; the margins are far wider.

Clusters: the connected groups of flagged pairs (a source shared by several students).
"""
from __future__ import annotations

import html
import io
import itertools
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

THRESHOLD = 0.5      # the smaller of the two shares of answer code found in the other
MIN_SHARED = 100     # characters of normalized code in common
NOISE = 25           # k-gram length, in characters of normalized code (copydetect's default)
WINDOW = 8           # winnowing window: stretches of NOISE + WINDOW - 1 = 32 characters are found


@dataclass
class Pair:
    a: str
    b: str
    similarity: float   # min(share_a, share_b)
    share_a: float      # part of a's answer code found in b's
    share_b: float
    shared: int         # characters of a's normalized code in the shared passages
    excerpt: str        # the longest shared passage, as a wrote it (truncated)


@dataclass
class Similarity:
    pairs: list[Pair]
    clusters: list[list[str]]
    compared: int                       # students whose answers were compared
    too_short: list[str] = field(default_factory=list)   # too little own code to compare
    threshold: float = THRESHOLD
    common_limit: int = 0


# ------------------------------------------------------------------------------ reading code
def code_cells(path: Path) -> str:
    """All code of a notebook (.ipynb) or a MyST Markdown page (.md), e.g. the release or a chapter."""
    import jupytext
    nb = jupytext.read(Path(path))
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code") + "\n"


def release_code(path: Path) -> list[str]:
    """What a release notebook gives the students, as texts to exclude: all its code, and its
    solution cells as `answer_code` joins them (the placeholders an untouched answer holds)."""
    import nbformat
    nb = nbformat.read(Path(path), as_version=4)
    return ["\n".join(c.source for c in nb.cells if c.cell_type == "code") + "\n", answer_code(nb)]


def answer_code(nb) -> str:
    """The solution cells of a notebook (nbgrader's `solution` metadata), in order; a notebook
    that lost its metadata: all its code cells (the release's own code is excluded anyway)."""
    cells = [c for c in nb.cells if c.cell_type == "code"]
    solutions = [c for c in cells if (c.get("metadata", {}).get("nbgrader") or {}).get("solution")]
    return "\n".join(c.source for c in (solutions or cells)) + "\n"


def read_answers(folders: dict[str, Path]) -> dict[str, str]:
    """student -> the answer code of the notebooks in their folder (e.g. autograded/S/ASSIGNMENT);
    a notebook that cannot be read is left out (its student may then have no answer)."""
    import nbformat
    answers = {}
    for student, folder in folders.items():
        parts = []
        for path in sorted(Path(folder).glob("*.ipynb")):
            try:
                parts.append(answer_code(nbformat.read(path, as_version=4)))
            except Exception as exc:  # a corrupt notebook was already reported by the grader
                logging.getLogger(__name__).info("similarity: %s unreadable: %s", path, exc)
        if parts:
            answers[student] = "".join(parts)
    return answers


def of_batch(release: Path, folders: dict[str, Path], chapters: Path | None = None,
             workers: int = 1):
    """The batch report's comparison: the answers in `folders` (student -> autograded folder),
    without the code of the release's notebooks (folder `release`) and of the book's chapters
    (`chapters`/*.md, when the course has them). A Similarity, or the exception that stopped it
    (the report says so; the grades are already saved)."""
    try:
        excluded = [text for nb in sorted(Path(release).glob("*.ipynb")) for text in release_code(nb)]
        if chapters is not None and Path(chapters).is_dir():
            excluded += [code_cells(page) for page in sorted(Path(chapters).glob("*.md"))]
        return find_similar(read_answers(folders), excluded, workers=workers)
    except Exception as exc:  # the comparison informs; it must not lose the batch's report
        logging.getLogger(__name__).warning("similarity: %s", exc)
        return exc


# ------------------------------------------------------------------------------ comparing
def common_limit(n: int) -> int:
    """Fingerprints shared by more submissions than this are everybody's code, not a copy's."""
    return max(10, n // 100)


def _fingerprint(code: str, boilerplate):
    from copydetect import CodeFingerprint
    return CodeFingerprint("answer.py", NOISE, WINDOW, boilerplate=boilerplate, language="python",
                           fp=io.StringIO(code))


def _drop(fp, hashes: set) -> None:
    """Remove fingerprints (everybody's code) and recount the tokens the rest covers."""
    from copydetect.utils import get_token_coverage
    gone = fp.hashes & hashes
    if gone:
        fp.hashes -= gone
        for h in gone:
            fp.hash_idx.pop(h, None)
        fp.token_coverage = get_token_coverage(fp.hash_idx, NOISE, len(fp.filtered_code))


def find_similar(answers: dict[str, str], excluded=(), threshold: float = THRESHOLD,
                 min_shared: int = MIN_SHARED, workers: int = 1) -> Similarity:
    """Flagged pairs (most similar first) and clusters among `answers` (student -> answer code),
    not counting code found in any text of `excluded`. Tokenizing is most of the time (Pygments,
    about 0.1 s per answer of six cells on a busy 2-core machine): `workers` processes share it."""
    import numpy as np
    from copydetect import CodeFingerprint, compare_files
    boilerplate = np.unique(np.array(
        [h for text in excluded for h in CodeFingerprint("excluded.py", NOISE, 1, language="python",
                                                         fp=io.StringIO(text)).hashes], dtype=np.int64))
    students = sorted(answers)
    codes = [answers[s] for s in students]
    if workers > 1 and len(students) > 100:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(workers) as pool:
            fingerprints = list(pool.map(_fingerprint, codes, itertools.repeat(boilerplate),
                                         chunksize=50))
    else:
        fingerprints = [_fingerprint(code, boilerplate) for code in codes]
    fps, too_short = {}, []
    for student, fp in zip(students, fingerprints):
        if fp.token_coverage >= min_shared:
            fps[student] = fp
        else:
            too_short.append(student)
    postings = defaultdict(list)
    for student, fp in fps.items():
        for h in fp.hashes:
            postings[h].append(student)
    limit = common_limit(len(fps))
    common = {h for h, who in postings.items() if len(who) > limit}
    for fp in fps.values():
        _drop(fp, common)
    together = Counter()
    for h, who in postings.items():
        if h not in common and len(who) > 1:
            together.update(itertools.combinations(who, 2))
    pairs = []
    for (a, b), _ in together.items():
        fa, fb = fps[a], fps[b]
        if not fa.token_coverage or not fb.token_coverage:
            continue
        shared, (share_a, share_b), slices = compare_files(fa, fb)
        similarity = min(share_a, share_b)
        if similarity >= threshold and shared >= min_shared:
            starts, ends = slices[0]
            longest = int(np.argmax(ends - starts))
            excerpt = fa.raw_code[int(starts[longest]):int(ends[longest])].strip()
            pairs.append(Pair(a, b, round(float(similarity), 3), round(float(share_a), 3),
                              round(float(share_b), 3), int(shared),
                              excerpt[:600] + (" …" if len(excerpt) > 600 else "")))
    pairs.sort(key=lambda p: (-p.similarity, p.a, p.b))
    return Similarity(pairs, clusters(pairs), len(fps), too_short, threshold, limit)


def clusters(pairs: list[Pair]) -> list[list[str]]:
    """The connected groups of students in `pairs`, largest first."""
    parent: dict[str, str] = {}

    def root(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    for p in pairs:
        parent[root(p.a)] = root(p.b)
    groups = defaultdict(list)
    for x in parent:
        groups[root(x)].append(x)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: (-len(g), g))


# ------------------------------------------------------------------------------ rendering
def csv_rows(result: Similarity) -> list[list]:
    """Rows for spreadsheet.write_csv: one per flagged pair, with its cluster's number."""
    cluster_of = {s: i for i, group in enumerate(result.clusters, start=1) for s in group}
    rows = [["student_a", "student_b", "similarity", "share_a", "share_b", "shared_chars", "cluster"]]
    rows += [[p.a, p.b, p.similarity, p.share_a, p.share_b, p.shared, cluster_of[p.a]]
             for p in result.pairs]
    return rows


def to_html(result: Similarity, max_rows: int | None = None) -> str:
    """A section for the batch report: what was compared, the flagged pairs with the longest
    shared passage (the first `max_rows`), and the clusters. Everything a student wrote is escaped."""
    esc = html.escape
    parts = [f"<section id='similarity'><h2>Similar answer code ({len(result.pairs)} pair(s))</h2>",
             f"<p>{result.compared} submissions compared on their answer cells, with the release's "
             "code (and the book's) left out and code shared by more than "
             f"{result.common_limit} submissions ignored. A pair is listed when at least "
             f"{result.threshold:.0%} of each one's answer code is found in the other's (names, "
             "comments and layout do not count). This informs; it changes no grade.</p>"]
    if result.too_short:
        names = ", ".join(result.too_short[:50]) + (" ..." if len(result.too_short) > 50 else "")
        parts.append(f"<p>Too little own code to compare ({len(result.too_short)}): {esc(names)}.</p>")
    if not result.pairs:
        parts.append("<p>None.</p></section>")
        return "\n".join(parts)
    parts.append("<table><thead><tr><th>student</th><th>student</th><th>similarity</th>"
                 "<th>shares</th><th>longest shared passage</th></tr></thead><tbody>")
    for p in result.pairs[:max_rows]:
        parts.append(f"<tr><td>{esc(p.a)}</td><td>{esc(p.b)}</td><td>{p.similarity:.2f}</td>"
                     f"<td>{p.share_a:.2f} / {p.share_b:.2f}</td>"
                     f"<td><details><summary>{p.shared} characters</summary><pre>{esc(p.excerpt)}"
                     "</pre></details></td></tr>")
    parts.append("</tbody></table>")
    if max_rows is not None and len(result.pairs) > max_rows:
        parts.append(f"<p>... and {len(result.pairs) - max_rows} more pairs.</p>")
    parts.append("<h3>Clusters</h3><ul>")
    parts += [f"<li>{len(g)} submissions: {esc(', '.join(g))}</li>" for g in result.clusters[:max_rows]]
    parts.append("</ul></section>")
    return "\n".join(parts)
