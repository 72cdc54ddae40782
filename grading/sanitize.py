"""What of a graded notebook may render as live HTML: in the student's feedback and in formgrader.

nbgrader renders autograded/ notebooks twice: `generate_feedback` (the student's page) and
formgrader (the instructor's view, opened for the written answers). Both templates render a
markdown cell with `markdown2html` and no `clean_html`, whatever `HTMLExporter.sanitize_html`
says, and markdown makes live links of `[x](javascript:...)` on its own. So the notebook is
made safe before it is written to autograded/ (`sanitize_notebook`, the AFTER step
`steps.sanitize_html`), with bleach, the library nbconvert's own `SanitizeHTML` uses:

- markdown cells and `text/markdown` outputs: rendered as nbconvert renders them; when the HTML
  holds anything outside the allow-list (a tag, an attribute, a URL scheme other than http,
  https, mailto or a relative link), the source becomes that HTML cleaned by bleach (markdown
  passes HTML through), else it stays exactly as written (an honest student's page unchanged);
- raw cells and `text/html` outputs: cleaned by bleach; every other output type that a browser
  may run (JavaScript, SVG, widget views, ...) is dropped, as nbconvert's SanitizeHTML does;
- attachments other than PNG, JPEG and GIF images are dropped, and cell tags other than plain
  names (the templates write tags into a `class` attribute, unescaped);
- the notebook's `language_info` (the kernel's own reply: kernel data) keeps only short plain
  names, which the templates write into the page.
"""
from __future__ import annotations

import re
from html import escape as _escape
from html.parser import HTMLParser

import bleach

SAFE_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s",
    "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "tr", "u", "ul"})
SAFE_ATTRIBUTES = {**{f"h{n}": ["id"] for n in range(1, 7)}, "a": ["href", "title", "class"], "img": ["src", "alt", "title", "width", "height"],
                   "th": ["colspan", "rowspan", "align"], "td": ["colspan", "rowspan", "align"],
                   "ol": ["start"], "code": ["class"], "span": ["class"], "div": ["class"],
                   "pre": ["class"], "table": ["class"]}
SAFE_PROTOCOLS = frozenset({"http", "https", "mailto", "attachment"})
URL_ATTRIBUTES = ("href", "src")
SAFE_OUTPUTS = frozenset({"text/plain", "text/latex", "application/json", "image/png", "image/jpeg",
                          "image/gif"})
CLEANED_OUTPUTS = frozenset({"text/html", "text/markdown"})
SAFE_ATTACHMENTS = frozenset({"image/png", "image/jpeg", "image/gif"})
PLAIN_NAME = re.compile(r"^[A-Za-z0-9_.+ -]{0,40}$")
TAG = re.compile(r"^[A-Za-z0-9_.-]{1,60}$")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
EMBEDDED_IMAGE = re.compile(r"^data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=]*$", re.I)
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")


class _Audit(HTMLParser):
    """Finds whatever in a piece of HTML is outside the allow-list."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.unsafe: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in SAFE_TAGS:
            self.unsafe.append(f"<{tag}>")
            return
        for name, value in attrs:
            if name not in SAFE_ATTRIBUTES.get(tag, ()):
                self.unsafe.append(f"{tag} {name}=")
            elif name in URL_ATTRIBUTES and not safe_url(value or "", image=tag == "img"):
                self.unsafe.append(f"{tag} {name}={(value or '')[:20]}")

    handle_startendtag = handle_starttag


def safe_url(value: str, image: bool = False) -> bool:
    """A link with no scheme (relative, #anchor) or an allowed one; browsers ignore the control
    characters and spaces a scheme may be split with, so they are removed before looking. An
    image may also be an embedded PNG, JPEG or GIF (how nbconvert renders an attachment)."""
    value = _INVISIBLE.sub("", value)
    if image and EMBEDDED_IMAGE.match(value):
        return True
    m = _SCHEME.match(value)
    return m is None or m.group(1).lower() in SAFE_PROTOCOLS


def unsafe_parts(html: str) -> list[str]:
    audit = _Audit()
    audit.feed(html)
    audit.close()
    return audit.unsafe


def clean_html(html: str) -> str:
    return bleach.clean(html, tags=SAFE_TAGS, attributes=SAFE_ATTRIBUTES, protocols=SAFE_PROTOCOLS,
                        strip=True, strip_comments=True)


def safe_markdown(source: str, attachments: dict | None = None) -> tuple[str, list[str]]:
    """(the markdown, or the cleaned HTML it renders to when that held anything unsafe; what was).
    Markdown that nbconvert cannot render (an attachment that is not there) is shown as text."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
    try:
        html = MarkdownWithMath(renderer=IPythonRenderer(escape=False, attachments=attachments or {})).render(source)
    except Exception as exc:
        return f"<pre>{_escape(source)}</pre>", [f"unrenderable markdown ({type(exc).__name__})"]
    unsafe = unsafe_parts(html)
    return (clean_html(html), unsafe) if unsafe else (source, [])


def _text(value) -> str:
    return value if isinstance(value, str) else "".join(map(str, value)) if isinstance(value, list) else str(value)


def _clean_output(out) -> bool:
    """Clean one output in place; True when something unsafe was in it."""
    data = out.get("data")
    if not isinstance(data, dict):
        return False
    found = False
    for mime in list(data):
        if mime in SAFE_OUTPUTS:
            continue
        if mime == "text/markdown":
            data[mime], unsafe = safe_markdown(_text(data[mime]))
            found |= bool(unsafe)
        elif mime in CLEANED_OUTPUTS:
            text = _text(data[mime])
            found |= bool(unsafe_parts(text))
            data[mime] = clean_html(text)
        else:
            del data[mime]
            found = True
    return found


def _clean_attachments(cell) -> bool:
    attachments = cell.get("attachments")
    if attachments is None:
        return False
    if not isinstance(attachments, dict):
        del cell["attachments"]
        return True
    found = False
    for name in list(attachments):
        bundle = attachments[name]
        if not isinstance(bundle, dict) or not bundle or not set(bundle) <= SAFE_ATTACHMENTS \
                or not all(isinstance(v, str) for v in bundle.values()):
            del attachments[name]
            found = True
    return found


def sanitize_notebook(nb) -> list[int]:
    """Make the notebook safe to render (see the module's docstring), in place; the indices of
    the cells that held something unsafe."""
    touched = []
    for index, cell in enumerate(nb.cells):
        found = _clean_attachments(cell)
        if cell.get("cell_type") == "markdown":
            cell.source, unsafe = safe_markdown(_text(cell.get("source", "")), cell.get("attachments"))
            found |= bool(unsafe)
        elif cell.get("cell_type") == "raw":
            found = bool(unsafe_parts(_text(cell.get("source", ""))))
            cell.source = clean_html(_text(cell.get("source", "")))
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            found |= _clean_output(out)
        tags = cell.get("metadata", {}).get("tags")
        if isinstance(tags, list):  # the templates write them into a class="..." attribute
            cell.metadata["tags"] = [t for t in tags if isinstance(t, str) and TAG.match(t)]
            found |= len(cell.metadata["tags"]) < len(tags)
        if found:
            touched.append(index)
    info = nb.metadata.get("language_info")
    if isinstance(info, dict):
        nb.metadata["language_info"] = {k: v for k, v in info.items()
                                        if isinstance(v, str) and PLAIN_NAME.match(v)}
    return touched
