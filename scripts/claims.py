"""Claims on the book's pages: the sentences that compare our results, and the checks behind them.

    python scripts/claims.py scan [chapters/NAME.md ...]   # comparative sentences left unchecked
    python scripts/claims.py gather RESULTS_DIR            # RESULTS_DIR/claims/*.csv -> claims.csv

A page checks a sentence of its prose with `claim(name, holds, **data)` (its set-up cell defines
it; CONTRIBUTING.md, "How claims work") and marks the sentence with an HTML comment just before
it, invisible in the book and in Colab:

    <!-- claim: bn_ahead_at_20 --> With BN the deep network ends ahead of the plain one.
    <!-- about: paper --> The paper reports 91.9% accuracy in 100 epochs.

`scan` lists every prose sentence that holds a comparative or directional word (COMPARATIVE)
outside a glued value and has neither marker; a sentence whose comparison is glued from the data
({glue:text}`name` holding "ahead by 2.1 points (...)") has no such word left in the prose.
`gather` joins the claims each executed page wrote into RESULTS_DIR/claims.csv and prints the
false ones; build-book.sh runs it after the pages, and a full build fails on a false claim in
the page itself (a cell error), a quick build only reports it.
"""
import argparse
import csv
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Words that compare, rank or give a direction. A sentence holding one outside a glued value
# must be checked (a claim marker) or say what it is about (theory, a paper, Keras' API, advice).
COMPARATIVE = re.compile(r"""\b(
    better|worse|best|worst|faster|fastest|slower|slowest|quicker|quickest
  | higher|highest|lower|lowest|larger|largest|smaller|smallest|bigger|biggest
  | greater|greatest|more|most|less|least|fewer|fewest
  | beats?|beaten|beating|trails?|trailed|trailing|leads?|leading|ahead|behind
  | outperform\w*|underperform\w*|wins?|won|winning|loses?|losing
  | exceeds?|exceeded|exceeding|surpass\w*|improve[sd]?|improving|improvement
  | hurts?|hurting|helps?|helped|helping
  | grows?|grew|grown|growing|shrinks?|shrank|shrunk|shrinking|rises?|rose|risen|rising
  | falls?|fell|fallen|falling
  | drops?|dropped|increases?|increased|decreases?|decreased|doubles?|doubled|halves|halved
  | vanish\w*|explod\w*|collapses?|collapsed
  | similar|comparable|ties?|tied
  | noise|noisy|clear(?:ly)?|significant(?:ly)?
)\b|\d(?:[\d.,]*)(?:×|x\b)|\btimes\s+(?:as|faster|slower|larger|smaller|more|less|higher|lower)\b""",
    re.IGNORECASE | re.VERBOSE)

ABOUT_KINDS = {"theory", "paper", "keras", "advice"}
MARKER = re.compile(r"<!--\s*(claim|about):\s*(.*?)\s*-->", re.DOTALL)
ANY_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)

# Inline MyST and Markdown, as the scan reads it: glued values and code are not prose.
_INLINE = [
    (re.compile(r"\{glue(?::\w+)?\}`[^`]*`"), "VALUE"),
    (re.compile(r"\{cite:t\}`[^`]*`"), "AUTHORS"),
    (re.compile(r"\{cite(?::p)?\}`[^`]*`"), ""),
    (re.compile(r"\{doc\}`([^`<]*?)\s*(?:<[^`]*>)?`"), r"\1"),
    (re.compile(r"\{\w+\}`([^`]*)`"), r"\1"),
    (re.compile(r"``?[^`]+``?"), "CODE"),
    (re.compile(r"\$\$.*?\$\$|\$[^$]+\$", re.DOTALL), "MATH"),
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),
]
# Where a sentence does not end: abbreviations followed by a full stop.
_NO_END = re.compile(r"(?:\b(?:e\.g|i\.e|et al|vs|cf|approx|Fig|Eq|Sec|Ch|ed|eds|No|p|pp))\.$")
_SENTENCE_END = re.compile(r"(?<=[.!?])[)*_\"']*\s+(?=[\"'(*_\[]*[A-Z0-9{$<`])")


@dataclass
class Sentence:
    page: str
    line: int             # where the sentence starts in the page
    source: str           # as written, whitespace collapsed (the allowlist's key)
    claims: list = field(default_factory=list)   # names from <!-- claim: a, b -->
    about: list = field(default_factory=list)    # kinds from <!-- about: theory -->

    @property
    def prose(self) -> str:
        """The sentence without its glued values, code, math and citations."""
        text = ANY_COMMENT.sub(" ", self.source)
        for pattern, replacement in _INLINE:
            text = pattern.sub(replacement, text)
        return " ".join(text.replace("**", "").split())

    @property
    def comparative_words(self) -> list[str]:
        return [match.group(0) for match in COMPARATIVE.finditer(self.prose)]

    @property
    def is_question(self) -> bool:
        return self.prose.rstrip(" )*_\"'").endswith("?")

    @property
    def unchecked(self) -> bool:
        """Compares or gives a direction, yet is neither checked, nor marked, nor a question."""
        return bool(self.comparative_words) and not (self.claims or self.about
                                                      or self.is_question)


def _paragraphs(text: str):
    """(first line number, lines) of each prose block: code cells, math and bibliographies,
    headings, tables, directive headers and jupytext's cell breaks are left out."""
    lines = text.splitlines()
    block, start, fence, math_end = [], 0, None, None
    index = 0
    if lines and lines[0].strip() == "---":  # front matter
        index = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), 0) + 1
    for number in range(index, len(lines)):
        line = lines[number]
        stripped = line.strip()
        if fence:
            if stripped == fence:
                fence = None
            continue
        if math_end:
            if (stripped.endswith("$$") if math_end == "$$" else stripped.startswith(math_end)):
                math_end = None
            continue
        opening = re.match(r"^(`{3,}|~{3,})", stripped)
        breaks = (not stripped or opening or stripped.startswith(("#", "|", "+++", ":::", "$$"))
                  or re.match(r"^:\w+:", stripped) or re.match(r"^\([\w-]+\)=$", stripped)
                  or stripped.startswith("\\begin{"))
        if opening:
            fence = opening.group(1)
        elif stripped.startswith("$$") and not (len(stripped) > 2 and stripped.endswith("$$")):
            math_end = "$$"
        elif stripped.startswith("\\begin{"):
            math_end = "\\end{" + stripped[len("\\begin{"):].split("}")[0] + "}"
        if breaks or re.match(r"^\s*(?:[-*+]|\d+\.)\s", line):
            if block:
                yield start, block
            block, start = [], number + 1
            if breaks:
                continue
        if not block:
            start = number + 1
        block.append(line)
    if block:
        yield start, block


def sentences(text: str, page: str = "") -> list[Sentence]:
    """Every prose sentence of a MyST page, with the markers placed just before it."""
    found = []
    for first_line, block in _paragraphs(text):
        joined = "\n".join(block)
        pieces, begin = [], 0
        for match in _SENTENCE_END.finditer(joined):
            if _NO_END.search(joined[begin:match.start()]):
                continue
            pieces.append((begin, joined[begin:match.start()]))
            begin = match.end()
        pieces.append((begin, joined[begin:]))
        pending = []   # markers that stand before the next sentence
        for offset, piece in pieces:
            # A marker at the end of a piece belongs to the next sentence.
            body = piece
            trailing = []
            while True:
                match = re.search(r"<!--.*?-->\s*$", body, re.DOTALL)
                if not match:
                    break
                trailing.insert(0, match.group(0))
                body = body[:match.start()]
            leading = []
            bullet = re.match(r"^\s*(?:[-*+]|\d+\.)\s+", body)  # a list item's marker
            if bullet:
                body = body[bullet.end():]
            while True:
                match = re.match(r"^\s*(<!--.*?-->)", body, re.DOTALL)
                if not match:
                    break
                leading.append(match.group(1))
                body = body[match.end():]
            markers = pending + leading
            pending = trailing
            source = " ".join(body.split())
            if not source:
                pending = markers + pending
                continue
            sentence = Sentence(page, first_line + joined.count("\n", 0, offset), source)
            for marker in markers:
                for kind, value in MARKER.findall(marker):
                    names = [name.strip() for name in value.split(",") if name.strip()]
                    (sentence.claims if kind == "claim" else sentence.about).extend(names)
            found.append(sentence)
    return found


def unchecked_sentences(path: Path) -> list[Sentence]:
    return [s for s in sentences(path.read_text(encoding="utf8"), path.stem) if s.unchecked]


# claim("name", ...) or claim(f"gain_{key}", ...) in a page's code cells.
_CLAIM_CALL = re.compile(r"\bclaim\(\s*(f?)([\"'])(.*?)\2")


def claims_made(text: str) -> list[re.Pattern]:
    """The claim names a page's code can make, as patterns (an f-string's fields match any text)."""
    code = "\n".join(re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL))
    patterns = []
    for is_f, _, name in _CLAIM_CALL.findall(code):
        if is_f:
            parts = re.split(r"\{[^}]*\}", name)
            patterns.append(re.compile(".+".join(re.escape(part) for part in parts) + r"\Z"))
        else:
            patterns.append(re.compile(re.escape(name) + r"\Z"))
    return patterns


def marker_problems(path: Path) -> list[str]:
    """Claim markers that name no claim of the page, and about-markers of an unknown kind."""
    text = path.read_text(encoding="utf8")
    made = claims_made(text)
    problems = []
    for sentence in sentences(text, path.stem):
        for name in sentence.claims:
            if not any(pattern.match(name) for pattern in made):
                problems.append(f"{path.name}:{sentence.line}: <!-- claim: {name} --> names no "
                                f"claim(...) made by the page's code")
        for kind in sentence.about:
            if kind not in ABOUT_KINDS:
                problems.append(f"{path.name}:{sentence.line}: <!-- about: {kind} -->: the kind "
                                f"must be one of {sorted(ABOUT_KINDS)}")
    return problems


CLAIM_COLUMNS = ["page", "claim", "holds", "data", "profile", "backend", "commit"]


def gather(results_dir: Path) -> list[dict]:
    """Join RESULTS_DIR/claims/<page>.csv into RESULTS_DIR/claims.csv; return the rows."""
    rows = []
    for path in sorted((results_dir / "claims").glob("*.csv")):
        with path.open(newline="", encoding="utf8") as handle:
            rows += list(csv.DictReader(handle))
    with (results_dir / "claims.csv").open("w", newline="", encoding="utf8") as handle:
        writer = csv.DictWriter(handle, CLAIM_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return rows


def is_false(row: dict) -> bool:
    return str(row.get("holds", "")).strip().lower() not in {"true", "1"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    scan = commands.add_parser("scan", help="list comparative sentences that nothing checks")
    scan.add_argument("pages", nargs="*", type=Path)
    gathered = commands.add_parser("gather", help="join the pages' claims into claims.csv")
    gathered.add_argument("results_dir", type=Path)
    args = parser.parse_args(argv)
    if args.command == "scan":
        pages = args.pages or sorted((REPO / "chapters").glob("*.md"))
        total = 0
        for page in pages:
            for sentence in unchecked_sentences(page):
                total += 1
                words = ", ".join(dict.fromkeys(w.lower() for w in sentence.comparative_words))
                print(f"{page.name}:{sentence.line}: [{words}] {sentence.source}")
        print(f"{total} comparative sentence(s) with no claim or about marker", file=sys.stderr)
        return
    rows = gather(args.results_dir)
    false = [row for row in rows if is_false(row)]
    print(f"claims: {len(rows)} checked, {len(rows) - len(false)} true, {len(false)} false "
          f"-> {args.results_dir / 'claims.csv'}")
    for row in false:
        print(f"  FALSE ({row['profile']} profile): {row['page']}: {row['claim']}: {row['data']}")


if __name__ == "__main__":
    main()
