"""The batch report: grades.csv and an HTML page with PNG figures (pandas + matplotlib).

    <course>/grading-report/<assignment>/index.html, grades.csv, scores.png, tests.png, time.png

Score distribution, the failure rate of every test cell, time per submission, and the table of
submissions that could not be graded fully with the reason. It is written from data: the resume
state's entries and the gradebook's scores (`Course.cell_scores`). Everything a student wrote is
HTML-escaped (pandas `to_html(escape=True)`).
"""
from __future__ import annotations

import html
import os
from pathlib import Path

import pandas as pd

from .spreadsheet import safe_frame

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


def _figures(out: Path, grades: pd.DataFrame, failure: pd.DataFrame) -> list[tuple[str, str]]:
    figs = []
    if not grades.empty and grades["score"].notna().any():
        maxs = float(grades["max_score"].max() or 1)

        def scores(ax):
            ax.hist(grades["score"].dropna(), bins=min(20, int(maxs) + 1), range=(0, maxs),
                    color=OKABE_ITO[4], edgecolor="white")
            ax.set_xlabel("score"), ax.set_ylabel("submissions"), ax.set_title("Score distribution")
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
        t = grades.dropna(subset=["seconds"]).sort_values("seconds")

        def seconds(ax):
            ax.barh(t["student_id"], t["seconds"], color=OKABE_ITO[2])
            ax.set_xlabel("seconds"), ax.set_title("Time per submission")
        _figure(out, "time.png", seconds, 0.22 * len(t) + 1.2)
        figs.append(("time.png", "Horizontal bars: grading time of each submission in seconds"))
    return figs


def _page(assignment: str, grades, failure, figs) -> str:
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
             "<p>Grades: <a href='grades.csv'>grades.csv</a></p>"]
    parts += [f"<figure><img src='{name}' alt='{esc(alt)}'></figure>" for name, alt in figs]
    parts.append(f"<h2>Not graded fully ({len(bad)})</h2>")
    parts.append(bad[["student_id", "status", "score", "max_score", "problems"]].to_html(index=False, escape=True)
                 if len(bad) else "<p>None.</p>")
    if len(failure):
        parts.append("<h2>Failure rate per test cell</h2>" + failure.to_html(escape=True, float_format="%.2f"))
    parts.append("<h2>All submissions</h2>")
    parts.append(grades.to_html(index=False, escape=True, na_rep="") if len(grades) else "")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(out: Path, assignment: str, entries: dict, scores: dict) -> Path:
    """The report of `scores` (student -> `Course.cell_scores` entry) into `out`; its index.html."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    grades, cells = grade_tables(entries, scores)
    tmp = out / "grades.csv.tmp"
    safe_frame(grades).to_csv(tmp, index=False)  # file names and problems are students' text
    os.replace(tmp, out / "grades.csv")
    failure = pd.DataFrame()
    if not cells.empty:
        failure = (cells.assign(failed=cells["score"] < cells["max_score"])
                   .groupby("test", sort=False)["failed"].mean().rename("failure rate").to_frame())
    (out / "index.html").write_text(_page(assignment, grades, failure, _figures(out, grades, failure)))
    return out / "index.html"
