"""What of a kernel's output may reach the graded notebook and the feedback HTML.

- Widget state and widget views are dropped (`application/vnd.jupyter.widget-*` outputs, the
  notebook's `widgets` metadata): the feedback is static HTML, and widget state is unbounded
  data from the kernel that no grade depends on.
- Output metadata is kept only where it is a known key with a plain value: `width` and `height`
  (numbers, also under an image type), `unconfined` and `isolated` (booleans),
  `needs_background` ("light" or "dark"). nbconvert's HTML template writes image width and
  height into an `<img>` tag unquoted, so a string there was live HTML in the feedback.
- `output_size` is what the output caps count: text, data (every MIME type) and traceback.
- Everything a kernel sends is coerced to nbformat's types before it becomes an output
  (`coerce_message` in the worker, per message; `coerce_notebook` in the grader, on the executed
  notebook that comes back): a traceback that is not a list of strings, a number as stream text,
  a list as `text/plain`, a string `execution_count` are the kernel's to send but never reach a
  step of the grader as anything but nbformat's types (text is text, whatever it says).
"""
from __future__ import annotations

import json
import numbers

from nbformat import NotebookNode

WIDGET_PREFIX = "application/vnd.jupyter.widget"
NUMERIC_KEYS = ("width", "height")
OUTPUT_TYPES = ("stream", "display_data", "execute_result", "error")
STREAMS = ("stdout", "stderr")
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


# ----------------------------------------------------------- nbformat's types, whatever came
def _text(value) -> str:
    """A string: a string as is, a list of strings joined (nbformat's multiline form), else JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _count(value):
    """An execution count: a non-negative int, or None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _is_json_mime(mime: str) -> bool:
    return mime == "application/json" or mime.endswith("+json")


def _data(value) -> dict:
    """A MIME bundle: str keys; JSON types may hold a dict (or list), every other one text."""
    if not isinstance(value, dict):
        return {}
    out = {}
    for mime, item in value.items():
        mime = mime if isinstance(mime, str) else _text(mime)
        out[mime] = item if _is_json_mime(mime) and isinstance(item, dict) else _text(item)
    return out


def coerce_content(msg_type: str, content) -> dict:
    """A kernel message's content with the types the protocol and nbformat give each field."""
    content = dict(content) if isinstance(content, dict) else {}
    if "execution_count" in content:
        content["execution_count"] = _count(content["execution_count"])
    transient = content.get("transient")
    if transient is not None:
        display_id = transient.get("display_id") if isinstance(transient, dict) else None
        content["transient"] = {"display_id": display_id} if isinstance(display_id, str) else {}
    if msg_type == "status" and not isinstance(content.get("execution_state"), str):
        content["execution_state"] = "busy"
    elif msg_type == "stream":
        content["name"] = content.get("name") if content.get("name") in STREAMS else "stdout"
        content["text"] = _text(content.get("text", ""))
    elif msg_type in ("display_data", "execute_result", "update_display_data"):
        if msg_type == "execute_result":
            content["execution_count"] = _count(content.get("execution_count"))
        content["data"] = _data(content.get("data"))
        content["metadata"] = content["metadata"] if isinstance(content.get("metadata"), dict) else {}
    elif msg_type == "error" or content.get("status") == "error":  # also an execute_reply's
        content.update(_error_fields(content))
    elif msg_type == "clear_output":
        content["wait"] = content.get("wait") is True
    return content


def _error_fields(item) -> dict:
    tb = item.get("traceback")
    if isinstance(tb, list):
        tb = [_text(line) for line in tb]
    else:
        tb = _text(tb).splitlines() if tb is not None else []
    return {"ename": _text(item.get("ename", "Error")), "evalue": _text(item.get("evalue", "")),
            "traceback": tb}


def coerce_message(msg: dict) -> dict:
    """The kernel message with its content coerced (`coerce_content`), in place."""
    header = msg.get("header") if isinstance(msg.get("header"), dict) else {}
    msg_type = msg.get("msg_type", header.get("msg_type"))
    msg["content"] = coerce_content(msg_type if isinstance(msg_type, str) else "", msg.get("content"))
    return msg


def coerce_output(out):
    """One output of an executed notebook with nbformat's types; None when it is not an output."""
    if not isinstance(out, dict) or out.get("output_type") not in OUTPUT_TYPES:
        return None
    kind = out["output_type"]
    if kind == "stream":
        return NotebookNode(output_type=kind, name=out.get("name") if out.get("name") in STREAMS else "stdout",
                            text=_text(out.get("text", "")))
    if kind == "error":
        return NotebookNode(output_type=kind, **_error_fields(out))
    meta = out.get("metadata")
    node = NotebookNode(output_type=kind, data=NotebookNode(_data(out.get("data"))),
                        metadata=NotebookNode(meta if isinstance(meta, dict) else {}))
    if kind == "execute_result":
        node["execution_count"] = _count(out.get("execution_count"))
    return node


def coerce_notebook(nb) -> None:
    """Every code cell's outputs and execution count with nbformat's types (in place)."""
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        outputs = cell.get("outputs") if isinstance(cell.get("outputs"), list) else []
        cell["outputs"] = [o for o in (coerce_output(out) for out in outputs) if o is not None]
        cell["execution_count"] = _count(cell.get("execution_count"))
