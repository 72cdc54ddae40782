"""What of a kernel's output may reach the graded notebook and the feedback HTML.

- Widget state and widget views are dropped (`application/vnd.jupyter.widget-*` outputs, the
  notebook's `widgets` metadata): the feedback is static HTML, and widget state is unbounded
  data from the kernel that no grade depends on.
- Output metadata is kept only where it is a known key with a plain value: `width` and `height`
  (numbers, also under an image type), `unconfined` and `isolated` (booleans),
  `needs_background` ("light" or "dark"). nbconvert's HTML template writes image width and
  height into an `<img>` tag unquoted, so a string there was live HTML in the feedback.
- `output_size` is what the output caps count: text, data (every MIME type) and traceback.
"""
from __future__ import annotations

import json
import numbers

WIDGET_PREFIX = "application/vnd.jupyter.widget"
NUMERIC_KEYS = ("width", "height")
BOOL_KEYS = ("unconfined", "isolated")


def _number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value \
        and abs(value) < 1e6


def _plain(meta) -> dict:
    """The known keys of one metadata dict with a plain value."""
    out = {}
    if not isinstance(meta, dict):
        return out
    for key in NUMERIC_KEYS:
        if _number(meta.get(key)):
            out[key] = meta[key]
    for key in BOOL_KEYS:
        if isinstance(meta.get(key), bool):
            out[key] = meta[key]
    if meta.get("needs_background") in ("light", "dark"):
        out["needs_background"] = meta["needs_background"]
    return out


def clean_metadata(meta, mimetypes) -> dict:
    out = _plain(meta)
    if isinstance(meta, dict):
        for mime in mimetypes:
            sub = _plain(meta.get(mime))
            if sub:
                out[mime] = sub
    return out


def clean_output(out):
    """The output with widget data and odd metadata removed; None when nothing is left."""
    data = out.get("data")
    if isinstance(data, dict):
        for mime in [m for m in data if str(m).startswith(WIDGET_PREFIX)]:
            del data[mime]
        if not data and out.get("output_type") in ("display_data", "execute_result"):
            return None
    if "metadata" in out:
        out["metadata"] = type(out["metadata"])(clean_metadata(out["metadata"], list(data or {})))
    return out


def clean_notebook(nb) -> None:
    """Every output cleaned, widget state dropped (in place)."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if "outputs" not in cell:
            continue
        kept = []
        for out in cell.outputs:
            out = clean_output(out)
            if out is not None:
                kept.append(out)
        cell.outputs = kept


def output_size(out) -> int:
    size = 0
    for key in ("text", "evalue", "ename"):
        if key in out:
            size += len(str(out[key]).encode("utf-8", "replace"))
    for value in (out.get("data") or {}).values():
        size += len(value.encode("utf-8", "replace")) if isinstance(value, str) else len(json.dumps(value))
    for line in out.get("traceback") or []:
        size += len(str(line))
    if out.get("metadata"):
        size += len(json.dumps(out["metadata"], default=str))
    return size
