"""The feedback page's figures: plain data a check builds from its probe's report, drawn as inline SVG.

A check may give its test cell one figure (`Probe.figure_from`, grading/checks/__init__.py): a
function of the probe's report that returns a *chart*, plain JSON data built with `chart` and
`series` below from observations of VISIBLE inputs only (the notebook's own examples: a hidden
input, or the expected value of a hidden check, never goes into a chart). The grader calls it in
`grading.judge.decide`, outside the student's process, and keeps the chart in the cell's metadata
(`KEY`) of the autograded notebook; every number a student's code returned is rounded to
`DIGITS` significant digits first (`rounded`), so a chart cannot carry a long literal out of the
kernel. The feedback child (grading.feedback) draws it: `svg` (matplotlib's Figure on its SVG
canvas, no GUI backend, no pyplot), text as text, coordinates to 1/100 of a point, with an
`aria-label` and a `<title>` (the alt text); grading/feedback_page.py puts it under the cell.

    chart = {"title": str, "alt": str, "caption": str, "x_label": str, "y_label": str,
             "log_y": bool, "steps": bool, "series": [series, ...]}
    series = {"role": ROLE, "label": str, "x": [numbers], "y": [numbers or None],
              "low": [...], "high": [...]}           # low/high: only a "band"

Roles: "right" (the right curve), "yours" (the student's, None where a value is missing),
"band" (a shaded range between low and high), "limit" (a horizontal line at y[0]), "bars"
(a histogram: x holds the len(y) + 1 bin edges, y the counts).
"""
from __future__ import annotations

import io
import json
import math
import re

KEY = "grading_figure"           # the cell metadata key of a chart in an autograded notebook
DIGITS = 3                       # significant digits of every number a chart holds
ROLES = ("right", "yours", "band", "limit", "bars")
MAX_POINTS = 400                 # per series
MAX_TEXT = 800                   # characters per text field
TEXTS = ("title", "alt", "caption", "x_label", "y_label")
COLORS = {"right": "#1f5f9f", "band": "#1f5f9f", "yours": "#d9541e", "bars": "#d9541e", "limit": "#555555"}


def rounded(value):
    """A number to DIGITS significant digits (an int stays an int); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int):
        return value if abs(value) < 10 ** 9 else None
    if not math.isfinite(value):
        return None
    return float(f"{value:.{DIGITS}g}")


def series(role: str, label: str, x, y, low=None, high=None) -> dict:
    """One series of a chart, its numbers rounded (see the module's docstring for the roles)."""
    out = {"role": role, "label": str(label)[:MAX_TEXT], "x": [rounded(v) for v in x][:MAX_POINTS + 1],
           "y": [rounded(v) for v in y][:MAX_POINTS]}
    if role == "band":
        out["low"] = [rounded(v) for v in low][:MAX_POINTS]
        out["high"] = [rounded(v) for v in high][:MAX_POINTS]
    return out


def chart(title: str, alt: str, x_label: str, y_label: str, parts: list[dict], caption: str = "",
          log_y: bool = False, steps: bool = False) -> dict:
    """A chart (see the module's docstring; `steps`: lines drawn as steps), checked."""
    return checked({"title": title, "alt": alt, "caption": caption, "x_label": x_label,
                    "y_label": y_label, "log_y": bool(log_y), "steps": bool(steps), "series": parts})


def checked(spec) -> dict:
    """`spec` if it is a well-formed chart; ValueError otherwise (what the grader keeps and the
    feedback child draws is only ever this shape)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("series"), list) or not spec["series"]:
        raise ValueError("a chart needs a list of series")
    for name in TEXTS:
        if not isinstance(spec.get(name, ""), str) or len(spec.get(name, "")) > MAX_TEXT:
            raise ValueError(f"chart field {name} must be a short string")
    if not spec.get("alt"):
        raise ValueError("a chart needs its alt text")
    if not all(isinstance(spec.get(name, False), bool) for name in ("log_y", "steps")):
        raise ValueError("log_y and steps are true or false")
    for s in spec["series"]:
        if not isinstance(s, dict) or s.get("role") not in ROLES or not isinstance(s.get("label", ""), str):
            raise ValueError("unknown series")
        for name in ("x", "y", "low", "high"):
            values = s.get(name, [])
            if not isinstance(values, list) or len(values) > MAX_POINTS + 1 or any(
                    v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                                       or not math.isfinite(v)) for v in values):
                raise ValueError(f"series {name} must be a short list of numbers")
    return spec


def quotes_any(spec: dict, literals) -> bool:
    """Whether the chart's text holds any of `literals` (hidden inputs): then it is not kept."""
    text = json.dumps(spec)
    return any(lit and lit in text for lit in literals)


def agreement(x, right, yours, what: str = "point", fmt: str = "{:.3g}") -> str:
    """How the student's values compare with the right ones, in words (for alt texts)."""
    pairs = list(zip(x, right, yours))
    missing = [p for p in pairs if p[2] is None]
    if len(missing) == len(pairs):
        return "no value came back from your code"
    wrong = [(t, r, y) for t, r, y in pairs if y is None or not math.isclose(y, r, rel_tol=2e-3, abs_tol=1e-12)]
    if not wrong:
        return f"yours matches it at all {len(pairs)} {what}s"
    t, r, y = wrong[0]
    got = "no value" if y is None else fmt.format(y)
    return (f"yours differs from it at {len(wrong)} of {len(pairs)} {what}s, first at {what} {t:g} "
            f"(yours {got}, right {fmt.format(r)})")


# ------------------------------------------------------------------------------ drawing
def svg(spec: dict, salt: str = "") -> str:
    """The chart as an inline <svg> element with its alt text (matplotlib, no GUI backend)."""
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure
    spec = checked(spec)
    fig = Figure(figsize=(6.0, 2.9))
    ax = fig.subplots()
    for s in spec["series"]:
        _draw(ax, s, spec.get("steps", False))
    _axes(ax, spec)
    fig.subplots_adjust(left=0.12, right=0.98, top=0.9, bottom=0.16)
    out = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"tdnn-{salt}"}):
        FigureCanvasSVG(fig).print_svg(out, metadata={"Date": None, "Creator": None, "Format": None,
                                                      "Type": None})
    return _inline(out.getvalue(), spec["alt"])


def _draw(ax, s: dict, steps: bool) -> None:
    color, label = COLORS[s["role"]], s.get("label") or None
    x, y = s["x"], s["y"]
    if s["role"] == "bars":
        if len(x) == len(y) + 1 and y:
            ax.stairs([v or 0 for v in y], x, fill=True, color=color, alpha=0.45, label=label)
    elif s["role"] == "band":
        ax.fill_between(x, [_nan(v) for v in s["low"]], [_nan(v) for v in s["high"]], color=color,
                        alpha=0.15, linewidth=0, label=label)
    elif s["role"] == "limit":
        if y and y[0] is not None:
            ax.axhline(y[0], color=color, linestyle=":", linewidth=1.2, label=label)
    else:
        mine = s["role"] == "yours"
        ax.plot(x, [_nan(v) for v in y], color=color, linewidth=1.6 if mine else 2.4,
                linestyle="--" if mine else "-", marker="o" if mine and len(x) <= 30 else None,
                markersize=4, label=label, zorder=3 if mine else 2,
                drawstyle="steps-post" if steps else "default")


def _nan(value):
    return float("nan") if value is None else value


def _axes(ax, spec: dict) -> None:
    ax.set_title(spec["title"], fontsize=10)
    ax.set_xlabel(spec["x_label"], fontsize=9)
    ax.set_ylabel(spec["y_label"], fontsize=9)
    if spec.get("log_y"):
        ax.set_yscale("log")
    ax.tick_params(labelsize=8)
    if all(isinstance(v, int) for s in spec["series"] if s["role"] in ("right", "yours") for v in s["x"]):
        from matplotlib.ticker import MaxNLocator
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    if any(s.get("label") for s in spec["series"]):
        ax.legend(fontsize=8, frameon=True, framealpha=0.85, edgecolor="none")


_GEOMETRY = re.compile(r'\s(?:d|x|y|width|height|transform|style|points|x1|x2|y1|y2|cx|cy|r)="[^"]*"')
_LONG = re.compile(r"(\d+\.\d\d)\d+")


def _inline(document: str, alt: str) -> str:
    """matplotlib's SVG document as an element for an HTML page: no XML prolog, coordinates to
    1/100 of a point (smaller, and no long literal), scaled to the page, with its alt text."""
    from html import escape
    body = document[document.index("<svg"):]
    body = _GEOMETRY.sub(lambda m: re.sub(r"\s+", " ", _LONG.sub(r"\1", m.group(0))), body)
    body = re.sub(r">\s+<", "><", body)
    body = re.sub(r'<svg ([^>]*?)width="[^"]*" height="[^"]*"',
                  lambda m: f'<svg {m.group(1)}role="img" aria-label="{escape(alt)}" '
                            f'style="width:100%;max-width:600px;height:auto"', body, count=1)
    return re.sub(r"(<svg[^>]*>)", lambda m: f"{m.group(1)}<title>{escape(alt, quote=False)}</title>",
                  body, count=1).strip()
