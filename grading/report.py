"""The batch report: grades.csv and an HTML page with PNG figures (pandas + matplotlib).

    <course>/grading-report/<assignment>/index.html, grades.csv, similarity.csv,
                                        scores.png, tests.png, time.png

Score distribution, the failure rate of every test cell, the distribution of grading times, the
table of submissions that could not be graded fully with the reason, and the pairs and clusters
of submissions with unusually similar answer code (similarity.py; it changes no grade). It is
written from data: the resume state's entries and the gradebook's scores (`Course.cell_scores`).
Its size does not grow with the class beyond the CSV files: figures are histograms, and the HTML
tables show at most `MAX_ROWS` rows (the CSV files hold all of them). Everything a student wrote is
HTML-escaped (pandas `to_html(escape=True)`), and every CSV cell that a spreadsheet would run as a
formula is written as text (spreadsheet.py).
"""
from __future__ import annotations

import html
import os
from pathlib import Path

import pandas as pd

from . import spreadsheet

MAX_ROWS = 500  # rows of an HTML table; grades.csv and similarity.csv hold every row
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"]


def grade_tables(entries: dict, scores: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per student, one row per student and test cell) from the entries and the scores."""
    rows, cells = [], []
    for student in sorted(scores):
        entry = entries.get(student, {})
        row = {"student_id": student, "status": entry.get("status", "unknown"),
               "score": None, "max_score": None,
               "seconds": entry.get("seconds"), "problems": "; ".join(entry.get("problems", [])),
               "files": ", ".join((entry.get("files") or {}).values()),
               "graded_at": entry.get("graded_at")}
        graded = scores[student]
        if graded is not None:
            row["score"], row["max_score"] = graded["score"], graded["max_score"]
            for name, (score, max_score) in graded["cells"].items():
                row[name] = score
                cells.append({"student_id": student, "test": name, "score": score, "max_score": max_score})
        rows.append(row)
    return pd.DataFrame(rows), pd.DataFrame(cells)


def _figure(out: Path, name: str, draw, height: float) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, height))
    draw(ax)
    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    plt.close(fig)


def _count_axis(ax) -> None:
    from matplotlib.ticker import MaxNLocator
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # submissions are counted, not measured
    ax.set_ylabel("submissions")


def _figures(out: Path, grades: pd.DataFrame, failure: pd.DataFrame) -> list[tuple[str, str]]:
    figs = []
    if not grades.empty and grades["score"].notna().any():
        maxs = float(grades["max_score"].max() or 1)

        def scores(ax):
            ax.hist(grades["score"].dropna(), bins=min(20, int(maxs) + 1), range=(0, maxs),
                    color=OKABE_ITO[4], edgecolor="white")
            ax.set_xlabel("score"), ax.set_title("Score distribution")
            _count_axis(ax)
        _figure(out, "scores.png", scores, 3.2)
        figs.append(("scores.png", "Histogram of the total scores of all graded submissions"))
    if len(failure):
        def tests(ax):
            ax.barh(failure.index[::-1], failure["failure rate"][::-1], color=OKABE_ITO[5])
            ax.set_xlim(0, 1), ax.set_xlabel("fraction of submissions failing")
            ax.set_title("Failure rate per test cell")
        _figure(out, "tests.png", tests, 0.3 * len(failure) + 1.2)
        figs.append(("tests.png", "Horizontal bars: fraction of submissions failing each test cell"))
    if not grades.empty and grades["seconds"].notna().any():
        t = grades["seconds"].dropna()

        def seconds(ax):
            ax.hist(t, bins=min(30, max(1, len(t))), color=OKABE_ITO[2], edgecolor="white")
            ax.set_xlabel("seconds"), _count_axis(ax)
            ax.set_title(f"Grading time per submission (median {t.median():.0f} s, max {t.max():.0f} s)")
        _figure(out, "time.png", seconds, 3.2)
        figs.append(("time.png", "Histogram of the grading time of the submissions in seconds"))
    return figs


def _table(frame: pd.DataFrame, **kwargs) -> str:
    """`frame` as an HTML table of at most MAX_ROWS rows, saying where the rest is."""
    more = len(frame) - MAX_ROWS
    shown = frame.head(MAX_ROWS).to_html(index=False, escape=True, na_rep="", **kwargs)
    return shown + (f"<p>... and {more} more rows in <a href='grades.csv'>grades.csv</a>.</p>" if more > 0 else "")


def _page(assignment: str, grades, failure, figs, similar_html: str) -> str:
    bad = grades[(grades["status"] != "ok") | (grades["problems"] != "")] if not grades.empty else grades
    esc = html.escape
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Grading report: {esc(assignment)}</title>"
             "<style>body{font-family:sans-serif;max-width:70em;margin:auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}</style>"
             "</head><body>",
             f"<h1>Grading report: {esc(assignment)}</h1>",
             f"<p>{len(grades)} submissions; mean score "
             f"{grades['score'].mean():.2f} of {grades['max_score'].max():g}.</p>"
             if len(grades) and grades['score'].notna().any() else "<p>No grades.</p>",
             "<p>Grades: <a href='grades.csv'>grades.csv</a>; similar answer code: "
             "<a href='#similarity'>below</a>.</p>"]
    parts += [f"<figure><img src='{name}' alt='{esc(alt)}'></figure>" for name, alt in figs]
    parts.append(f"<h2>Not graded fully ({len(bad)})</h2>")
    parts.append(_table(bad[["student_id", "status", "score", "max_score", "problems"]])
                 if len(bad) else "<p>None.</p>")
    if len(failure):
        parts.append("<h2>Failure rate per test cell</h2>" + failure.to_html(escape=True, float_format="%.2f"))
    parts.append(similar_html)
    parts.append(f"<h2>All submissions ({len(grades)})</h2>")
    parts.append(_table(grades) if len(grades) else "")
    parts.append("</body></html>")
    return "\n".join(parts)


def _similarity(out: Path, similar) -> str:
    """The similarity section, and similarity.csv beside the page (`similar`: a
    similarity.Similarity, an exception when it could not be computed, or None when not asked)."""
    from . import similarity
    (out / "similarity.csv").unlink(missing_ok=True)
    if similar is None:
        return ""
    if isinstance(similar, BaseException):
        return ("<section id='similarity'><h2>Similar answer code</h2><p>Not computed: "
                f"{html.escape(f'{type(similar).__name__}: {similar}')}</p></section>")
    spreadsheet.write_csv(out / "similarity.csv", similarity.csv_rows(similar))
    return similarity.to_html(similar, MAX_ROWS) + "<p>Every pair: <a href='similarity.csv'>similarity.csv</a></p>"


def write_report(out: Path, assignment: str, entries: dict, scores: dict, similar=None) -> Path:
    """The report of `scores` (student -> `Course.cell_scores` entry) into `out`; its index.html.
    `similar`: the batch's similarity.Similarity (or the exception that stopped it)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    grades, cells = grade_tables(entries, scores)
    tmp = out / "grades.csv.tmp"
    spreadsheet.safe_frame(grades).to_csv(tmp, index=False)  # names and file names are the students'
    os.replace(tmp, out / "grades.csv")
    failure = pd.DataFrame()
    if not cells.empty:
        failure = (cells.assign(failed=cells["score"] < cells["max_score"])
                   .groupby("test", sort=False)["failed"].mean().rename("failure rate").to_frame())
    page = _page(assignment, grades, failure, _figures(out, grades, failure), _similarity(out, similar))
    (out / "index.html").write_text(page)
    return out / "index.html"
