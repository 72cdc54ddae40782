"""The batch report: grades.csv and an HTML page with PNG figures (pandas + matplotlib).

    <course>/grading-report/<assignment>/index.html, grades.csv, scores.png, tests.png, time.png

Score distribution, the failure rate of every test cell, time per submission, and the table of
submissions that could not be graded fully with the reason. Everything a student wrote is
HTML-escaped (pandas `to_html(escape=True)`).
"""
from __future__ import annotations

import html
import os
from pathlib import Path

import pandas as pd

OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"]


def _grades_table(batch, students):
    rows, cells = [], []
    with batch.gradebook() as gb:
        for student in students:
            entry = batch.state.get(student, {})
            row = {"student_id": student, "status": entry.get("status", "unknown"),
                   "score": None, "max_score": None,
                   "seconds": entry.get("seconds"), "problems": "; ".join(entry.get("problems", [])),
                   "files": ", ".join((entry.get("files") or {}).values()),
                   "graded_at": entry.get("graded_at")}
            try:
                sub = gb.find_submission(batch.assignment, student)
            except Exception:
                rows.append(row)
                continue
            row["score"], row["max_score"] = float(sub.score), float(sub.max_score)
            for nb in sub.notebooks:
                for grade in nb.grades:
                    if grade.cell.cell_type != "code" or grade.auto_score is None and grade.manual_score is None:
                        if grade.cell.cell_type != "code":
                            continue
                    row[f"{grade.name}"] = float(grade.score)
                    cells.append({"student_id": student, "test": grade.name, "score": float(grade.score),
                                  "max_score": float(grade.max_score)})
            rows.append(row)
    return pd.DataFrame(rows), pd.DataFrame(cells)


def write_report(batch, subs) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = batch.report_dir
    out.mkdir(parents=True, exist_ok=True)
    students = sorted(set(batch.state) | set(subs))
    grades, cells = _grades_table(batch, students)
    tmp = out / "grades.csv.tmp"
    grades.to_csv(tmp, index=False)
    os.replace(tmp, out / "grades.csv")

    figs = []
    if not grades.empty and grades["score"].notna().any():
        fig, ax = plt.subplots(figsize=(6, 3.2))
        maxs = float(grades["max_score"].max() or 1)
        ax.hist(grades["score"].dropna(), bins=min(20, int(maxs) + 1), range=(0, maxs),
                color=OKABE_ITO[4], edgecolor="white")
        ax.set_xlabel("score"), ax.set_ylabel("submissions"), ax.set_title("Score distribution")
        fig.tight_layout(), fig.savefig(out / "scores.png", dpi=110), plt.close(fig)
        figs.append(("scores.png", "Histogram of the total scores of all graded submissions"))
    failure = pd.DataFrame()
    if not cells.empty:
        failure = (cells.assign(failed=cells["score"] < cells["max_score"])
                   .groupby("test", sort=False)["failed"].mean().rename("failure rate").to_frame())
        fig, ax = plt.subplots(figsize=(6, 0.3 * len(failure) + 1.2))
        ax.barh(failure.index[::-1], failure["failure rate"][::-1], color=OKABE_ITO[5])
        ax.set_xlim(0, 1), ax.set_xlabel("fraction of submissions failing"), ax.set_title("Failure rate per test cell")
        fig.tight_layout(), fig.savefig(out / "tests.png", dpi=110), plt.close(fig)
        figs.append(("tests.png", "Horizontal bars: fraction of submissions failing each test cell"))
    if not grades.empty and grades["seconds"].notna().any():
        t = grades.dropna(subset=["seconds"]).sort_values("seconds")
        fig, ax = plt.subplots(figsize=(6, 0.22 * len(t) + 1.2))
        ax.barh(t["student_id"], t["seconds"], color=OKABE_ITO[2])
        ax.set_xlabel("seconds"), ax.set_title("Time per submission")
        fig.tight_layout(), fig.savefig(out / "time.png", dpi=110), plt.close(fig)
        figs.append(("time.png", "Horizontal bars: grading time of each submission in seconds"))

    bad = grades[(grades["status"] != "ok") | (grades["problems"] != "")] if not grades.empty else grades
    esc = html.escape
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Grading report: {esc(batch.assignment)}</title>"
             "<style>body{font-family:sans-serif;max-width:70em;margin:auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}</style>"
             "</head><body>",
             f"<h1>Grading report: {esc(batch.assignment)}</h1>",
             f"<p>{len(grades)} submissions; mean score "
             f"{grades['score'].mean():.2f} of {grades['max_score'].max():g}.</p>" if len(grades) and grades['score'].notna().any() else "<p>No grades.</p>",
             "<p>Grades: <a href='grades.csv'>grades.csv</a></p>"]
    for name, alt in figs:
        parts.append(f"<figure><img src='{name}' alt='{esc(alt)}'></figure>")
    parts.append(f"<h2>Not graded fully ({len(bad)})</h2>")
    parts.append(bad[["student_id", "status", "score", "max_score", "problems"]].to_html(index=False, escape=True)
                 if len(bad) else "<p>None.</p>")
    if len(failure):
        parts.append("<h2>Failure rate per test cell</h2>" + failure.to_html(escape=True, float_format="%.2f"))
    parts.append("<h2>All submissions</h2>")
    parts.append(grades.to_html(index=False, escape=True, na_rep="") if len(grades) else "")
    parts.append("</body></html>")
    (out / "index.html").write_text("\n".join(parts))
    return out / "index.html"
