"""The end of a batch on the console: a short table of what happened, and whether it failed as a whole.

    print("\n".join(summary.lines(result, index, feedback=True)))
    why = summary.batch_failure(result, regex)   # None, or the one line saying what to do

`lines` is what `python -m grading` prints last: the students found, how many were graded now
and before, the scores (min, median, max), the problems by kind (each student's status), the
students not graded fully with their reasons, and where the grades CSV, the feedback and the
report are. `batch_failure` says when a batch that "completed" did nothing useful, so that the
command exits non-zero instead of looking like a success: no file matched a student (with the
`--regex` of a Moodle or Canvas download when the names look like one), or every submission
graded now failed for one and the same reason that is not the student's (status "error": the
grader's or the machine's, such as a worker without datasets).
"""
from __future__ import annotations

import re
import statistics
from pathlib import Path

MOODLE_REGEX = r"_(?P<student>\d+)_assignsubmission"
CANVAS_REGEX = r"^[^_]+_(?:LATE_)?(?P<student>\d+)_\d+_"
MOODLE_NAME = re.compile(r"_\d+_assignsubmission_")
CANVAS_NAME = re.compile(r"^[^_/]+_(?:LATE_)?\d+_\d+_")
FINE = ("ok",)
KINDS = {"graded_with_problems": "graded with problems", "timeout": "timed out",
         "kernel_died": "kernel died", "capped": "stopped at a cap", "error": "grading failed",
         "not_graded": "not gradable", "infrastructure_error": "not graded (infrastructure)"}


def regex_hint(skipped: list[str]) -> str:
    """What to pass as --regex, from the names of the files that matched no student."""
    names = [line.split(": ", 1)[0] for line in skipped]
    moodle = f"--regex '{MOODLE_REGEX}'"
    canvas = f"--regex '{CANVAS_REGEX}'"
    if any(MOODLE_NAME.search(n) for n in names):
        return f"these look like a Moodle download: grade them with {moodle}"
    if any(CANVAS_NAME.search(n) for n in names):
        return f"these look like a Canvas download: grade them with {canvas}"
    return ("name the files STUDENT/NOTEBOOK.ipynb or STUDENT_NOTEBOOK.ipynb, or give --regex with "
            f"a group (?P<student>...): for a Moodle download {moodle}, for Canvas {canvas}")


def batch_failure(result, regex: str | None) -> str | None:
    """None when the batch did its job; else one line that says what went wrong and what to do."""
    if not result.students:
        if regex:
            return (f"no file matched a student: --regex {regex!r} matched no file name "
                    f"(it is searched in each path relative to the top, with /). {regex_hint(result.skipped_files)}")
        found = f" ({len(result.skipped_files)} file(s) skipped, listed above)" if result.skipped_files else ""
        return f"no file matched a student{found}: {regex_hint(result.skipped_files)}"
    now = [result.entries[s] for s in result.graded if s in result.entries]
    if now and all(e.get("status") == "error" for e in now):
        common = set(now[0].get("problems") or [])
        for entry in now[1:]:
            common &= set(entry.get("problems") or [])
        if common:
            reason = sorted(common, key=len)[0]
            return (f"every submission graded now ({len(now)}) failed for the same reason, which is "
                    f"not the students': {reason}. Fix it and run the command again (finished "
                    "students are kept)")
    return None


def _scores(result) -> str:
    scores = [(float(e["score"]), float(e["max_score"])) for s, e in result.entries.items()
              if s in set(result.students) and e.get("status") in ("ok", "graded_with_problems")]
    if not scores:
        return "none final yet"
    values = [s for s, _ in scores]
    top = max(m for _, m in scores)
    return (f"min {min(values):g}, median {statistics.median(values):g}, max {max(values):g} "
            f"(of {top:g}; {len(values)} final)")


def _kinds(result) -> str:
    counts: dict[str, int] = {}
    for s in result.students:
        status = (result.entries.get(s) or {}).get("status")
        if status and status not in FINE:
            counts[status] = counts.get(status, 0) + 1
    if result.skipped_files:
        counts["skipped file"] = len(result.skipped_files)
    return ", ".join(f"{KINDS.get(k, k)} {n}" for k, n in sorted(counts.items())) or "none"


def _points(entry: dict) -> str:
    """A student's points, or "no score" (not graded because of the infrastructure: never a 0)."""
    if entry.get("score") is None:
        return "no score"
    return f"{entry['score']:g}/{entry['max_score']:g}"


def _shown(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def lines(result, index: Path | None, feedback: bool) -> list[str]:
    """The end-of-batch table (see the module's docstring)."""
    students, entries = result.students, result.entries
    earlier = len(result.unchanged)
    out = [f"{result.assignment}: {len(students)} students, {len(result.graded)} graded now, "
           f"{earlier} unchanged since last run (skipped)"]
    if result.other_grader:
        out.append(f"  {len(result.other_grader)} taken by another grader on this database: "
                   + ", ".join(result.other_grader))
    out += [f"  skipped file: {line}" for line in result.skipped_files]
    course = result.course
    report_dir = index.parent if index is not None else None
    out += [
        f"  {'students':<12}{len(students)}",
        f"  {'graded':<12}{len(result.graded)} now, {earlier} earlier",
        f"  {'scores':<12}{_scores(result)}",
        f"  {'problems':<12}{_kinds(result)}",
        f"  {'grades CSV':<12}" + (_shown(report_dir / "grades.csv") if report_dir else "none (--no-report)"),
        f"  {'feedback':<12}" + (_shown(course.folder("feedback", "STUDENT")) if feedback else "none (--no-feedback)"),
        f"  {'report':<12}" + (_shown(index) if index is not None else "none (--no-report)"),
    ]
    bad = [s for s in students if s in entries and (entries[s]["status"] != "ok" or entries[s]["problems"])]
    if bad:
        out.append(f"Not graded fully ({len(bad)}):")
        for s in sorted(bad):
            e = entries[s]
            out.append(f"  {s}: {e['status']}, {_points(e)}: "
                       + "; ".join(e["problems"] or ["-"]))
    elif students:
        out.append("Every submission was graded fully.")
    if index is not None:
        out.append(f"Report: {index}")
    return out
