"""Write each chapter's notebook (chapters/NAME.ipynb, the file Colab opens) from its page.

    python scripts/colab_notebooks.py            # (re)write every chapters/*.ipynb
    python scripts/colab_notebooks.py --check    # exit 1 if one is not what its page gives

The page, chapters/NAME.md (MyST Markdown), is the source; the notebook is generated, one way,
and committed (the student edition copies it). Outside the book nothing renders MyST, so the
notebook's Markdown says in plain words what the book's roles and directives show:

- {glue:text}`name` -> **⟨name⟩**: the set-up cell's glue() prints `name: value` under the
  cell that computes it, and a note at the top of the notebook says so;
- {cite:t}`key` -> Author et al. (2015); {cite:p}`key` -> (Author et al., 2015); the
  {bibliography} block -> the list of the works the page cites;
- {doc}`path` -> a link to that page of the published book (course.student_site);
- :::{admonition} Answer with :class: dropdown -> a collapsed <details> block.

Any other role or directive is an error, so that a new one is given a Colab form here.
"""
import argparse
import hashlib
import re
import sys
from pathlib import Path

import jupytext
import nbformat
import yaml
from pybtex.database import parse_file
from pybtex.plugin import find_plugin
from pybtex.richtext import Text

REPO = Path(__file__).resolve().parents[1]
CHAPTERS = REPO / "chapters"

GLUE = re.compile(r"\{glue(?::\w+)?\}`([^`:]+)(?::[^`]*)?`")
CITE = re.compile(r"\{cite(?::(t|p))?\}`([^`]+)`")
DOC = re.compile(r"\{doc\}`(?:([^`<]*?)\s*<([^`>]+)>|([^`]+))`")
BIBLIOGRAPHY = re.compile(r"^```\{bibliography\}[^\n]*\n(?:.*\n)*?```[ \t]*$", re.MULTILINE)
ADMONITION = re.compile(r"^:::\{admonition\}[ \t]*(.*)\n((?::\w+:.*\n)*)((?:.*\n)*?):::[ \t]*$",
                        re.MULTILINE)
LEFTOVER = re.compile(r"\{[a-z][\w:-]*\}`|^(?:```|:::)\{", re.MULTILINE)


def site_url() -> str:
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    site = config.get("course", {}).get("student_site")
    if not site:
        sys.exit("error: _config.yml has no course.student_site: the notebooks link to the book")
    return site.rstrip("/") + "/"


class Bibliography:
    def __init__(self, path: Path):
        self.entries = parse_file(str(path)).entries
        self.style = find_plugin("pybtex.style.formatting", "plain")()
        self.backend = find_plugin("pybtex.backends", "markdown")()

    def authors(self, key: str) -> str:
        entry = self.entry(key)
        names = [Text.from_latex(" ".join(person.last_names)).render_as("text")
                 for person in entry.persons.get("author", entry.persons.get("editor", []))]
        if len(names) > 2:
            return f"{names[0]} et al."
        return " and ".join(names)

    def entry(self, key: str):
        if key not in self.entries:
            sys.exit(f"error: the citation key {key!r} is not in references.bib")
        return self.entries[key]

    def cite(self, keys: list[str], textual: bool) -> str:
        if textual:
            return ", ".join(f"{self.authors(k)} ({self.entry(k).fields['year']})" for k in keys)
        return "(" + "; ".join(f"{self.authors(k)}, {self.entry(k).fields['year']}"
                               for k in keys) + ")"

    def references(self, keys: list[str]) -> str:
        ordered = sorted(set(keys), key=lambda k: (self.authors(k), self.entry(k).fields["year"]))
        formatted = self.style.format_entries([self.entry(k) for k in ordered])
        return "\n".join("- " + " ".join(item.text.render(self.backend).split())
                         for item in formatted)


def doc_title(target: Path) -> str:
    for suffix in (".md", ".ipynb"):
        path = target.with_suffix(suffix)
        if path.is_file():
            text = path.read_text(encoding="utf8")
            match = re.search(r"^#\s+(.+?)\s*$", text if suffix == ".md" else "\n".join(
                cell.source for cell in nbformat.reads(text, as_version=4).cells
                if cell.cell_type == "markdown"), re.MULTILINE)
            if match:
                return match.group(1)
    sys.exit(f"error: {{doc}} points at {target}, which has no page with a title")


def colab_markdown(source: str, page: Path, bib: Bibliography, site: str, cited: list[str]) -> str:
    """The cell's MyST Markdown as plain Markdown that reads well in Colab."""
    def bibliography(_):
        return bib.references(cited) if cited else ""

    def admonition(match):
        title, options, body = match.group(1).strip() or "Note", match.group(2), match.group(3)
        if "dropdown" in options:
            return f"<details>\n<summary>{title}</summary>\n\n{body.strip()}\n\n</details>"
        return "\n".join([f"> **{title}**", ">"] + [f"> {line}".rstrip()
                                                    for line in body.strip().splitlines()])

    def doc(match):
        text, target = (match.group(1), match.group(2)) if match.group(2) else (None, match.group(3))
        path = (page.parent / target).resolve()
        relative = path.relative_to(REPO).as_posix()
        return f"[{text or doc_title(path)}]({site}{relative}.html)"

    text = BIBLIOGRAPHY.sub(bibliography, source)
    text = ADMONITION.sub(admonition, text)
    text = GLUE.sub(lambda m: f"**⟨{m.group(1).strip()}⟩**", text)
    text = CITE.sub(lambda m: bib.cite([k.strip() for k in m.group(2).split(",")],
                                       textual=m.group(1) == "t"), text)
    text = DOC.sub(doc, text)
    leftover = LEFTOVER.search(text)
    if leftover:
        line = text[:leftover.start()].count("\n")
        sys.exit(f"error: {page.name}: no Colab form for the MyST syntax "
                 f"{text.splitlines()[line].strip()!r}: add one to {Path(__file__).name}")
    return text


def reading_note(page: Path, glued: list[str], site: str) -> str:
    lines = [f"**In Colab or Jupyter.** This notebook is the page [{doc_title(page.with_suffix(''))}]"
             f"({site}chapters/{page.stem}.html) of the book *Training Deep Neural Networks*, "
             "where every output is shown in place."]
    if glued:
        lines.append(f"Here the text names each number that the notebook computes, in bold "
                     f"and in angle brackets, such as **⟨{glued[0]}⟩**: run the cells from the "
                     f"top, and the cell that computes a number prints it "
                     f"(`{glued[0]}: ...`).")
    lines.append("By default the notebook runs the book's full experiments; for a short run "
                 "(smaller data, fewer epochs), first run `%env COURSE_PROFILE=quick` in a new "
                 "cell above the set-up cell.")
    return "\n".join("> " + line for line in lines)


def cell_id(cell, taken: set) -> str:
    """Stable across runs: from the cell's content (and its position when two are equal)."""
    digest = hashlib.sha1(f"{cell.cell_type}\0{cell.source}".encode()).hexdigest()[:8]
    while digest in taken:
        digest = hashlib.sha1(digest.encode()).hexdigest()[:8]
    taken.add(digest)
    return digest


def colab_notebook(page: Path, bib: Bibliography, site: str) -> nbformat.NotebookNode:
    text = page.read_text(encoding="utf8")
    notebook = jupytext.reads(text, fmt="md:myst")
    prose = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    cited = [key.strip() for match in CITE.finditer(prose) for key in match.group(2).split(",")]
    glued = list(dict.fromkeys(match.group(1).strip() for match in GLUE.finditer(prose)))
    cells = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            cell = nbformat.v4.new_markdown_cell(colab_markdown(cell.source, page, bib, site, cited))
        else:
            metadata = {k: v for k, v in cell.metadata.items() if k in ("tags", "mystnb")}
            cell = nbformat.v4.new_code_cell(cell.source, metadata=metadata)
        cells.append(cell)
        if index == 0:
            cells.append(nbformat.v4.new_markdown_cell(reading_note(page, glued, site)))
    taken = set()
    for cell in cells:
        cell.id = cell_id(cell, taken)
    return nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; fail if a notebook is not what its page gives")
    parser.add_argument("pages", nargs="*", type=Path, help="default: every chapters/*.md")
    args = parser.parse_args(argv)
    bib, site = Bibliography(REPO / "references.bib"), site_url()
    stale = []
    for page in args.pages or sorted(CHAPTERS.glob("*.md")):
        page = page.resolve()
        target = page.with_suffix(".ipynb")
        wanted = nbformat.writes(colab_notebook(page, bib, site)) + "\n"
        current = target.read_text(encoding="utf8") if target.exists() else None
        if current != wanted:
            stale.append(target.relative_to(REPO).as_posix())
            if not args.check:
                target.write_text(wanted, encoding="utf8")
    if args.check and stale:
        sys.exit("error: out of date (run python scripts/colab_notebooks.py): " + ", ".join(stale))
    print(f"{'stale' if args.check else 'written'}: {len(stale)} notebook(s)"
          + (f": {', '.join(stale)}" if stale else ""))


if __name__ == "__main__":
    main()
