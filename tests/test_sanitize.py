"""What of a graded notebook may render as live HTML (grading/sanitize.py), without a browser;
tests/test_robust_batch.py opens the pages in Chromium."""
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from grading.sanitize import safe_markdown, safe_url, sanitize_notebook, unsafe_parts


@pytest.mark.parametrize("source", [
    "[x](javascript:alert(1))", "<javascript:alert(1)>", "[x](JaVaScRiPt:alert(1))",
    '<a href="jav&#x09;ascript:alert(1)">x</a>', "![i](javascript:alert(1))",
    "<img src=x onerror=alert(1)>", "<svg onload=alert(1)></svg>", "<script>alert(1)</script>",
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>', '<a href="data:text/html,<script>">x</a>',
    '<div style="background:url(javascript:alert(1))">x</div>', "<form action=x><button>x</button></form>"])
def test_live_markdown_becomes_inert_html(source):
    cleaned, unsafe = safe_markdown(source)
    assert unsafe and not unsafe_parts(cleaned), (cleaned, unsafe)
    assert "javascript" not in cleaned.lower().replace("javascript:alert(1)</a>", "") or "<a>" in cleaned


@pytest.mark.parametrize("source", [
    "# Title\n\nText with **bold**, `code < x`, $a < b$ and $$\\int_0^1 x\\,dx$$.",
    "> a quote\n\n- a\n- b\n\n| a | b |\n|---|---|\n| 1 | 2 |",
    "[a link](https://keras.io) and <https://example.org>, ![fig](figure.png)",
    "<details><summary>More</summary>hidden text</details>"])
def test_an_honest_students_markdown_is_unchanged(source):
    assert safe_markdown(source) == (source, [])


def test_outputs_tags_and_language_info():
    nb = new_notebook(cells=[new_markdown_cell("<script>x</script>ok"), new_code_cell("1")],
                      metadata={"language_info": {"name": "python", "pygments_lexer": 'x"><script>'}})
    nb.cells[1].outputs = [new_output("display_data", data={
        "text/html": "<b>b</b><img src=x onerror=alert(1)>", "text/plain": "p",
        "application/javascript": "alert(1)", "image/svg+xml": "<svg onload=alert(1)/>"})]
    nb.cells[1].metadata["tags"] = ["fine", 'x" onclick="alert(1)']
    assert sanitize_notebook(nb) == [0, 1]
    assert nb.cells[0].source.strip() == "x\nok" or "script" not in nb.cells[0].source
    data = nb.cells[1].outputs[0].data
    assert set(data) == {"text/html", "text/plain"} and "onerror" not in data["text/html"]
    assert nb.cells[1].metadata["tags"] == ["fine"]
    assert nb.metadata["language_info"] == {"name": "python"}
    nbformat.validate(nb)


def test_urls():
    assert safe_url("https://x") and safe_url("#anchor") and safe_url("fig.png")
    assert not safe_url(" java\tscript:x") and not safe_url("vbscript:x") and not safe_url("data:text/html,x")


PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
       "rkJggg==")


def test_attachments_an_image_stays_anything_else_goes():
    nb = new_notebook(cells=[new_markdown_cell("![fig](attachment:fig.png)"),
                             new_markdown_cell("![s](attachment:s.svg)"),
                             new_markdown_cell("![gone](attachment:nothing.png)")])
    nb.cells[0].attachments = {"fig.png": {"image/png": PNG}}
    nb.cells[1].attachments = {"s.svg": {"image/svg+xml": "<svg onload=alert(1)/>"}}
    assert sanitize_notebook(nb) == [1, 2]
    assert nb.cells[0].source == "![fig](attachment:fig.png)" and nb.cells[0].attachments
    assert nb.cells[1].attachments == {} and "svg" not in nb.cells[1].source.replace("s.svg", "")
    assert nb.cells[2].source.startswith("<pre>")  # shown as text: nbconvert could not render it
    from nbconvert import HTMLExporter
    HTMLExporter().from_notebook_node(nb)  # the page renders
