"""CSV for spreadsheets: files an instructor opens written safely, rosters read as spreadsheets save them.

Writing. A spreadsheet program runs a cell that starts with `=`, `+`, `-` or `@` (or a tab or a
carriage return, which it skips first) as a formula, and students choose text that reaches our
files: their LMS display name, the names of the files they hand in. Following OWASP's "CSV
Injection" guidance, every such text cell gets a leading single quote, which makes the program show
it as text (`safe_cell`). A cell that is a number (an int or float, or text that is exactly a
decimal number such as "-1.5" or "+2") is left alone: a spreadsheet reads it as that number, not
as a formula, and the LMS imports must see the number. `csv_text`, `write_csv` and `safe_frame`
(pandas) apply it to every cell. An identifier that an LMS matches on is never altered: one that
starts with one of those characters is refused (`check_id`), since a quoted id would no longer
match and an unquoted one could run.

Byte-order mark: Excel reads a CSV without one in the computer's legacy code page, so non-ASCII
names come out garbled; with one it reads UTF-8. Moodle's CSV import strips it
(`csv_import_reader::load_csv_content`), Canvas's gradebook import finds its header with
`include?("Student")`, which the mark before it does not break. `write_csv(..., bom=True)`.

Reading (`read_roster`). UTF-8 with or without a BOM, UTF-16 with a BOM (Excel's "Unicode text"),
else Windows-1252 (the superset of Latin-1 that Excel writes on Western systems), said in a note;
separators `,`, `;` (Excel in locales with a decimal comma) or tab, and Excel's `sep=;` first line.
Anything else (a workbook, a file in another encoding, a missing column, a row of the wrong
length, an id listed twice) is a `RosterError` whose message says what to do; never a traceback.
"""
from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
DELIMITERS = (",", ";", "\t")
BOM = "\ufeff"


class RosterError(ValueError):
    """A roster that cannot be read as it is; the message says why and what to do."""


class UnsafeValue(ValueError):
    """An identifier that a spreadsheet would run as a formula."""


# ------------------------------------------------------------------------------ writing
def is_number(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, str) and bool(_NUMBER.fullmatch(value))


def safe_cell(value):
    """The cell as a spreadsheet should show it: text that would start a formula gets a leading
    single quote; numbers (and text that is exactly a number) and empty cells stay as they are."""
    if value is None or is_number(value) or not isinstance(value, str):
        return value
    return "'" + value if value.startswith(FORMULA_START) else value


def check_id(value: str, what: str) -> str:
    """`value` unchanged, or UnsafeValue when a spreadsheet would run it as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        raise UnsafeValue(f"{what} {value!r} starts with {value[0]!r}: refused, a spreadsheet would run "
                          "it as a formula (an LMS id never starts with = + - @, a tab or a carriage return)")
    return value


def csv_text(rows) -> str:
    """The rows as CSV text (`\\n` line ends), every cell through `safe_cell`."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return buf.getvalue()


def write_csv(path: Path, rows_or_text, bom: bool = False) -> None:
    """Write rows (or text from `csv_text`) to `path` atomically, in UTF-8, with a BOM if asked."""
    text = rows_or_text if isinstance(rows_or_text, str) else csv_text(rows_or_text)
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=path.name + ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def safe_frame(frame):
    """A copy of a pandas DataFrame with every text cell through `safe_cell` (numeric columns are
    untouched), for `frame.to_csv(...)`: the column names too."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or str(out[column].dtype) in ("string", "str"):
            out[column] = out[column].map(safe_cell)
    out.columns = [safe_cell(str(c)) for c in out.columns]
    return out


# ------------------------------------------------------------------------------ reading
@dataclass
class Roster:
    """A roster: its columns (header order) and key -> row (every column, stripped text)."""
    path: str
    columns: list[str]
    rows: dict[str, dict] = field(default_factory=dict)
    encoding: str = "utf-8"
    delimiter: str = ","
    notes: list[str] = field(default_factory=list)


def decode(data: bytes, name: str, encoding: str | None = None) -> tuple[str, str, list[str]]:
    """(text, encoding used, notes) of a text file a spreadsheet may have saved."""
    if encoding:
        try:
            return data.decode(encoding), encoding, []
        except (UnicodeDecodeError, LookupError) as exc:
            raise RosterError(f"{name}: cannot be read as {encoding}: {exc}") from None
    if data[:4] == b"PK\x03\x04" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise RosterError(f"{name} is a spreadsheet workbook, not a CSV file: save it as "
                          "\"CSV UTF-8 (comma delimited)\"")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16").lstrip(BOM), "utf-16", []
    try:
        return data.decode("utf-8-sig"), "utf-8", []
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise RosterError(f"{name} is not UTF-8 (byte {first_bad}) nor Windows-1252/Latin-1: save it "
                          "as \"CSV UTF-8\", or name its encoding (--roster-encoding)") from None
    if "\x00" in text:
        raise RosterError(f"{name} holds NUL bytes: not a text file (save it as \"CSV UTF-8\")")
    return text, "cp1252", [f"{name} is not UTF-8: read as Windows-1252 (Latin-1); if names look "
                            "wrong, save it as \"CSV UTF-8\" or pass its encoding (--roster-encoding)"]


def _sniff(lines: list[str], key: str) -> str | None:
    """The separator whose header row has the key column (several: the one that splits most)."""
    header = lines[0] if lines else ""
    found = []
    for delimiter in DELIMITERS:
        cells = [c.strip() for c in next(csv.reader([header], delimiter=delimiter), [])]
        if key in cells:
            found.append((len(cells), delimiter))
    return max(found)[1] if found else None


def read_roster(path: Path, key: str = "student_id", encoding: str | None = None) -> Roster:
    """The roster at `path`: a header row with a `key` column, one row per student (rows with an
    empty key are skipped). RosterError for anything it cannot read as such."""
    path = Path(path)
    name = path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RosterError(f"roster {path}: {exc.strerror or exc}") from None
    text, used, notes = decode(data, name, encoding)
    lines = text.splitlines()
    delimiter = None
    sep = re.fullmatch(r"\s*sep=(.)\s*", lines[0]) if lines else None
    if sep:  # Excel's hint line: the separator, then the header
        delimiter, lines = sep.group(1), lines[1:]
        text = "\n".join(lines)
    if not any(line.strip() for line in lines):
        raise RosterError(f"{name} is empty: it needs a header row with a `{key}` column and one row "
                          "per student")
    delimiter = delimiter or _sniff(lines, key)
    if delimiter is None:
        header = lines[0].strip()[:200]
        raise RosterError(f"{name} has no column '{key}' (its first row: {header!r}); the roster needs "
                          f"a header row with a `{key}` column (the course's student ids) and the "
                          "LMS ids")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        table = list(reader)
    except csv.Error as exc:
        raise RosterError(f"{name} line {reader.line_num}: {exc}") from None
    columns = [c.strip() for c in table[0]]
    dupes = sorted({c for c in columns if c and columns.count(c) > 1})
    if dupes:
        raise RosterError(f"{name}: the header names {', '.join(map(repr, dupes))} twice")
    roster = Roster(str(path), columns, {}, used, delimiter, notes)
    twice = []
    for number, cells in enumerate(table[1:], start=2):
        if not any(c.strip() for c in cells):
            continue  # blank line (spreadsheets add some at the end)
        if len(cells) != len(columns):
            raise RosterError(f"{name} line {number}: {len(cells)} fields, the header has "
                              f"{len(columns)} (a `{delimiter}` inside a name must be in double quotes)")
        row = {c: v.strip() for c, v in zip(columns, cells) if c}
        sid = row.get(key, "")
        if not sid:
            continue
        if sid in roster.rows:
            twice.append(sid)
        roster.rows[sid] = row
    if twice:
        raise RosterError(f"{name}: {key}s listed twice: {', '.join(sorted(set(twice)))}")
    if not roster.rows:
        raise RosterError(f"{name} has no students (no row with a `{key}`)")
    return roster
