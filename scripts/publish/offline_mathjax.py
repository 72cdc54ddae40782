"""Sphinx extension: the book serves MathJax itself, so its math renders without a network.

`_config.yml` sets `mathjax_path: mathjax/tex-mml-chtml.js` (relative to the site's `_static/`);
this extension copies MathJax 3 there from the pinned PyPI package `django-static-mathjax`
(plain static files: it needs no Django). Loaded through `sphinx.local_extensions`.
"""
import importlib.util
import shutil
from importlib.metadata import version
from pathlib import Path

from sphinx.errors import ExtensionError

# The combined TeX component, and what it loads on demand relative to itself: TeX extensions,
# the CHTML fonts, the menu and the accessibility modules.
PARTS = ("tex-mml-chtml.js", "input", "output", "ui", "a11y", "sre", "adaptors")
MATHJAX_PATH = "mathjax/tex-mml-chtml.js"


def mathjax_build() -> Path:
    """The `es5/` folder (MathJax's browser build) of the installed package."""
    spec = importlib.util.find_spec("mathjax")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        es5 = Path(folder) / "static" / "mathjax" / "es5"
        if (es5 / "tex-mml-chtml.js").is_file():
            return es5
    raise ExtensionError("offline_mathjax: MathJax not found; install the pinned "
                         "django-static-mathjax (pip install -r requirements.txt)")


def check_mathjax_path(app, config):
    """Fail early when mathjax_path does not name a file this extension provides."""
    if config.mathjax_path != MATHJAX_PATH:
        raise ExtensionError(f"offline_mathjax: set mathjax_path to {MATHJAX_PATH!r} (the copy "
                             f"this extension serves), not {config.mathjax_path!r}")
    mathjax_build()


def copy_mathjax(app, exception):
    """Copy MathJax into the built site's _static/, where mathjax_path points."""
    if exception is not None or app.builder.format != "html":
        return
    source = mathjax_build()
    target = Path(app.outdir) / "_static" / Path(MATHJAX_PATH).parent
    stamp, origin = target / ".version", f"django-static-mathjax {version('django-static-mathjax')}"
    if stamp.is_file() and stamp.read_text() == origin:
        return  # copied by an earlier build (the stamp is written last)
    target.mkdir(parents=True, exist_ok=True)
    for part in PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, dirs_exist_ok=True)
        else:
            shutil.copy2(source / part, target / part)
    shutil.copy2(source.parent / "LICENSE", target / "LICENSE")
    stamp.write_text(origin)


def setup(app):
    app.connect("config-inited", check_mathjax_path)
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
