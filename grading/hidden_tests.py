"""The feedback preprocessor that removes hidden tests from the notebooks students get back.

nbgrader's autograde step restores the instructor's test cells, hidden tests included, so the
feedback HTML would otherwise show them, and a failing hidden test would print a traceback that
quotes its code. `StripHiddenTests` removes the hidden regions (nbgrader's own `ClearHiddenTests`
logic) and, in every cell that had hidden tests, shortens error outputs to `ename: evalue`.
Listed in `c.GenerateFeedback.preprocessors` in nbgrader_config.py.
"""
from nbgrader.preprocessors import ClearHiddenTests


class StripHiddenTests(ClearHiddenTests):
    """ClearHiddenTests for feedback, plus error outputs cut down to their last line."""

    def preprocess_cell(self, cell, resources, cell_index):
        had_hidden = False
        if cell.cell_type == "code":
            had_hidden = self.begin_test_delimeter in cell.source
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if had_hidden:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    summary = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
                    output["traceback"] = [summary]
        return cell, resources
